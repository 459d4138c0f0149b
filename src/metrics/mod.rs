//! Layer 4, `metrics`: the exporter's own live metrics, encoded on every scrape, and the typed
//! label sets of every metric.
//!
//! - [`labels`]: label sets as structs, label values the exporter chooses as enums
//!   (`Endpoint`, `StatusCode`, `RateLimitWindow`).
//! - [`telemetry`]: `OrgTelemetry` (one org's collection health and API counters, shared by its
//!   client and collector) and `Telemetry` (all orgs, and the reload status).
//! - [`live`]: the live families (one function each), build info and the process metrics,
//!   gathered in one registry per state.
//! - [`rows`]: `encode_rows`, how a family is written from (labels, value) rows.
//!
//! Uses `support` only: the Zoho client and the collectors above write into it, the encoders
//! above read it.

pub(crate) mod labels;
pub(crate) mod live;
pub(crate) mod rows;
pub(crate) mod telemetry;
