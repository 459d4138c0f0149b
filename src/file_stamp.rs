//! How the exporter notices that a file it read has changed, as exporter-toolkit does for its web
//! config: at each use, compare the file's metadata with what it was when the file was read, and
//! read it again when anything differs. Used for the web config and the files it names, and for
//! credential files ([`crate::credentials`]).
//!
//! Metadata, not content: a `stat` costs microseconds, so it can run on every request. Inode and
//! change time catch a file replaced by a rename (a Kubernetes Secret update swaps a symlink;
//! metadata follows it) even when size and modification time stay the same.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a file's metadata says about its content: a change of any field means "re-read".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    identity: (u64, u64, i64, i64),
}

/// The file's stamp now; `None` when it cannot be read (missing, no permission).
pub fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        #[cfg(unix)]
        identity: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        },
    })
}

/// Files and their stamps as they were when read. Take a stamp before reading the file, so a
/// file that changes while it is read is seen as changed at the next look.
pub type Stamps = Vec<(PathBuf, Option<Stamp>)>;

/// Whether any of the files changed since its stamp was taken.
pub fn changed(stamps: &Stamps) -> bool {
    stamps.iter().any(|(path, seen)| stamp(path) != *seen)
}
