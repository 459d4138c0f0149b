//! Layer 8, `collect`: the loops that ask Zoho and publish into the store, one set per org.
//!
//! - [`org`]: `OrgCollector`, one org's collection of its cadences on its interval: a complete
//!   snapshot is published, a failed collection keeps the last one.
//! - [`side`]: one generic side loop over a pass (enrollment: records enrolled; analytics:
//!   follow-ups executed), run on the org's latest snapshot on its own interval, apart from the
//!   collection, so it can neither fail nor delay it.
//! - [`failures`]: a lasting failure logged once per change.
//! - [`limit`]: the bound on passes in flight across every org (`max_concurrent_collections`),
//!   and each org's first collection spread over the first interval.
//!
//! Every pass runs within a deadline ([`LoopSpec`]); a pass that misses it fails like any other.
//!
//! Uses `store`, `zoho`, `metrics`, `config`, `domain` and `support`.

pub(crate) mod failures;
pub(crate) mod limit;
pub(crate) mod org;
pub(crate) mod side;

use crate::zoho::error::ZohoError;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How often a loop runs its pass, and how long one pass may take in all, retries included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoopSpec {
    pub(crate) interval: Duration,
    pub(crate) deadline: Duration,
}

/// `pass`, failing with [`ZohoError::Deadline`] if it is not done by `deadline`.
async fn within<T>(
    deadline: Instant,
    pass: impl Future<Output = Result<T, ZohoError>>,
) -> Result<T, ZohoError> {
    tokio::time::timeout_at(deadline, pass)
        .await
        .unwrap_or(Err(ZohoError::Deadline))
}

/// A ticker for a loop: the first tick at once, later ones every `interval`, a late tick
/// delaying the next rather than bunching up.
fn ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}
