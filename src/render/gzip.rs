//! Gzip bodies (RFC 1952) made of deflate segments written as the text is encoded.
//!
//! A body is sent in parts that are made at different times (each org's rows of each family,
//! the live part, the process metrics), so each part is kept as a [`Deflated`] segment: raw
//! deflate blocks ending on a byte boundary without a final block (a sync flush), with the
//! CRC-32 and length of its text. Segments one after the other are one valid deflate stream, and
//! [`gzip_member`] frames them as **one** gzip member: header, segments, a final empty block,
//! and the trailer with the CRC-32 of the whole text combined from the segments' (no byte is
//! read again). One member, not one per part, because many clients read only the first member
//! of a body: curl's `--compressed` and Chromium stop after it, though Prometheus reads on.
//!
//! The cadence part is deflated as the encoders write it, so at 10,000 cadences the plain text
//! (11 MiB) never exists whole during an encoding. Deflate states are kept per thread and level:
//! a fresh one is hundreds of KiB to allocate and clear, more than compressing the live part.

use bytes::Bytes;
use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};
use std::io::Read;

/// Level of the cadence part's gzip, paid on every encoding, which is every collection of any
/// org: at 10,000 cadences the fastest level deflates both formats in about 30 ms to a fifteenth
/// of the plain size; the default level reaches a twentieth but costs five times as much, and
/// with many orgs encodings add up (measured in docs/performance.md).
pub(crate) const CADENCE_GZIP_LEVEL: Compression = Compression::new(1);
/// Level of the live part's gzip, compressed on every scrape: it is a few KiB, so the fastest
/// level costs little in size.
pub(crate) const LIVE_GZIP_LEVEL: Compression = Compression::new(1);

/// The gzip header: deflate, no name or time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// A final, empty deflate block (fixed Huffman codes: the final bit, the type, end of block),
/// which ends the stream of segments.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// Text deflated into a segment of a deflate stream: blocks that end on a byte boundary and are
/// not final, so that segments one after the other are one stream; with the CRC-32 and length
/// of the text, so that a gzip trailer for any sequence of segments needs no text. Equal
/// segments are equal text: a segment starts a fresh window, and inflating is a function of its
/// bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Deflated {
    blocks: Bytes,
    crc: u32,
    len: u64,
}

impl Deflated {
    /// `data` deflated at `level`.
    pub(crate) fn of(data: &[u8], level: Compression) -> Deflated {
        let mut writer = DeflateWriter::new(level, 0);
        writer.write(data);
        writer.finish().1
    }

    /// Whether the two are one buffer, for the tests of what is shared.
    #[cfg(test)]
    pub(crate) fn is_shared_with(&self, other: &Deflated) -> bool {
        self.blocks.as_ptr() == other.blocks.as_ptr()
    }

    /// The segments one after the other, as one segment.
    pub(crate) fn join<'a>(segments: impl IntoIterator<Item = &'a Deflated>) -> Deflated {
        let segments: Vec<&Deflated> = segments.into_iter().collect();
        let mut blocks = Vec::with_capacity(segments.iter().map(|s| s.blocks.len()).sum());
        for segment in &segments {
            blocks.extend_from_slice(&segment.blocks);
        }
        let (crc, len) = checksum(&segments);
        Deflated {
            blocks: Bytes::from(blocks),
            len,
            crc,
        }
    }

    /// The size of the text.
    pub(crate) fn plain_len(&self) -> u64 {
        self.len
    }

    /// The text back.
    pub(crate) fn inflate(&self) -> Vec<u8> {
        let mut plain = Vec::with_capacity(self.len as usize);
        let stream = (&self.blocks[..]).chain(&FINAL_BLOCK[..]);
        flate2::read::DeflateDecoder::new(stream)
            .read_to_end(&mut plain)
            .expect("the deflate blocks were made here");
        plain
    }
}

/// The CRC-32 and length of the segments' text, one after the other, combined from each
/// segment's without reading the text again.
fn checksum(segments: &[&Deflated]) -> (u32, u64) {
    let mut crc = Hasher::new();
    for segment in segments {
        crc.combine(&Hasher::new_with_initial_len(segment.crc, segment.len));
    }
    (crc.finalize(), segments.iter().map(|s| s.len).sum())
}

/// One part of a scrape body: its plain text, or its deflate segment.
#[derive(Debug, Clone)]
pub(crate) enum BodyPart {
    Plain(Bytes),
    Deflated(Deflated),
}

impl Default for BodyPart {
    fn default() -> Self {
        BodyPart::Plain(Bytes::new())
    }
}

/// The body of `parts`, to send one after the other without copying them: the plain texts, or
/// the segments framed as one gzip member. The parts of one body are all plain or all deflated.
pub(crate) fn body(parts: &[BodyPart]) -> Vec<Bytes> {
    let mut plain = Vec::with_capacity(parts.len());
    let mut deflated = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            BodyPart::Plain(bytes) => plain.push(bytes.clone()),
            BodyPart::Deflated(segment) => deflated.push(segment),
        }
    }
    debug_assert!(
        plain.is_empty() || deflated.is_empty(),
        "one body, one encoding"
    );
    if deflated.is_empty() {
        plain
    } else {
        gzip_member(&deflated)
    }
}

