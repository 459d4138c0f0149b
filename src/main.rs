//! The `zoho-cadences-exporter` binary: everything it does is the library's
//! (`zoho_cadences_exporter::run_cli`: flags, logging, runtime, and then the exporter).

fn main() -> std::process::ExitCode {
    zoho_cadences_exporter::run_cli()
}
