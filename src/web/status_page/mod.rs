//! The HTML status pages, for someone who has no Grafana: `/` answers "what needs attention?"
//! across orgs (orgs down, cadences an expectation wants active that are not, expectations
//! that match nothing, cadences switched off or deleted since start), and `/orgs/<name>` lists
//! one org's cadences, sortable, filterable and paged through query parameters.
//!
//! [`model`] computes what to show from the shared state, [`table`] one org's cadence table,
//! [`html`] renders them with maud (escaping by construction). No script runs: every control is
//! a link. The pages read the state only, like every route, and carry a strict
//! Content-Security-Policy; the headers every answer gets are set by the router.

mod html;
mod model;
mod table;

use crate::store::SharedState;
use crate::web::routes::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use maud::Markup;
use model::{attention, summary, OrgView};
use std::time::{Duration, SystemTime};
use table::{table, TableQuery};

pub use table::PAGE_SIZE;

/// Nothing but inline styles: no script, image, frame, form or base URL.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every configured org, with what the pages need of it.
fn org_views(state: &SharedState) -> Vec<OrgView> {
    state
        .statuses()
        .into_iter()
        .map(|(name, status)| {
            let token_expiry = state.telemetry().org(&name).token_expiry();
            OrgView::new(name, status, token_expiry)
        })
        .collect()
}

/// `GET /`: every org at a glance and what needs attention.
pub(crate) async fn index_page(State(app): State<AppState>) -> Response {
    index(&app.shared, &app.telemetry_path, SystemTime::now())
}

/// `GET /orgs/<name>`: one org's cadences; the query sorts, filters and pages them.
pub(crate) async fn org_page(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    org(
        &app.shared,
        &app.telemetry_path,
        &name,
        &params,
        SystemTime::now(),
    )
}

/// The telemetry path relative to `/` (`./metrics`), so that it works under a path prefix.
fn metrics_href(telemetry_path: &str, up: &str) -> String {
    format!("{up}{}", telemetry_path.trim_start_matches('/'))
}

/// The page at `/` as of `now`.
fn index(state: &SharedState, telemetry_path: &str, now: SystemTime) -> Response {
    let orgs = org_views(state);
    let attention = attention(&orgs);
    let summary = summary(&orgs, &attention);
    respond(
        StatusCode::OK,
        html::index(
            &orgs,
            &attention,
            &summary,
            &metrics_href(telemetry_path, "./"),
            now,
        ),
    )
}

/// The page at `/orgs/<name>` with the table's query parameters, as of `now`.
fn org(
    state: &SharedState,
    telemetry_path: &str,
    name: &str,
    params: &[(String, String)],
    now: SystemTime,
) -> Response {
    let Some(org) = org_views(state).into_iter().find(|o| o.name == name) else {
        return respond(
            StatusCode::NOT_FOUND,
            html::problem(
                "Org not found",
                &format!("No org named {name:?} is configured."),
            ),
        );
    };
    let query = match TableQuery::parse(params) {
        Ok(query) => query,
        Err(message) => {
            return respond(
                StatusCode::BAD_REQUEST,
                html::problem("Bad query", &message),
            )
        }
    };
    let orgs = [org];
    let attention = attention(&orgs);
    let org = &orgs[0];
    let table = table(org, &query);
    let modules: Vec<&str> = org
        .snapshot()
        .map(|s| s.modules().keys().map(|m| &**m).collect())
        .unwrap_or_default();
    respond(
        StatusCode::OK,
        html::org_page(
            org,
            &attention,
            &table,
            &query,
            &modules,
            &metrics_href(telemetry_path, "../"),
            now,
        ),
    )
}

fn respond(status: StatusCode, page: Markup) -> Response {
    let mut response = Response::new(Body::from(page.into_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Percent-encodes everything but RFC 3986's unreserved characters: org names in paths, module
/// names in query strings, cadence ids in fragments.
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A time as RFC 3339 in UTC, to the second.
pub(crate) fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A duration as people say it: "42 s", "4 min", "3 h 12 min", "2 d 5 h".
fn spoken(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => match (s / 3_600, s % 3_600 / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        _ => match (s / 86_400, s % 86_400 / 3_600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

/// How long from `from` to `now` ("0 s" for a time ahead of `now`).
pub(crate) fn duration(now: SystemTime, from: SystemTime) -> String {
    spoken(now.duration_since(from).unwrap_or_default())
}

/// "4 min ago".
pub(crate) fn ago(now: SystemTime, then: SystemTime) -> String {
    format!("{} ago", duration(now, then))
}

/// "in 4 min", or "past" for a time already past.
pub(crate) fn until(now: SystemTime, then: SystemTime) -> String {
    match then.duration_since(now) {
        Ok(left) => format!("in {}", spoken(left)),
        Err(_) => "past".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_spoken() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let before = |s| now - Duration::from_secs(s);
        assert_eq!(ago(now, before(42)), "42 s ago");
        assert_eq!(ago(now, before(4 * 60 + 59)), "4 min ago");
        assert_eq!(ago(now, before(3 * 3_600)), "3 h ago");
        assert_eq!(ago(now, before(3 * 3_600 + 12 * 60)), "3 h 12 min ago");
        assert_eq!(ago(now, before(2 * 86_400 + 5 * 3_600)), "2 d 5 h ago");
        assert_eq!(until(now, now + Duration::from_secs(75)), "in 1 min");
        assert_eq!(until(now, before(1)), "past");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("acme-eu_1.x~"), "acme-eu_1.x~");
        assert_eq!(
            encode_component("a b/<é>?#&"),
            "a%20b%2F%3C%C3%A9%3E%3F%23%26"
        );
    }

    #[test]
    fn the_metrics_link_is_relative() {
        assert_eq!(metrics_href("/metrics", "./"), "./metrics");
        assert_eq!(metrics_href("/x/metrics", "../"), "../x/metrics");
    }
}