/// The parts of a gzip body, to send one after the other without copying the segments: one
/// gzip member (RFC 1952) of the segments' text, in order.
pub(crate) fn gzip_member(segments: &[&Deflated]) -> Vec<Bytes> {
    let mut body = Vec::with_capacity(segments.len() + 2);
    body.push(Bytes::from_static(&GZIP_HEADER));
    body.extend(segments.iter().map(|segment| segment.blocks.clone()));
    let (crc, len) = checksum(segments);
    let mut trailer = Vec::with_capacity(10);
    trailer.extend_from_slice(&FINAL_BLOCK);
    trailer.extend_from_slice(&crc.to_le_bytes());
    // ISIZE is the size modulo 2^32.
    trailer.extend_from_slice(&(len as u32).to_le_bytes());
    body.push(Bytes::from(trailer));
    body
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

/// Deflates text into a [`Deflated`] segment as it comes, and keeps a plain copy of the text while
/// it is at most `keep_plain` bytes long.
pub(crate) struct DeflateWriter {
    level: u32,
    deflate: Option<Compress>,
    /// Text not deflated yet: the encoders write a few bytes at a time, deflate wants more.
    pending: Vec<u8>,
    out: Vec<u8>,
    crc: Hasher,
    /// The size of the text written.
    len: u64,
    plain: Option<String>,
    keep_plain: usize,
}

/// How much text is gathered before each deflate call.
const DEFLATE_CHUNK: usize = 64 * 1024;

impl DeflateWriter {
    pub(crate) fn new(level: Compression, keep_plain: usize) -> DeflateWriter {
        let level = level.level();
        let deflate = DEFLATE
            .with_borrow_mut(|kept| {
                let at = kept.iter().position(|(l, _)| *l == level)?;
                Some(kept.swap_remove(at).1)
            })
            .unwrap_or_else(|| Compress::new(Compression::new(level), false));
        DeflateWriter {
            level,
            deflate: Some(deflate),
            // Grown as text comes: most pieces of an org's part are far smaller than a chunk.
            pending: Vec::new(),
            out: Vec::with_capacity(1024),
            crc: Hasher::new(),
            len: 0,
            plain: Some(String::new()),
            keep_plain,
        }
    }

    fn write(&mut self, data: &[u8]) {
        self.crc.update(data);
        self.len += data.len() as u64;
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
            let consumed_all = (deflate.total_in() - start) as usize == self.pending.len();
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // A flush is complete when deflate stopped short of the room it had.
                FlushCompress::Sync => consumed_all && self.out.len() < self.out.capacity(),
                _ => consumed_all,
            };
            if done {
                break;
            }
        }
        self.pending.clear();
    }

    /// The plain text if it was kept, and the segment: its blocks end with a sync flush, which
    /// aligns them on a byte and sets no final block.
    pub(crate) fn finish(mut self) -> (Option<String>, Deflated) {
        self.deflate(FlushCompress::Sync);
        let mut deflate = self.deflate.take().expect("finished once");
        deflate.reset();
        let level = self.level;
        DEFLATE.with_borrow_mut(|kept| kept.push((level, deflate)));
        let mut out = std::mem::take(&mut self.out);
        out.shrink_to_fit();
        let crc = std::mem::take(&mut self.crc);
        let deflated = Deflated {
            blocks: Bytes::from(out),
            len: self.len,
            crc: crc.finalize(),
        };
        (self.plain.take(), deflated)
    }
}

impl std::fmt::Write for DeflateWriter {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client that reads only the first gzip member of a body (curl --compressed,
    /// Chromium) makes of it.
    fn first_member(body: &[Bytes]) -> String {
        let body = body.concat();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn the_writer_deflates_small_writes_and_keeps_plain_only_while_small() {
        use std::fmt::Write as _;
        for keep_plain in [0, 10, 1 << 20] {
            let mut writer = DeflateWriter::new(CADENCE_GZIP_LEVEL, keep_plain);
            let mut expected = String::new();
            for n in 0..20_000 {
                let piece = format!("piece {n}\n");
                writer.write_str(&piece).unwrap();
                expected.push_str(&piece);
            }
            let (plain, deflated) = writer.finish();
            assert_eq!(deflated.inflate(), expected.as_bytes());
            assert_eq!(first_member(&gzip_member(&[&deflated])), expected);
            let kept = expected.len() <= keep_plain;
            assert_eq!(plain.as_deref(), kept.then_some(expected.as_str()));
        }
    }

    #[test]
    fn segments_made_with_a_reused_deflate_state_are_one_gzip_member() {
        let texts = [
            (LIVE_GZIP_LEVEL, "live part ".repeat(1_000)),
            (CADENCE_GZIP_LEVEL, "cadence part ".repeat(10_000)),
            (LIVE_GZIP_LEVEL, String::new()),
            (LIVE_GZIP_LEVEL, "again".to_owned()),
        ];
        let segments: Vec<Deflated> = texts
            .iter()
            .map(|(level, text)| Deflated::of(text.as_bytes(), *level))
            .collect();
        let whole: String = texts.iter().map(|(_, text)| text.as_str()).collect();
        let refs: Vec<&Deflated> = segments.iter().collect();
        assert_eq!(
            first_member(&gzip_member(&refs)),
            whole,
            "a client reading one member reads it all"
        );
        let joined = Deflated::join(refs.iter().copied());
        assert_eq!(joined.plain_len(), whole.len() as u64);
        assert_eq!(joined.inflate(), whole.as_bytes());
        assert_eq!(
            gzip_member(&[&joined]).concat(),
            gzip_member(&refs).concat(),
            "joining first changes nothing"
        );
        assert_eq!(first_member(&gzip_member(&[])), "", "an empty body");
    }
}
