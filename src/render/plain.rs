//! A plain cadence part that lives only while it is sent.
//!
//! At 10,000 cadences a plain part is about 11 MiB and its gzip form about half a MiB.
//! Prometheus asks for gzip, so a large plain part is kept only as its gzip form and inflated
//! when a client asks for it plain; the inflated bytes live exactly as long as some response
//! still holds them, so concurrent and back-to-back plain scrapes share one inflation, and once
//! nobody scrapes plain the megabytes go back to the system.

use crate::render::gzip::{exact_bytes, gunzip};
use bytes::Bytes;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Plain parts up to this size are kept as they are: inflating them would save little memory.
pub(crate) const EAGER_PLAIN_MAX: usize = 1024 * 1024;

/// A plain cadence part: kept as it is when small, else inflated on demand from its gzip form.
#[derive(Debug, Default)]
pub(crate) struct PlainPart {
    gzip: Bytes,
    /// A small part, kept as it is: inflating it would save little memory.
    kept: Option<Bytes>,
    /// The inflation of a large part, while any response holds it. The std mutex is held only to
    /// upgrade or replace this reference, never while inflating: the inflation itself runs in
    /// the [`OnceLock`], which a plain scrape arriving meanwhile waits on, to share its result
    /// rather than inflate a copy of its own.
    shared: Mutex<Weak<Inflation>>,
}

/// The inflated bytes of a large plain part, filled once by the first scrape that needs them.
type Inflation = OnceLock<Vec<u8>>;

/// Owner of inflated plain bytes inside a [`Bytes`]: the bytes are freed when the last
/// response holding them is sent.
struct InflatedPlain(Arc<Inflation>);

impl AsRef<[u8]> for InflatedPlain {
    fn as_ref(&self) -> &[u8] {
        self.0.get().expect("filled before it is handed out")
    }
}

impl PlainPart {
    /// `plain` is the plain text when it is small enough to keep as it is.
    pub(crate) fn new(plain: Option<String>, gzip: &Bytes) -> PlainPart {
        PlainPart {
            gzip: gzip.clone(),
            kept: plain.map(exact_bytes),
            shared: Mutex::new(Weak::new()),
        }
    }

    /// The plain bytes: kept, still held by a response in flight, or inflated now.
    pub(crate) fn bytes(&self) -> Bytes {
        if let Some(kept) = &self.kept {
            return kept.clone();
        }
        let inflation = {
            let mut shared = self.shared.lock().expect("plain part lock");
            shared.upgrade().unwrap_or_else(|| {
                let inflation = Arc::new(Inflation::new());
                *shared = Arc::downgrade(&inflation);
                inflation
            })
        };
        inflation.get_or_init(|| gunzip(&self.gzip));
        Bytes::from_owner(InflatedPlain(inflation))
    }

    /// Whether inflated bytes are alive now, for the tests of the memory behaviour.
    #[cfg(test)]
    pub(crate) fn is_inflated(&self) -> bool {
        self.kept.is_some() || self.shared.lock().expect("plain part lock").strong_count() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::gzip::{gzip_with, CADENCE_GZIP_LEVEL, LIVE_GZIP_LEVEL};

    #[test]
    fn a_large_plain_part_is_kept_gzipped_and_inflated_only_while_a_response_holds_it() {
        let line = "zoho_crm_cadence_active{org=\"acme\",id=\"1\",name=\"x\",module=\"Leads\"} 1\n";
        let plain = line.repeat(EAGER_PLAIN_MAX / line.len() + 10);
        let gzip = gzip_with(plain.as_bytes(), CADENCE_GZIP_LEVEL);
        let part = PlainPart::new(None, &gzip);
        assert!(!part.is_inflated(), "not inflated before use");
        let first = part.bytes();
        assert_eq!(&first[..], plain.as_bytes());
        let second = part.bytes();
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "scrapes in flight share one inflation"
        );
        drop((first, second));
        assert!(
            !part.is_inflated(),
            "freed once no response holds the bytes"
        );
        assert_eq!(
            &part.bytes()[..],
            plain.as_bytes(),
            "inflated again on demand"
        );
        let small = PlainPart::new(
            Some(line.to_owned()),
            &gzip_with(line.as_bytes(), LIVE_GZIP_LEVEL),
        );
        assert!(small.is_inflated(), "a small part is kept plain");
        assert_eq!(&small.bytes()[..], line.as_bytes());
        assert!(PlainPart::default().bytes().is_empty());
    }

    #[test]
    fn the_lock_is_free_while_a_part_inflates() {
        let line = "zoho_crm_cadence_active{org=\"acme\",id=\"1\",name=\"x\",module=\"Leads\"} 1\n";
        let plain = line.repeat(EAGER_PLAIN_MAX / line.len() + 10);
        let part = PlainPart::new(None, &gzip_with(plain.as_bytes(), CADENCE_GZIP_LEVEL));
        // An inflation under way, as another scrape's would be: the lock is not held by it.
        let inflation = {
            let mut shared = part.shared.lock().unwrap();
            let inflation = Arc::new(Inflation::new());
            *shared = Arc::downgrade(&inflation);
            inflation
        };
        assert!(
            part.shared.try_lock().is_ok(),
            "the lock is held only to share the inflation"
        );
        inflation.get_or_init(|| gunzip(&part.gzip));
        let bytes = part.bytes();
        assert_eq!(
            bytes.as_ptr(),
            inflation.get().unwrap().as_ptr(),
            "shared, not inflated again"
        );
    }
}
