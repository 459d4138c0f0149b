//! The HTTP surface: `/metrics` (or the configured telemetry path), `/-/healthy`, `/-/ready`,
//! `/-/reload`, and the HTML status pages at `/` and `/orgs/<name>` ([`crate::status_page`]).
//!
//! [`router`] is kept apart from serving so tests drive it with `oneshot`, no socket needed.
//! Handlers only read [`SharedState`]; nothing here ever calls Zoho.

use crate::exposition::Format;
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use std::time::{Duration, SystemTime};
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
    router = router.route("/orgs/{name}", get(org_page));
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

/// `/`: every org at a glance and what needs attention.
async fn status_page(State(app): State<AppState>) -> Response {
    crate::status_page::index(&app.shared, &app.telemetry_path, SystemTime::now())
}

/// `/orgs/<name>`: one org's cadences; the query sorts, filters and pages them.
async fn org_page(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    crate::status_page::org(
        &app.shared,
        &app.telemetry_path,
        &name,
        &params,
        SystemTime::now(),
    )
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
}
