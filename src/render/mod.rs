//! Layer 6, `render`: the exposition, from state to bytes.
//!
//! - [`families`]: the cadence families (one function each) over an org's checked snapshot and
//!   side-pass results.
//! - [`parts`]: the exposition in pieces, one per org and family (plain and a gzip member),
//!   joined per scrape under one header per family.
//! - [`encoded`]: `OrgCadences`, an org's cadence part encoded once per change of that org in
//!   both formats; `Joined`, every org's parts joined for the scrapes of all orgs.
//! - [`live`]: the live part, each org's encoded again only when its counters changed, and the
//!   process-wide metrics; [`latest`]: a value kept until the state's stamp moves.
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
pub(crate) mod latest;
pub(crate) mod live;
pub(crate) mod negotiate;
pub(crate) mod parts;
pub(crate) mod plain;
