//! Everything that speaks to Zoho: data centers, the shapes of answers, and the HTTP client with
//! its OAuth token cache, retries and limits.

pub mod client;
pub mod datacenter;
pub mod model;
