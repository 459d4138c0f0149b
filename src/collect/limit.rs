//! How many passes are in flight at once, across every org: collections and side passes
//! (enrollment, analytics) together take a permit of one [`PassLimit`] while they call Zoho and
//! hold its pages (`max_concurrent_collections`, default 8). Peak memory and the bursts of calls
//! then follow the bound, not the number of orgs; a pass waiting for a permit has not started,
//! so its deadline starts only when it gets one.
//!
//! And when each org's first collection starts ([`first_offset`]): spread over the first
//! interval, so that a thousand orgs do not ask for a thousand tokens in the same second.
//!
//! The permits are tokio's fair semaphore: passes start in the order they asked. A reload may
//! change the bound: a larger one adds permits at once; a smaller one removes the free permits
//! and takes the others as the passes holding them end, so the new bound holds as soon as enough
//! passes have ended and no new pass starts beyond it meanwhile.

use crate::support::hash::fnv1a64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The bound on passes in flight, shared by every org's loops.
#[derive(Debug)]
pub(crate) struct PassLimit {
    semaphore: Semaphore,
    state: Mutex<Bound>,
}

#[derive(Debug)]
struct Bound {
    bound: usize,
    /// Permits still to be taken out of circulation after a lower bound: each permit given back
    /// while this is above zero is forgotten instead.
    owed: usize,
}

/// A pass's right to run; given back when dropped.
pub(crate) struct Permit<'a> {
    permit: Option<SemaphorePermit<'a>>,
    limit: &'a PassLimit,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.limit.state.lock().expect("limit lock");
        if let Some(permit) = self.permit.take() {
            if state.owed > 0 {
                state.owed -= 1;
                permit.forget();
            }
        }
    }
}

impl PassLimit {
    pub(crate) fn new(bound: usize) -> Arc<PassLimit> {
        Arc::new(PassLimit {
            semaphore: Semaphore::new(bound),
            state: Mutex::new(Bound { bound, owed: 0 }),
        })
    }

    /// Waits for a permit, in turn.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        let permit = self
            .semaphore
            .acquire()
            .await
            .expect("the pass limit's semaphore is never closed");
        Permit {
            permit: Some(permit),
            limit: self,
        }
    }

    /// Applies a new bound (a reload's `max_concurrent_collections`).
    pub(crate) fn set_bound(&self, bound: usize) {
        let mut state = self.state.lock().expect("limit lock");
        if bound >= state.bound {
            let mut more = bound - state.bound;
            let repaid = more.min(state.owed);
            state.owed -= repaid;
            more -= repaid;
            self.semaphore.add_permits(more);
        } else {
            let fewer = state.bound - bound;
            let forgotten = self.semaphore.forget_permits(fewer);
            state.owed += fewer - forgotten;
        }
        state.bound = bound;
    }
}

/// When the first collection of `org` starts, counted from when its loop starts: a fixed
/// fraction of the spread, taken from the stable hash of its name (so it is the same at every
/// start, and orgs do not line up). The spread is a tenth of a second per org of the config,
/// at most three quarters of `interval`: ten first collections a second on average, the last
/// one started with a quarter of the interval left to end in (a collection of a few pages takes
/// seconds), so every first collection ends within the first interval, and a few orgs still
/// start within a second.
pub(crate) fn first_offset(org: &str, orgs: usize, interval: Duration) -> Duration {
    let per_org = Duration::from_millis(100);
    let spread = per_org
        .saturating_mul(u32::try_from(orgs).unwrap_or(u32::MAX))
        .min(interval.mul_f64(0.75));
    // FNV-1a's high bits barely differ between names that differ in their last characters
    // (org-1, org-2, ...), so the hash goes through MurmurHash3's finalizer first; the result,
    // read as a fraction of 2^64, is the fraction of the spread. The mixing also frees the
    // offset from the shard (the hash modulo the shards): a shard's orgs spread evenly too.
    let fraction = fmix64(fnv1a64(org));
    let nanos = (u128::from(fraction) * spread.as_nanos()) >> 64;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn first_collections_are_spread_within_the_interval_and_fixed() {
        let minute = Duration::from_secs(60);
        let names: Vec<String> = (0..1_000).map(|n| format!("org-{n}")).collect();
        let offsets: Vec<Duration> = names
            .iter()
            .map(|n| first_offset(n, 1_000, minute))
            .collect();
        assert!(
            offsets.iter().all(|o| *o < minute * 3 / 4),
            "a quarter left"
        );
        let again: Vec<Duration> = names
            .iter()
            .map(|n| first_offset(n, 1_000, minute))
            .collect();
        assert_eq!(offsets, again, "the same at every start");
        // Spread over three quarters of the interval: every tenth of that holds some 100 of the
        // 1,000 orgs.
        let mut tenths = [0usize; 10];
        for offset in &offsets {
            tenths[(offset.as_secs_f64() / 4.5) as usize] += 1;
        }
        assert!(tenths.iter().all(|n| (60..=140).contains(n)), "{tenths:?}");
        // A few orgs start within a tenth of a second each; one org within 100 ms.
        assert!(first_offset("acme", 1, Duration::from_secs(300)) < Duration::from_millis(100));
        assert!(names[..10]
            .iter()
            .all(|n| first_offset(n, 10, minute) < Duration::from_secs(1)));
        // Pinned: a change here moves every org's collections.
        assert_eq!(
            first_offset("acme", 1_000, minute),
            Duration::from_nanos(10_221_207_608)
        );
    }

    /// Runs `tasks` passes of one second each under `limit`; returns the most in flight at once.
    async fn most_in_flight(limit: &Arc<PassLimit>, tasks: usize) -> usize {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (limit, in_flight, most) = (limit.clone(), in_flight.clone(), most.clone());
                tokio::spawn(async move {
                    let _permit = limit.acquire().await;
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_passes_in_flight_than_the_bound() {
        let limit = PassLimit::new(3);
        let started = tokio::time::Instant::now();
        assert_eq!(most_in_flight(&limit, 20).await, 3);
        // 20 passes of 1 s, 3 at a time: 7 rounds.
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        limit.set_bound(5);
        assert_eq!(most_in_flight(&limit, 20).await, 5);
        limit.set_bound(1);
        assert_eq!(most_in_flight(&limit, 4).await, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lower_bound_takes_effect_as_passes_end() {
        let limit = PassLimit::new(4);
        let held: Vec<Permit<'_>> = vec![
            limit.acquire().await,
            limit.acquire().await,
            limit.acquire().await,
        ];
        // One free permit is removed now, two more as the holders end.
        limit.set_bound(1);
        drop(held);
        assert_eq!(limit.semaphore.available_permits(), 1);
        assert_eq!(most_in_flight(&limit, 5).await, 1);
        // Raised again before the debt is paid: it is paid out of the raise.
        let mut held: Vec<Permit<'_>> = vec![limit.acquire().await];
        limit.set_bound(3);
        held.push(limit.acquire().await);
        held.push(limit.acquire().await);
        limit.set_bound(1);
        limit.set_bound(2);
        assert_eq!(limit.semaphore.available_permits(), 0);
        drop(held);
        assert_eq!(limit.semaphore.available_permits(), 2);
        assert_eq!(most_in_flight(&limit, 6).await, 2);
    }
}
