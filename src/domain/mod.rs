//! Layer 2, `domain`: what the exporter knows about cadences, whatever the source or the output.
//!
//! - [`cadence`]: `Cadence`, reduced to what the metrics show, and the `Interner` that shares
//!   the texts repeating across an org's cadences.
//! - [`snapshot`]: `OrgSnapshot`, one org's complete and immutable picture, with module totals.
//! - [`transitions`]: deactivations and deletions between two snapshots.
//! - [`expectations`]: which cadences must be active, and their verdict on a snapshot, computed
//!   once per snapshot (`CheckedSnapshot`).
//! - [`activity`]: the results of the enrollment and analytics passes.
//! - [`history`]: what happened to an org since start, for the status page: cadences switched
//!   off or deleted, since when each inactive cadence is inactive, and the last failed step.
//! - [`datacenter`]: Zoho's data centers, their hosts, and which API hosts may get a token. Here
//!   rather than in `zoho` because the config names data centers too, and the config sits below
//!   the client.
//!
//! Uses `support` only. Nothing here does I/O.

pub(crate) mod activity;
pub(crate) mod cadence;
pub(crate) mod datacenter;
pub(crate) mod expectations;
pub(crate) mod history;
pub(crate) mod snapshot;
pub(crate) mod transitions;
