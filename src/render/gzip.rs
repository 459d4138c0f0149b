//! Gzip members (RFC 1952) written as the text is encoded, and read back.
//!
//! The cadence part is deflated as the encoders write it, so at 10,000 cadences the plain text
//! (11 MiB) never exists whole during an encoding. Deflate states are kept per thread and level:
//! a fresh one is hundreds of KiB to allocate and clear, more than compressing the live part.

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::io::Read;

/// Level of the cadence part's gzip, paid on every encoding, which is every collection of any
/// org: at 10,000 cadences the fastest level deflates both formats in about 30 ms to a fifteenth
/// of the plain size; the default level reaches a twentieth but costs five times as much, and
/// with many orgs encodings add up (measured in docs/performance.md).
pub(crate) const CADENCE_GZIP_LEVEL: Compression = Compression::new(1);
/// Level of the live part's gzip, compressed on every scrape: it is a few KiB, so the fastest
/// level costs little in size.
pub(crate) const LIVE_GZIP_LEVEL: Compression = Compression::new(1);

/// Inflates gzip members made by [`GzipWriter`], one after the other, into one buffer;
/// `size` is the plain size when known (the buffer's capacity).
pub(crate) fn gunzip(gzip: &[u8], size: usize) -> Vec<u8> {
    if gzip.is_empty() {
        return Vec::new(); // the empty part before any collection
    }
    let mut plain = Vec::with_capacity(size);
    flate2::read::MultiGzDecoder::new(gzip)
        .read_to_end(&mut plain)
        .expect("the gzip form was made here");
    plain
}

/// A buffer that grew by doubling holds up to twice its length; the encoded parts live until
/// the next collection, so they keep only what they use.
pub(crate) fn exact_bytes(text: String) -> Bytes {
    let mut bytes = text.into_bytes();
    bytes.shrink_to_fit();
    Bytes::from(bytes)
}

thread_local! {
    /// Deflate states kept per thread and level, reset between uses: a fresh one is hundreds of
    /// KiB to allocate and clear, more than compressing the live part itself.
    static DEFLATE: std::cell::RefCell<Vec<(u32, Compress)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes one gzip member (RFC 1952), deflating text as it comes, and keeps a plain copy of the
/// text while it is at most `keep_plain` bytes long.
pub(crate) struct GzipWriter {
    level: u32,
    deflate: Option<Compress>,
    /// Text not deflated yet: the encoders write a few bytes at a time, deflate wants more.
    pending: Vec<u8>,
    out: Vec<u8>,
    crc: Crc,
    plain: Option<String>,
    keep_plain: usize,
}

/// How much text is gathered before each deflate call.
const DEFLATE_CHUNK: usize = 64 * 1024;

impl GzipWriter {
    pub(crate) fn new(level: Compression, keep_plain: usize) -> GzipWriter {
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let level = level.level();
        let deflate = DEFLATE
            .with_borrow_mut(|kept| {
                let at = kept.iter().position(|(l, _)| *l == level)?;
                Some(kept.swap_remove(at).1)
            })
            .unwrap_or_else(|| Compress::new(Compression::new(level), false));
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(&HEADER);
        GzipWriter {
            level,
            deflate: Some(deflate),
            // Grown as text comes: most pieces of an org's part are far smaller than a chunk.
            pending: Vec::new(),
            out,
            crc: Crc::new(),
            plain: Some(String::new()),
            keep_plain,
        }
    }

    fn write(&mut self, data: &[u8]) {
        self.crc.update(data);
        self.pending.extend_from_slice(data);
        if self.pending.len() >= DEFLATE_CHUNK {
            self.deflate(FlushCompress::None);
        }
    }

    fn deflate(&mut self, flush: FlushCompress) {
        let deflate = self.deflate.as_mut().expect("not finished");
        let start = deflate.total_in();
        loop {
            let consumed = (deflate.total_in() - start) as usize;
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(self.out.capacity().max(4 * 1024));
            }
            let status = deflate
                .compress_vec(&self.pending[consumed..], &mut self.out, flush)
                .expect("deflating into a Vec cannot fail");
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => (deflate.total_in() - start) as usize == self.pending.len(),
            };
            if done {
                break;
            }
        }
        self.pending.clear();
    }

    /// The plain text if it was kept, and the gzip member.
    pub(crate) fn finish(mut self) -> (Option<String>, Bytes) {
        self.deflate(FlushCompress::Finish);
        let mut deflate = self.deflate.take().expect("finished once");
        let size = deflate.total_in() as u32; // ISIZE is the size modulo 2^32
        deflate.reset();
        let level = self.level;
        DEFLATE.with_borrow_mut(|kept| kept.push((level, deflate)));
        let mut out = std::mem::take(&mut self.out);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.shrink_to_fit();
        (self.plain.take(), Bytes::from(out))
    }
}

impl std::fmt::Write for GzipWriter {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if let Some(plain) = &mut self.plain {
            if plain.len() + text.len() <= self.keep_plain {
                plain.push_str(text);
            } else {
                self.plain = None;
            }
        }
        self.write(text.as_bytes());
        Ok(())
    }
}

/// One gzip member (RFC 1952) of `data`.
pub(crate) fn gzip_with(data: &[u8], level: Compression) -> Bytes {
    let mut gzip = GzipWriter::new(level, 0);
    gzip.write(data);
    gzip.finish().1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gzip_writer_deflates_small_writes_and_keeps_plain_only_while_small() {
        use std::fmt::Write as _;
        for keep_plain in [0, 10, 1 << 20] {
            let mut gzip = GzipWriter::new(CADENCE_GZIP_LEVEL, keep_plain);
            let mut expected = String::new();
            for n in 0..20_000 {
                let piece = format!("piece {n}\n");
                gzip.write_str(&piece).unwrap();
                expected.push_str(&piece);
            }
            let (plain, gzip) = gzip.finish();
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gzip[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, expected);
            let kept = expected.len() <= keep_plain;
            assert_eq!(plain.as_deref(), kept.then_some(expected.as_str()));
        }
    }

    #[test]
    fn gzip_members_made_with_a_reused_deflate_state_decode() {
        for (level, data) in [
            (LIVE_GZIP_LEVEL, "live part ".repeat(1_000)),
            (CADENCE_GZIP_LEVEL, "cadence part ".repeat(10_000)),
            (LIVE_GZIP_LEVEL, String::new()),
            (LIVE_GZIP_LEVEL, "again".to_owned()),
        ] {
            let gzip = gzip_with(data.as_bytes(), level);
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gzip[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, data);
        }
    }
}
