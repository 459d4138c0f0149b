//! The command line: the flags ([`Args`]) and what the binary does with them ([`run`]): check
//! the config, collect once, or serve.

use crate::app::demo;
use crate::config::source::ConfigSource;
use crate::config::Config;
use crate::support::logging::{LogFormat, LogLevel};
use crate::web::reload::WebConfig;
use std::path::PathBuf;
use std::process::ExitCode;

/// Prometheus exporter for Zoho CRM cadences.
#[derive(Debug, clap::Parser)]
#[command(name = "zoho-cadences-exporter", version, about)]
pub struct Args {
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

impl Args {
    /// Installs the log output the flags ask for.
    pub fn init_logging(&self) {
        crate::support::logging::init(self.log_level, self.log_format);
    }
}

/// A problem that ends the process with a message and exit code 1.
type Failure = String;

/// Does what the flags say; the exit code tells whether it went well.
pub async fn run(args: Args) -> ExitCode {
    match run_checked(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_checked(args: Args) -> Result<ExitCode, Failure> {
    if !args.telemetry_path.starts_with('/') || args.telemetry_path.starts_with("/-/") {
        return Err(format!(
            "--web.telemetry-path: {:?} must start with / and not with /-/",
            args.telemetry_path
        ));
    }
    // The demo's simulated Zoho must outlive the exporter, so it is held here.
    let (_demo_zoho, source) = config_source(&args).await?;
    let config = source
        .load()
        .map_err(|message| format!("config error: {message}"))?;
    let web_config = match &args.web_config_file {
        None => None,
        Some(path) => {
            Some(WebConfig::load(path).map_err(|err| format!("--web.config.file: {err}"))?)
        }
    };
    if args.config_check {
        print_check(&config, web_config.as_ref());
        return Ok(ExitCode::SUCCESS);
    }
    if args.once {
        let (exposition, all_succeeded) = crate::app::once::collect_once(&config).await;
        print!("{exposition}");
        return Ok(if all_succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    serve(args, source, config, web_config).await
}

/// Where the config comes from: the demo, `--config.file`, or the environment. The demo's
/// simulated Zoho comes along, to be kept running.
async fn config_source(args: &Args) -> Result<(Option<demo::DemoZoho>, ConfigSource), Failure> {
    if args.demo {
        let (zoho, config) = demo::start().await?;
        return Ok((Some(zoho), ConfigSource::Fixed(Box::new(config))));
    }
    Ok(match &args.config_file {
        Some(path) => (None, ConfigSource::File(path.clone())),
        None => (None, ConfigSource::Environment),
    })
}

/// `--config.check`: what was found valid.
fn print_check(config: &Config, web_config: Option<&WebConfig>) {
    println!("config OK: {}", config.summary());
    if let Some(web) = web_config {
        let on_off = |on| if on { "on" } else { "off" };
        println!(
            "web config OK: TLS {}, basic auth {}",
            on_off(web.tls_enabled()),
            on_off(web.basic_auth_enabled()),
        );
    }
}

/// Binds the listen address and serves until SIGTERM or SIGINT.
async fn serve(
    args: Args,
    source: ConfigSource,
    config: Config,
    web_config: Option<WebConfig>,
) -> Result<ExitCode, Failure> {
    let listener = bind(&args.listen_address)
        .await
        .map_err(|err| format!("--web.listen-address {:?}: {err}", args.listen_address))?;
    let orgs = config.orgs.len();
    match listener.local_addr() {
        Ok(addr) => {
            let tls = web_config.as_ref().is_some_and(WebConfig::tls_enabled);
            tracing::info!(address = %addr, orgs, demo = args.demo, tls, "listening")
        }
        Err(_) => tracing::info!(orgs, "listening"),
    }
    let options = crate::app::serve::ServeOptions {
        web_config,
        ..Default::default()
    };
    let shutdown = crate::app::signals::shutdown_signal();
    match crate::app::serve::run(
        source,
        config,
        listener,
        args.telemetry_path,
        options,
        shutdown,
    )
    .await
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            Ok(ExitCode::FAILURE)
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
