//! Log output: logfmt (the Prometheus ecosystem's default) or JSON, at the `--log.level` chosen.
//!
//! tracing-subscriber has JSON built in but no logfmt, so [`Logfmt`] formats events as
//! `ts=… level=info msg="…" key=value`, quoting values that need it. Written here rather than
//! taken from tracing-logfmt, the maintained logfmt layer: that one names the message field
//! `message` (not `msg`), adds `target=`, and writes nanosecond timestamps through the `time`
//! crate, so every log line users and alerts on logs rely on would change.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    fn level(self) -> Level {
        match self {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warn => Level::WARN,
            LogLevel::Info => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
        }
    }
}

/// Installs the global subscriber, writing to stderr. The chosen level applies to the
/// exporter's own events; libraries (HTTP, TLS) only get through at warn and above, so debug
/// output stays about cadences and Zoho, not connection pools.
pub(crate) fn init(level: LogLevel, format: LogFormat) {
    let filter = Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), level.level())
        .with_default(LevelFilter::WARN.min(LevelFilter::from_level(level.level())));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .try_init(),
        LogFormat::Logfmt => tracing_subscriber::registry()
            .with(layer.event_format(Logfmt).with_filter(filter))
            .try_init(),
    };
}

/// `ts=2026-11-29T08:00:00.000Z level=info msg="config reloaded" orgs=2`
pub(crate) struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        write!(
            writer,
            "ts={} level={}",
            humantime::format_rfc3339_millis(std::time::SystemTime::now()),
            metadata.level().as_str().to_ascii_lowercase()
        )?;
        let mut visitor = LogfmtFields::default();
        event.record(&mut visitor);
        if let Some(message) = visitor.message {
            write!(writer, " msg={}", quote(&message))?;
        }
        write!(writer, "{}", visitor.fields)?;
        writeln!(writer)
    }
}

#[derive(Default)]
struct LogfmtFields {
    message: Option<String>,
    fields: String,
}

impl Visit for LogfmtFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            use std::fmt::Write;
            let _ = write!(self.fields, " {}={}", field.name(), quote(value));
        }
    }
}

/// Quotes a logfmt value when it is empty or holds spaces, quotes, `=` or control characters.
/// Inside quotes, as go-logfmt writes them: `\"`, `\\`, `\n`, `\r`, `\t`, and any other control
/// character as `\u00XX`, so that one event is always one line whatever a value holds.
pub(crate) fn quote(value: &str) -> String {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c == '\\' || c.is_control());
    if !needs_quotes {
        return value.to_owned();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {
                use std::fmt::Write;
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn logfmt_quoting() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("a=\"b\"\n"), "\"a=\\\"b\\\"\\n\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn control_characters_never_break_a_line() {
        // A carriage return left raw would let a value overwrite the start of its own line on a
        // terminal, or look like a line end to log shippers that split on CR.
        assert_eq!(quote("a\rb"), "\"a\\rb\"");
        assert_eq!(quote("tab\there"), "\"tab\\there\"");
        assert_eq!(quote("bell\u{7}"), "\"bell\\u0007\"");
        assert_eq!(quote("del\u{7f}"), "\"del\\u007f\"");
        for value in ["x\r\ny", "\u{1b}[31mred", "\u{85}next"] {
            let quoted = quote(value);
            assert!(!quoted.chars().any(char::is_control), "{quoted:?}");
        }
    }
}
