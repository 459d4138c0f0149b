//! Layer 5, `zoho`: everything that speaks to Zoho.
//!
//! - [`client`]: `ZohoClient`, one per org: authorized GETs, retries, `Retry-After`, body size
//!   limits, every attempt counted; [`token`]: its OAuth token cache and Zoho's token limits;
//!   [`credentials`]: the org's credentials, re-read from their files when these change.
//! - [`error`]: `ZohoError`, which carries its endpoint and gives the bounded error label.
//! - one module per endpoint, each with its answer shapes and the calls of one pass:
//!   [`cadences`] (the paged cadences list, reduced to the domain's `Cadence`; a page holding
//!   an odd cadence is read cadence by cadence by [`salvage`]),
//!   [`records_count`] (enrolled records) and [`analytics`] (executed follow-ups).
//! - [`lenient`]: the field types that take Zoho's inconsistent JSON, and the one JSON decoder;
//!   [`time`]: Zoho's time formats.
//!
//! A new Zoho field goes into the shapes of its endpoint's module; a new endpoint is a new
//! module here, an `Endpoint` value in `metrics::labels`, and a pass in `collect`.
//!
//! Uses `metrics`, `config`, `domain` and `support`.

pub(crate) mod analytics;
pub(crate) mod cadences;
pub(crate) mod client;
pub(crate) mod credentials;
pub(crate) mod error;
pub(crate) mod lenient;
pub(crate) mod records_count;
pub(crate) mod salvage;
pub(crate) mod time;
pub(crate) mod token;
