//! A value made from shared state, kept until the state's stamp moves on: what a scrape of every
//! org sends (the cadence part and the live part of all orgs joined), made once per change of
//! state rather than once per scrape.

use std::sync::{Arc, Mutex, OnceLock};

/// The value made for the latest stamp seen. The first reader after a change makes it; readers
/// arriving meanwhile wait on that one's [`OnceLock`] to share it rather than make their own. The
/// std mutex is held only to share or replace the slot, never while the value is made.
#[derive(Debug, Default)]
pub(crate) struct Latest<K, V> {
    slot: Mutex<Arc<Slot<K, V>>>,
}

#[derive(Debug, Default)]
struct Slot<K, V> {
    stamp: K,
    value: OnceLock<V>,
}

impl<K: PartialEq + Copy + Default, V: Clone> Latest<K, V> {
    /// The value for `stamp`, made by `make` when the kept one is for another stamp. A value is
    /// made from the state as it is when made, at least as new as `stamp` (read before it).
    pub(crate) fn get(&self, stamp: K, make: impl FnOnce() -> V) -> V {
        let slot = {
            let mut slot = self.slot.lock().expect("latest lock");
            if slot.stamp != stamp {
                *slot = Arc::new(Slot {
                    stamp,
                    value: OnceLock::new(),
                });
            }
            slot.clone()
        };
        slot.value.get_or_init(make).clone()
    }

    /// Whether a value is kept, for the tests of what memory holds.
    #[cfg(test)]
    pub(crate) fn is_kept(&self) -> bool {
        self.slot.lock().expect("latest lock").value.get().is_some()
    }

    /// Drops the kept value now rather than when a reader next finds it stale: called by the
    /// writer that moved the stamp on, so a body made for a past state (megabytes at a thousand
    /// orgs) does not stay resident through a quiet spell with no scrapes. Readers holding it
    /// keep their copy until they are done; the next reader makes a new one.
    pub(crate) fn forget(&self) {
        *self.slot.lock().expect("latest lock") = Arc::new(Slot {
            stamp: K::default(),
            value: OnceLock::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_made_once_per_stamp() {
        let latest: Latest<u64, Arc<str>> = Latest::default();
        let mut made = 0;
        let mut get = |stamp, text: &str| {
            latest.get(stamp, || {
                made += 1;
                Arc::from(text)
            })
        };
        assert_eq!(&*get(1, "one"), "one");
        assert_eq!(&*get(1, "not made"), "one", "kept while the stamp stays");
        assert_eq!(&*get(2, "two"), "two", "made again when it moves");
        assert_eq!(made, 2);
    }

    #[test]
    fn a_forgotten_value_is_dropped_at_once_and_made_again() {
        let latest: Latest<u64, Arc<str>> = Latest::default();
        let kept = latest.get(3, || Arc::from("three"));
        assert_eq!(
            Arc::strong_count(&kept),
            2,
            "held by the slot and by this reader"
        );
        latest.forget();
        assert_eq!(Arc::strong_count(&kept), 1, "the slot let go of it");
        assert_eq!(&*latest.get(3, || Arc::from("again")), "again");
    }
}
