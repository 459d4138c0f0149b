//! The `zoho-cadences-exporter` binary: sets the allocator up, parses the flags, installs the
//! log output and starts the runtime; the library does the rest (`zoho_cadences_exporter::run`).

use clap::Parser;
use std::process::ExitCode;
use zoho_cadences_exporter::{configure_allocator, run, Args};

fn main() -> ExitCode {
    configure_allocator();
    let args = Args::parse();
    args.init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}
