//! The HTTP surface: `/metrics` (or the configured telemetry path; `?org=` for some orgs only),
//! `/-/healthy`, `/-/ready`, `/-/reload`, the HTML status pages at `/` and `/orgs/<name>`
//! ([`crate::web::status_page`]) and Prometheus service discovery at `/sd` ([`crate::web::sd`]).
//!
//! [`router`] is kept apart from serving so tests drive it with `oneshot`, no socket needed.
//! Handlers only read [`SharedState`]; nothing here ever calls Zoho.

use crate::render::negotiate::{accepts_gzip, Format};
use crate::store::{SharedState, UnknownOrgs};
use crate::web::reload::WebConfig;
use crate::web::status_page;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A reload asked for over HTTP; the supervisor answers on the enclosed channel.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What the routes serve from.
#[derive(Clone)]
pub struct AppState {
    pub shared: SharedState,
    pub telemetry_path: String,
    /// Where `POST /-/reload` asks for a reload; `None` answers 404.
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// `--web.config.file`, whose rate limit, basic auth and headers guard every route.
    pub web: Option<WebConfig>,
}

/// Longest a request may take; a scrape is answered from memory in microseconds.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Every route, with the request timeout, the web config's guard around them all (the fallback
/// included: exporter-toolkit protects everything), and the security headers around that, so
/// the guard's own refusals get them too.
pub fn router(app: AppState) -> Router {
    let telemetry_path = app.telemetry_path.clone();
    let web = app.web.clone();
    let mut router = Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload));
    if telemetry_path != "/" {
        router = router.route("/", get(status_page::index_page));
    }
    router = router.route("/orgs/{name}", get(status_page::org_page));
    if telemetry_path != "/sd" {
        router = router.route("/sd", get(crate::web::sd::sd));
    }
    let mut router = router
        .route(&telemetry_path, get(metrics))
        .fallback(not_found)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(app);
    if let Some(web) = web {
        router = router.layer(axum::middleware::from_fn_with_state(
            web,
            crate::web::auth::guard,
        ));
    }
    router.layer(axum::middleware::map_response(harden))
}

/// Headers every answer carries unless its handler set them: no MIME sniffing (metrics and
/// errors are text that may quote cadence names), and no caching by proxies or browsers of
/// what names customers' cadences. The one place they are set.
pub(crate) async fn harden(mut response: Response) -> Response {
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

/// `/metrics`: every org, or with `?org=NAME` (repeatable) only the series of those orgs and the
/// build info, so that each org can be a Prometheus target of its own. Any other query parameter
/// is ignored, as it always was.
async fn metrics(
    State(app): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let format = Format::negotiate(header_text(header::ACCEPT));
    let gzipped = accepts_gzip(header_text(header::ACCEPT_ENCODING));
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let orgs: Vec<&str> = (pairs.iter())
        .filter(|(key, _)| key == "org")
        .map(|(_, org)| org.as_str())
        .collect();
    let parts: Vec<Bytes> = if orgs.is_empty() {
        app.shared.scrape_all(format, gzipped)
    } else {
        match app.shared.scrape_orgs(&orgs, format, gzipped) {
            Ok(parts) => parts,
            Err(UnknownOrgs(unknown)) => return unknown_orgs(&unknown),
        }
    };
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

/// 404 naming each org asked for that this process does not collect (quoted and escaped: the
/// names come from the request).
fn unknown_orgs(unknown: &[String]) -> Response {
    let lines: String = (unknown.iter())
        .map(|org| format!("unknown org {org:?}\n"))
        .collect();
    (StatusCode::NOT_FOUND, lines).into_response()
}

/// The parts of a scrape body, handed to hyper one after the other without being copied into
/// one buffer.
struct BodyParts(std::vec::IntoIter<Bytes>);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::cadence::tests::cadence;
    use crate::domain::cadence::Status;
    use crate::domain::snapshot::OrgSnapshot;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::time::SystemTime;
    use tower::ServiceExt;

    /// Moved here from the HTTP tests: only the crate can see whether a part is inflated.
    #[tokio::test]
    async fn a_large_plain_part_lives_only_while_a_response_holds_it() {
        let config = Config::parse(
            "orgs:\n  - {name: org0, client_id: i, client_secret: s, refresh_token: r}\n",
        )
        .unwrap();
        let state = SharedState::new(&config);
        // 4,000 cadences make a plain cadence part above 1 MiB, which is kept only gzipped.
        let cadences = (0..4_000)
            .map(|n| {
                let status = if n % 2 == 0 {
                    Status::Active
                } else {
                    Status::Inactive
                };
                cadence(&n.to_string(), "Leads", status)
            })
            .collect();
        let snapshot = OrgSnapshot::build(cadences, SystemTime::UNIX_EPOCH);
        state.publish_snapshot("org0", Arc::new(snapshot)).await;
        let app = || {
            router(AppState {
                shared: state.clone(),
                telemetry_path: "/metrics".to_owned(),
                reload: None,
                web: None,
            })
        };
        let scrape = || app().oneshot(Request::get("/metrics").body(Body::empty()).unwrap());
        let joined = state.joined(Format::Text);
        let text = joined.plain_part();
        assert!(!text.is_inflated(), "kept gzipped after encoding");

        let response = scrape().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.len() > 1024 * 1024, "{} bytes", body.len());
        assert!(!text.is_inflated(), "freed once the response was taken");

        // A response not yet sent holds the plain text, and a scrape meanwhile shares it.
        let pending = scrape().await.unwrap();
        assert!(text.is_inflated(), "held by the pending response");
        let second = scrape().await.unwrap();
        let second = second.into_body().collect().await.unwrap().to_bytes();
        assert!(text.is_inflated(), "still held by the pending one");
        let first = pending.into_body().collect().await.unwrap().to_bytes();
        assert!(!text.is_inflated(), "freed after the last response");
        let cadence_part = text.bytes();
        assert!(first.starts_with(&cadence_part) && second.starts_with(&cadence_part));
    }
}
