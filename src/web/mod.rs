//! Layer 9, `web`: the HTTP endpoint.
//!
//! - [`routes`]: the router (`/metrics`, `/-/healthy`, `/-/ready`, `/-/reload`, the status
//!   pages), the request
//!   timeout, and the security headers every answer gets, set in one place.
//! - [`status_page`]: the HTML status pages at `/` (what needs attention) and `/orgs/<name>`
//!   (one org's cadences, sortable, filterable, paged).
//! - [`sd`]: `/sd`, Prometheus HTTP service discovery with one target per org.
//! - [`accept`]: the accept loop over every listener: connection and header limits, TLS
//!   handshakes, graceful drain; [`listen`]: the listen addresses and systemd's sockets.
//! - [`config`]: `--web.config.file` read into settings; [`reload`]: the file in force,
//!   re-read when it or its certificates change; [`auth`]: the rate limit and basic auth it asks
//!   for; [`tls`]: its TLS settings and the rustls server config.
//!
//! A new endpoint is a route in `routes`. Handlers read the store only; nothing here calls
//! Zoho, so a scrape never waits on it.
//!
//! Uses `store`, `render`, `metrics`, `config`, `domain` and `support`; never `zoho` or
//! `collect`.

pub(crate) mod accept;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod listen;
pub(crate) mod reload;
pub(crate) mod routes;
pub(crate) mod sd;
pub(crate) mod status_page;
pub(crate) mod tls;
