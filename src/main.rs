//! The `zoho-cadences-exporter` binary: parses flags, sets up logging, and hands over to the
//! library (`server::run`, `server::collect_once`) with the listener already bound.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zoho_cadences_exporter::config::Config;
use zoho_cadences_exporter::logging::{self, LogFormat, LogLevel};
use zoho_cadences_exporter::supervisor::ConfigSource;
use zoho_cadences_exporter::web_config::WebConfig;
use zoho_cadences_exporter::{demo, server};

/// Prometheus exporter for Zoho CRM cadences.
#[derive(Debug, Parser)]
#[command(name = "zoho-cadences-exporter", version, about)]
struct Args {
    /// YAML config file. Without it, one org named `default` is built from ZOHO_CLIENT_ID,
    /// ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN and ZOHO_DATA_CENTER.
    #[arg(long = "config.file", value_name = "PATH", conflicts_with = "demo")]
    config_file: Option<PathBuf>,
    /// Validate the config and exit.
    #[arg(long = "config.check")]
    config_check: bool,
    /// Collect every org once, print the exposition to stdout, and exit 0 only if all succeeded.
    #[arg(long)]
    once: bool,
    /// Address to listen on (`:10263` is every interface).
    #[arg(
        long = "web.listen-address",
        value_name = "ADDRESS",
        default_value = ":10263"
    )]
    listen_address: String,
    /// Path under which metrics are served.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    telemetry_path: String,
    /// Only log messages with this severity or above.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    log_level: LogLevel,
    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    log_format: LogFormat,
    /// Run against an embedded simulated Zoho org; no Zoho account needed.
    #[arg(long)]
    demo: bool,
    /// TLS, mutual TLS, basic auth and extra headers, in the Prometheus exporter-toolkit web
    /// config format (see docs/security.md). Re-read when it or its certificates change.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    zoho_cadences_exporter::malloc::configure();
    let args = Args::parse();
    logging::init(args.log_level, args.log_format);
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

async fn run(args: Args) -> ExitCode {
    if !args.telemetry_path.starts_with('/') || args.telemetry_path.starts_with("/-/") {
        eprintln!(
            "--web.telemetry-path: {:?} must start with / and not with /-/",
            args.telemetry_path
        );
        return ExitCode::FAILURE;
    }
    // The demo's simulated Zoho must outlive the exporter, so it is held here.
    let (_demo_zoho, source) = if args.demo {
        match demo::start().await {
            Ok((fake, config)) => (Some(fake), ConfigSource::Fixed(Box::new(config))),
            Err(err) => {
                eprintln!("cannot start the demo's simulated Zoho: {err}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match &args.config_file {
            Some(path) => (None, ConfigSource::File(path.clone())),
            None => (None, ConfigSource::Environment),
        }
    };
    let config: Config = match source.load() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("config error: {message}");
            return ExitCode::FAILURE;
        }
    };

    let web_config = match &args.web_config_file {
        None => None,
        Some(path) => match WebConfig::load(path) {
            Ok(web) => Some(web),
            Err(err) => {
                eprintln!("--web.config.file: {err}");
                return ExitCode::FAILURE;
            }
        },
    };

    if args.config_check {
        println!(
            "config OK: {} org(s), {} expectation(s)",
            config.orgs.len(),
            config.expectations.len()
        );
        if let Some(web) = &web_config {
            println!(
                "web config OK: TLS {}, basic auth {}",
                if web.tls_enabled() { "on" } else { "off" },
                if web.basic_auth_enabled() {
                    "on"
                } else {
                    "off"
                },
            );
        }
        return ExitCode::SUCCESS;
    }
    if args.once {
        let (exposition, all_succeeded) = server::collect_once(&config).await;
        print!("{exposition}");
        return if all_succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }

    let listener = match bind(&args.listen_address).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("--web.listen-address {:?}: {err}", args.listen_address);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            let tls = web_config.as_ref().is_some_and(WebConfig::tls_enabled);
            tracing::info!(address = %addr, orgs = config.orgs.len(), demo = args.demo, tls, "listening")
        }
        Err(_) => tracing::info!(orgs = config.orgs.len(), "listening"),
    }
    let options = server::ServeOptions {
        web_config,
        ..Default::default()
    };
    match server::run_with(
        source,
        config,
        listener,
        args.telemetry_path,
        options,
        server::shutdown_signal(),
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Binds the listen address; `:PORT` means every interface (IPv6 and IPv4 where possible).
async fn bind(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid port"))?;
        return match tokio::net::TcpListener::bind(("::", port)).await {
            Ok(listener) => Ok(listener),
            Err(_) => tokio::net::TcpListener::bind(("0.0.0.0", port)).await,
        };
    }
    tokio::net::TcpListener::bind(address).await
}
