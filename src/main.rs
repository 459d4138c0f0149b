//! The `zoho-cadences-exporter` binary: parses flags, sets up logging, and hands over to the
//! library (`server::run_with`, `server::collect_once`) with the listeners already bound. Every
//! error after the flags are parsed is a log line in the `--log.format` chosen.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zoho_cadences_exporter::config::Config;
use zoho_cadences_exporter::listen::{self, ListenAddress};
use zoho_cadences_exporter::logging::{self, LogFormat, LogLevel};
use zoho_cadences_exporter::supervisor::ConfigSource;
use zoho_cadences_exporter::web_config::WebConfig;
use zoho_cadences_exporter::{demo, server};

/// Prometheus exporter for Zoho CRM cadences.
#[derive(Debug, Parser)]
#[command(name = "zoho-cadences-exporter", about, disable_version_flag = true)]
struct Args {
    /// Print the version, git branch and revision, build date, rustc version and platform, and
    /// exit.
    #[arg(long, short = 'V')]
    version: bool,
    /// YAML config file. Without it, one org named `default` is built from ZOHO_CLIENT_ID,
    /// ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN and ZOHO_DATA_CENTER. Relative paths in it are
    /// taken from the file's directory.
    #[arg(long = "config.file", value_name = "PATH", conflicts_with = "demo")]
    config_file: Option<PathBuf>,
    /// Validate the config and exit.
    #[arg(long = "config.check")]
    config_check: bool,
    /// Collect every org once, print the exposition to stdout, and exit 0 only if all succeeded.
    #[arg(long)]
    once: bool,
    /// Address to listen on, HOST:PORT or :PORT (every interface). Repeat it to listen on
    /// several (IPv4 and IPv6, or a second port); each serves the same, with the web config.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDRESS",
        default_value = ":10263",
        action = clap::ArgAction::Append
    )]
    listen_addresses: Vec<String>,
    /// Serve the listening sockets systemd passes (socket activation: LISTEN_FDS) instead of
    /// the --web.listen-address ones. Linux only.
    #[arg(long = "web.systemd-socket")]
    systemd_socket: bool,
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
    if args.version {
        print!("{}", zoho_cadences_exporter::version_report());
        return ExitCode::SUCCESS;
    }
    // Before the runtime's threads start and before anything opens a file: this takes the
    // descriptors systemd passed and removes its variables from the environment.
    let systemd_sockets = args.systemd_socket.then(listen::systemd_sockets);
    // From here on every message, errors included, is a log line in the chosen format.
    logging::init(args.log_level, args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, systemd_sockets))
}

/// Where to listen, as the flags say: the systemd sockets when asked for, else every
/// `--web.listen-address`, checked before anything else starts.
enum Listen {
    Systemd(Vec<std::net::TcpListener>),
    Addresses(Vec<ListenAddress>),
}

fn listen_flags(
    args: &Args,
    systemd_sockets: Option<Result<Vec<std::net::TcpListener>, String>>,
) -> Result<Listen, ()> {
    if let Some(sockets) = systemd_sockets {
        return sockets.map(Listen::Systemd).map_err(|message| {
            tracing::error!(error = %message, "cannot serve --web.systemd-socket");
        });
    }
    let mut addresses = Vec::with_capacity(args.listen_addresses.len());
    for text in &args.listen_addresses {
        match ListenAddress::parse(text) {
            Ok(address) => addresses.push(address),
            Err(why) => {
                tracing::error!(address = %text, error = %why, "invalid --web.listen-address");
                return Err(());
            }
        }
    }
    Ok(Listen::Addresses(addresses))
}

/// Binds every address (or adopts systemd's sockets); the error is logged.
async fn listeners(listen: Listen) -> Result<Vec<tokio::net::TcpListener>, ()> {
    let mut listeners = Vec::new();
    match listen {
        Listen::Systemd(sockets) => {
            for socket in sockets {
                let adopted = socket
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::TcpListener::from_std(socket));
                match adopted {
                    Ok(listener) => listeners.push(listener),
                    Err(err) => {
                        tracing::error!(error = %err, "cannot serve --web.systemd-socket");
                        return Err(());
                    }
                }
            }
        }
        Listen::Addresses(addresses) => {
            for address in addresses {
                match address.bind().await {
                    Ok(listener) => listeners.push(listener),
                    Err(err) => {
                        tracing::error!(address = %address, error = %err, "cannot listen on --web.listen-address");
                        return Err(());
                    }
                }
            }
        }
    }
    Ok(listeners)
}

async fn run(
    args: Args,
    systemd_sockets: Option<Result<Vec<std::net::TcpListener>, String>>,
) -> ExitCode {
    if !args.telemetry_path.starts_with('/') || args.telemetry_path.starts_with("/-/") {
        tracing::error!(
            path = %args.telemetry_path,
            "invalid --web.telemetry-path: it must start with / and not with /-/"
        );
        return ExitCode::FAILURE;
    }
    let Ok(listen) = listen_flags(&args, systemd_sockets) else {
        return ExitCode::FAILURE;
    };
    // The demo's simulated Zoho must outlive the exporter, so it is held here.
    let (_demo_zoho, source) = if args.demo {
        match demo::start().await {
            Ok((fake, config)) => (Some(fake), ConfigSource::Fixed(Box::new(config))),
            Err(err) => {
                tracing::error!(error = %err, "cannot start the demo's simulated Zoho");
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
            tracing::error!(error = %message, "config error");
            return ExitCode::FAILURE;
        }
    };

    let web_config = match &args.web_config_file {
        None => None,
        Some(path) => match WebConfig::load(path) {
            Ok(web) => Some(web),
            Err(err) => {
                tracing::error!(error = %err, "invalid --web.config.file");
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

    let Ok(listeners) = listeners(listen).await else {
        return ExitCode::FAILURE;
    };
    let tls = web_config.as_ref().is_some_and(WebConfig::tls_enabled);
    for listener in &listeners {
        match listener.local_addr() {
            Ok(addr) => {
                tracing::info!(address = %addr, orgs = config.orgs.len(), demo = args.demo, tls, "listening")
            }
            Err(_) => tracing::info!(orgs = config.orgs.len(), "listening"),
        }
    }
    let options = server::ServeOptions {
        web_config,
        ..Default::default()
    };
    match server::run_with(
        source,
        config,
        listeners,
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
