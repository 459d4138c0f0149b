//! Layer 10, `app`: the exporter put together.
//!
//! - [`cli`]: the flags and what the binary does with them (`--config.check`, `--once`, serve);
//!   [`shard`]: `--shard` (a number or `auto`, from the hostname) and `--total-shards`.
//! - [`org`]: one org wired once (client, collector, side loops) from its spec, by the one
//!   constructor the supervisor, `--once` and the tests share.
//! - [`supervisor`]: every org's tasks in line with the config across reloads.
//! - [`serve`]: state, supervisor, HTTP server, reloads and graceful shutdown together;
//!   [`signals`]: SIGHUP, SIGTERM and SIGINT.
//! - [`once`], `--once`: every org collected once, the exposition printed.
//! - [`demo`]: `--demo`, with the simulated Zoho in builds with the `demo` feature.
//!
//! A new flag goes into `cli`. Uses every layer below.

pub(crate) mod cli;
pub(crate) mod demo;
pub(crate) mod once;
pub(crate) mod org;
pub(crate) mod serve;
pub(crate) mod shard;
pub(crate) mod signals;
pub(crate) mod supervisor;
