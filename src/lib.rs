//! zoho-cadences-exporter: a Prometheus exporter for Zoho CRM cadences.
//!
//! The code is in layers, each a folder with a map of its own; a layer uses only the layers
//! below it, as the table in ARCHITECTURE.md says (and `tests/layers.rs` checks):
//!
//! | layer | what it is |
//! |---|---|
//! | [`support`] | redacted secrets, log output, the allocator, small helpers |
//! | [`domain`] | cadences, snapshots, transitions, expectations, side-pass results, data centers |
//! | [`config`] | the configuration, validated |
//! | [`metrics`] | typed label sets and the live metrics |
//! | [`zoho`] | the Zoho client and every answer it reads |
//! | [`render`] | the exposition: cadence families, gzip, format negotiation |
//! | [`store`] | the shared state where collections publish and scrapes read |
//! | [`collect`] | the collection loop and the side loops of each org |
//! | [`web`] | the HTTP endpoint: routes, status page, accept loop, web config |
//! | [`app`] | wiring, supervision, signals, `--once`, `--demo`, the command line |
//!
//! Every module is private to the crate. What is public is re-exported below, and only what the
//! binary, the integration tests, the benches and the fuzz targets use, with the types that the
//! signatures of those name (`DemoError`, `ConfigError`, `Endpoint` in `ZohoError`, ...).

mod app;
mod collect;
mod config;
mod domain;
mod metrics;
mod render;
mod store;
mod support;
mod web;
mod zoho;

// The binary (src/main.rs).
pub use app::cli::run_cli;

// The integration tests, the benches and the fuzz targets.
pub use app::demo::{start as start_demo, DemoError, DemoZoho};
pub use app::org::Org;
pub use app::serve::{run as serve, ServeOptions, SHUTDOWN_GRACE};
pub use app::supervisor::Supervisor;
pub use config::shard::Shard;
pub use config::source::ConfigSource;
pub use config::{Config, ConfigError};
pub use domain::cadence::{Cadence, Interner};
pub use domain::snapshot::OrgSnapshot;
pub use metrics::labels::Endpoint;
pub use render::negotiate::Format;
pub use store::{OrgStatus, SharedState};
pub use support::build::{BRANCH, REVISION, RUST_VERSION, VERSION};
pub use web::accept::{serve as serve_connections, Limits as ConnectionLimits};
pub use web::config::WebConfigError;
pub use web::reload::WebConfig;
pub use web::routes::{router, AppState};
pub use web::status_page::PAGE_SIZE;
pub use zoho::cadences::{decode_cadences_page, CadencesPage, PER_PAGE};
pub use zoho::client::Limits as ZohoLimits;
pub use zoho::error::ZohoError;
pub use zoho::token::TOKEN_REQUESTS_PER_WINDOW;
