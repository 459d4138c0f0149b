//! A plain cadence part that lives only while it is sent.
//!
//! At 10,000 cadences a plain part is about 11 MiB and its gzip form about half a MiB.
//! Prometheus asks for gzip, so the cadence part is kept only as its deflate segments and
//! inflated when a client asks for it plain. A small part, once inflated, is kept; the inflated bytes of
//! a large one live exactly as long as some response still holds them, so concurrent and
//! back-to-back plain scrapes share one inflation, and once nobody scrapes plain the megabytes go
//! back to the system.

use crate::render::gzip::Deflated;
use bytes::Bytes;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Plain parts up to this size are kept once inflated: inflating them again would save little
/// memory.
pub(crate) const EAGER_PLAIN_MAX: usize = 1024 * 1024;

/// A plain cadence part, inflated on demand from its deflate segment: kept once inflated when
/// small, else only while a response holds it.
#[derive(Debug, Default)]
pub(crate) struct PlainPart {
    deflated: Deflated,
    /// A small part, kept once inflated: inflating it again would save little memory.
    kept: OnceLock<Bytes>,
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
    /// The part of this deflated text.
    pub(crate) fn new(deflated: Deflated) -> PlainPart {
        PlainPart {
            deflated,
            kept: OnceLock::new(),
            shared: Mutex::new(Weak::new()),
        }
    }

    /// The plain bytes: kept, still held by a response in flight, or inflated now.
    pub(crate) fn bytes(&self) -> Bytes {
        if self.deflated.plain_len() <= EAGER_PLAIN_MAX as u64 {
            let inflate = || Bytes::from(self.deflated.inflate());
            return self.kept.get_or_init(inflate).clone();
        }
        let inflation = {
            let mut shared = self.shared.lock().expect("plain part lock");
            shared.upgrade().unwrap_or_else(|| {
                let inflation = Arc::new(Inflation::new());
                *shared = Arc::downgrade(&inflation);
                inflation
            })
        };
        inflation.get_or_init(|| self.deflated.inflate());
        Bytes::from_owner(InflatedPlain(inflation))
    }

    /// Whether inflated bytes are alive now, for the tests of the memory behaviour.
    #[cfg(test)]
    pub(crate) fn is_inflated(&self) -> bool {
        self.kept.get().is_some() || self.shared.lock().expect("plain part lock").strong_count() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::gzip::{CADENCE_GZIP_LEVEL, LIVE_GZIP_LEVEL};

    #[test]
    fn a_large_plain_part_is_kept_gzipped_and_inflated_only_while_a_response_holds_it() {
        let line = "zoho_crm_cadence_active{org=\"acme\",id=\"1\",name=\"x\",module=\"Leads\"} 1\n";
        let plain = line.repeat(EAGER_PLAIN_MAX / line.len() + 10);
        let part = PlainPart::new(Deflated::of(plain.as_bytes(), CADENCE_GZIP_LEVEL));
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
        let small = PlainPart::new(Deflated::of(line.as_bytes(), LIVE_GZIP_LEVEL));
        assert_eq!(&small.bytes()[..], line.as_bytes());
        assert!(small.is_inflated(), "a small part is kept once inflated");
        assert!(PlainPart::default().bytes().is_empty());
    }

    #[test]
    fn the_lock_is_free_while_a_part_inflates() {
        let line = "zoho_crm_cadence_active{org=\"acme\",id=\"1\",name=\"x\",module=\"Leads\"} 1\n";
        let plain = line.repeat(EAGER_PLAIN_MAX / line.len() + 10);
        let part = PlainPart::new(Deflated::of(plain.as_bytes(), CADENCE_GZIP_LEVEL));
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
        inflation.get_or_init(|| part.deflated.inflate());
        let bytes = part.bytes();
        assert_eq!(
            bytes.as_ptr(),
            inflation.get().unwrap().as_ptr(),
            "shared, not inflated again"
        );
    }
}
