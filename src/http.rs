//! The HTTP surface: `/metrics` (or the configured telemetry path), `/-/healthy`, `/-/ready`,
//! `/-/reload` and the HTML status page at `/`.
//!
//! [`router`] is kept apart from serving so tests drive it with `oneshot`, no socket needed.
//! Handlers only read [`SharedState`]; nothing here ever calls Zoho.

use crate::exposition::Format;
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A reload asked for over HTTP; the supervisor answers on the enclosed channel.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct AppState {
    pub shared: SharedState,
    pub telemetry_path: String,
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
}

/// Longest a request may take; a scrape is answered from memory in microseconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(app: AppState) -> Router {
    let telemetry_path = app.telemetry_path.clone();
    let mut router = Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload));
    if telemetry_path != "/" {
        router = router.route("/", get(status_page));
    }
    router
        .route(&telemetry_path, get(metrics))
        .fallback(not_found)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::map_response(harden))
        .with_state(app)
}

/// Headers every answer carries unless its handler set them: no MIME sniffing (metrics and
/// errors are text that may quote cadence names), and no caching by proxies or browsers of
/// what names customers' cadences.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let format = Format::negotiate(header_text(header::ACCEPT));
    let gzipped = accepts_gzip(header_text(header::ACCEPT_ENCODING));
    let parts = app.shared.scrape_parts(format, gzipped);
    let length: usize = parts.iter().map(Bytes::len).sum();
    let mut response = Response::new(Body::from_stream(BodyParts(parts.into_iter())));
    let headers = response.headers_mut();
    // A streamed body has no length of its own; hyper sends this one instead of chunking.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The parts of a scrape body, handed to hyper one after the other without being copied into
/// one buffer.
struct BodyParts(std::array::IntoIter<Bytes, 2>);

impl futures_core::Stream for BodyParts {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next().map(Ok))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// Whether `Accept-Encoding` admits gzip (listed with q > 0, or `*`).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|value| {
        value.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let coding = params.next().unwrap_or_default();
            let refused = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

async fn healthy() -> &'static str {
    "OK\n"
}

async fn ready(State(app): State<AppState>) -> Response {
    if app.shared.ready() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: waiting for the first collection of every org\n",
        )
            .into_response()
    }
}

async fn reload(State(app): State<AppState>) -> Response {
    let Some(reload) = app.reload else {
        return (
            StatusCode::NOT_FOUND,
            "reload is not available in this mode\n",
        )
            .into_response();
    };
    let (answer, result) = oneshot::channel();
    if reload.send(answer).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match result.await {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n").into_response(),
        Ok(Err(message)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {message}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn format_time(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

async fn status_page(State(app): State<AppState>) -> Response {
    let path = escape_html(&app.telemetry_path);
    let mut html = String::with_capacity(4096);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Zoho CRM Cadences Exporter</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.up{color:#060}.down{color:#a00}</style></head><body>\n<h1>Zoho CRM Cadences Exporter</h1>\n");
    let _ = writeln!(
        html,
        "<p>Version {} &middot; <a href=\"{path}\">Metrics</a> &middot; <a href=\"/-/ready\">Readiness</a></p>",
        escape_html(crate::VERSION)
    );
    html.push_str("<table><thead><tr><th>Org</th><th>Status</th><th>Last success</th><th>Cadences</th><th>Active</th><th>Inactive</th><th>Draft</th><th>Enrolled records</th><th>Last error</th></tr></thead><tbody>\n");
    for (org, status) in app.shared.statuses() {
        let (class, word) = match (status.attempted, status.up) {
            (false, _) => ("", "waiting for first collection"),
            (true, true) => ("up", "up"),
            (true, false) => ("down", "down"),
        };
        let (total, active, inactive, draft) = status.snapshot.as_ref().map_or((0, 0, 0, 0), |s| {
            (
                s.cadences.len() as u64,
                s.active_count(),
                s.inactive_count(),
                s.draft_count(),
            )
        });
        let enrolled = status
            .enrolled_records()
            .map_or_else(|| "&ndash;".to_owned(), |n| n.to_string());
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{total}</td><td>{active}</td><td>{inactive}</td><td>{draft}</td><td>{enrolled}</td><td>{}</td></tr>",
            escape_html(&org),
            status.last_success.map(format_time).unwrap_or_else(|| "never".to_owned()),
            escape_html(status.last_error.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</tbody></table>\n</body></html>\n");
    let mut response = Response::new(Body::from(html));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
