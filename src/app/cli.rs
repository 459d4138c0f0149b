//! The command line: the flags ([`Args`]) and what the binary does with them ([`run_cli`]): print
//! the version, check the config, collect once, or serve. Every error after the flags are parsed
//! is a log line in the `--log.format` chosen.

use crate::app::demo;
use crate::app::shard::{hostname, parse_shard_flag, shard_from_flags, ShardFlag};
use crate::config::shard::Shard;
use crate::config::source::ConfigSource;
use crate::config::Config;
use crate::support::logging::{LogFormat, LogLevel};
use crate::web::listen::{self, Listen, ListenAddress};
use crate::web::reload::WebConfig;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// This process's shard: a number below --total-shards, or `auto` for the trailing
    /// -<ordinal> of the hostname (a StatefulSet's pod name). It collects, serves and waits
    /// for only the orgs whose FNV-1a 64 hash of the name, mod --total-shards, is this number.
    #[arg(long, value_name = "N|auto", default_value = "0", value_parser = parse_shard_flag)]
    shard: ShardFlag,
    /// How many shards share the orgs of the config.
    #[arg(long = "total-shards", value_name = "M", default_value_t = 1)]
    total_shards: u64,
}

/// The binary: sets the allocator up, parses the flags, takes systemd's sockets when asked to,
/// installs the log output, and runs the rest on a runtime.
pub fn run_cli() -> ExitCode {
    crate::support::malloc::configure();
    let args = Args::parse();
    if args.version {
        print!("{}", crate::support::build::version_report());
        return ExitCode::SUCCESS;
    }
    // Before the runtime's threads start and before anything opens a file: this takes the
    // descriptors systemd passed and removes its variables from the environment.
    let systemd_sockets = args.systemd_socket.then(listen::systemd_sockets);
    // From here on every message, errors included, is a log line in the chosen format.
    crate::support::logging::init(args.log_level, args.log_format);
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
    runtime.block_on(async {
        match run(args, systemd_sockets).await {
            Ok(code) => code,
            Err(()) => ExitCode::FAILURE,
        }
    })
}

/// Sockets systemd passed, or why there are none.
type SystemdSockets = Option<Result<Vec<std::net::TcpListener>, String>>;

/// Does what the flags say; an error has been logged.
async fn run(args: Args, systemd_sockets: SystemdSockets) -> Result<ExitCode, ()> {
    if !args.telemetry_path.starts_with('/') || args.telemetry_path.starts_with("/-/") {
        tracing::error!(
            path = %args.telemetry_path,
            "invalid --web.telemetry-path: it must start with / and not with /-/"
        );
        return Err(());
    }
    let listen = listen_flags(&args, systemd_sockets)?;
    let shard = shard_from_flags(args.shard, args.total_shards, hostname).map_err(|message| {
        tracing::error!(error = %message, "invalid sharding flags");
    })?;
    // The demo's simulated Zoho must outlive the exporter, so it is held here.
    let (_demo_zoho, source) = config_source(&args).await?;
    let config = source.load().map_err(|message| {
        tracing::error!(error = %message, "config error");
    })?;
    let web_config = match &args.web_config_file {
        None => None,
        Some(path) => Some(WebConfig::load(path).map_err(|err| {
            tracing::error!(error = %err, "invalid --web.config.file");
        })?),
    };
    if args.config_check {
        print_check(&config, web_config.as_ref(), shard);
        return Ok(ExitCode::SUCCESS);
    }
    if args.once {
        let config = shard.filter(config);
        let (exposition, all_succeeded) = crate::app::once::collect_once(&config).await;
        print!("{exposition}");
        return Ok(if all_succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let listeners = listen.listeners().await?;
    serve(args, source, config, web_config, listeners, shard).await
}

/// Where to listen, as the flags say: the systemd sockets when asked for, else every
/// `--web.listen-address`, checked before anything else starts.
fn listen_flags(args: &Args, systemd_sockets: SystemdSockets) -> Result<Listen, ()> {
    if let Some(sockets) = systemd_sockets {
        return sockets.map(Listen::Systemd).map_err(|message| {
            tracing::error!(error = %message, "cannot serve --web.systemd-socket");
        });
    }
    let mut addresses = Vec::with_capacity(args.listen_addresses.len());
    for text in &args.listen_addresses {
        let address = ListenAddress::parse(text).map_err(|why| {
            tracing::error!(address = %text, error = %why, "invalid --web.listen-address");
        })?;
        addresses.push(address);
    }
    Ok(Listen::Addresses(addresses))
}

/// Where the config comes from: the demo, `--config.file`, or the environment. The demo's
/// simulated Zoho comes along, to be kept running.
async fn config_source(args: &Args) -> Result<(Option<demo::DemoZoho>, ConfigSource), ()> {
    if args.demo {
        let (zoho, config) = demo::start().await.map_err(|err| err.log())?;
        return Ok((Some(zoho), ConfigSource::Fixed(Box::new(config))));
    }
    Ok(match &args.config_file {
        Some(path) => (None, ConfigSource::File(path.clone())),
        None => (None, ConfigSource::Environment),
    })
}

/// `--config.check`: what was found valid, and which of its orgs this shard collects.
fn print_check(config: &Config, web_config: Option<&WebConfig>, shard: Shard) {
    println!("config OK: {}", config.summary());
    if shard != Shard::default() {
        let orgs = shard.filter(config.clone()).orgs.len();
        println!(
            "shard {} of {}: {orgs} org(s) of the config",
            shard.ordinal(),
            shard.total()
        );
    }
    if let Some(web) = web_config {
        let on_off = |on| if on { "on" } else { "off" };
        println!(
            "web config OK: TLS {}, basic auth {}",
            on_off(web.tls_enabled()),
            on_off(web.basic_auth_enabled()),
        );
    }
}

/// Serves on every listener until SIGTERM or SIGINT.
async fn serve(
    args: Args,
    source: ConfigSource,
    config: Config,
    web_config: Option<WebConfig>,
    listeners: Vec<tokio::net::TcpListener>,
    shard: Shard,
) -> Result<ExitCode, ()> {
    let orgs = shard.filter(config.clone()).orgs.len();
    let (ordinal, total) = (shard.ordinal(), shard.total());
    if orgs == 0 {
        tracing::warn!(shard = ordinal, total_shards = total, "no org of the config belongs to this shard; it serves only its own metrics until a reload brings one");
    }
    let tls = web_config.as_ref().is_some_and(WebConfig::tls_enabled);
    for listener in &listeners {
        match listener.local_addr() {
            Ok(addr) => {
                tracing::info!(address = %addr, orgs, shard = ordinal, total_shards = total, demo = args.demo, tls, "listening")
            }
            Err(_) => tracing::info!(orgs, "listening"),
        }
    }
    let options = crate::app::serve::ServeOptions {
        web_config,
        shard,
        ..Default::default()
    };
    let shutdown = crate::app::signals::shutdown_signal();
    let served = crate::app::serve::run(
        source,
        config,
        listeners,
        args.telemetry_path,
        options,
        shutdown,
    );
    match served.await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            Ok(ExitCode::FAILURE)
        }
    }
}
