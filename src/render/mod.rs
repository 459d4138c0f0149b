//! Layer 6, `render`: the exposition, from state to bytes.
//!
//! - [`families`]: the cadence families (one function each) over every org's checked snapshot
//!   and side-pass results.
//! - [`encoded`]: `EncodedCadences`, the cadence part encoded once per change in both formats
//!   and gzipped; a scrape's two parts (cadence part and live part) and the live part's reused
//!   gzip member.
//! - [`plain`]: a large plain cadence part kept gzipped and inflated only while a response holds
//!   it; [`gzip`]: gzip members written as the text is encoded.
//! - [`negotiate`]: the format from `Accept`, gzip from `Accept-Encoding`.
//!
//! A new metric about cadences is a function in `families`; a new live metric belongs in
//! `metrics::live` instead.
//!
//! Uses `metrics`, `domain` and `support`; never the Zoho client.

pub(crate) mod encoded;
pub(crate) mod families;
pub(crate) mod gzip;
pub(crate) mod negotiate;
pub(crate) mod plain;
