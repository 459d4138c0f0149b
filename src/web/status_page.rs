//! The HTML status page at `/`: each org's collection health, cadence counts and enrolled
//! records, for a person looking at one exporter. Everything shown is escaped (cadence names and
//! Zoho's error texts are free text), and the page forbids scripts and framing.

use crate::store::OrgStatus;
use crate::web::routes::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use std::fmt::Write as _;

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Zoho CRM Cadences Exporter</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.up{color:#060}.down{color:#a00}</style></head><body>\n<h1>Zoho CRM Cadences Exporter</h1>\n";
const TABLE_HEAD: &str = "<table><thead><tr><th>Org</th><th>Status</th><th>Last success</th><th>Cadences</th><th>Active</th><th>Inactive</th><th>Enrolled records</th><th>Last error</th></tr></thead><tbody>\n";
/// Stricter than the web config may set: the page needs nothing but its own inline style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
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

pub(crate) async fn status_page(State(app): State<AppState>) -> Response {
    let path = escape_html(&app.telemetry_path);
    let mut html = String::with_capacity(4096);
    html.push_str(HEAD);
    // Relative links (`./metrics`, not `/metrics`), so the page works behind a proxy that
    // serves it under a path prefix (https://host/prefix/), as exporter-toolkit's page does.
    let _ = writeln!(
        html,
        "<p>Version {} &middot; <a href=\".{path}\">Metrics</a> &middot; <a href=\"./-/ready\">Readiness</a></p>",
        escape_html(crate::support::build::VERSION)
    );
    html.push_str(TABLE_HEAD);
    for (org, status) in app.shared.statuses() {
        org_row(&mut html, &org, &status);
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
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// One org's row of the table.
fn org_row(html: &mut String, org: &str, status: &OrgStatus) {
    let health = &status.health;
    let (class, word) = match (health.attempted, health.up) {
        (false, _) => ("", "waiting for first collection"),
        (true, true) => ("up", "up"),
        (true, false) => ("down", "down"),
    };
    let (total, active, inactive) = status.snapshot.as_ref().map_or((0, 0, 0), |s| {
        (
            s.cadences().len() as u64,
            s.active_count(),
            s.inactive_count(),
        )
    });
    let enrolled = status
        .enrolled_records()
        .map_or_else(|| "&ndash;".to_owned(), |n| n.to_string());
    let _ = writeln!(
        html,
        "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{total}</td><td>{active}</td><td>{inactive}</td><td>{enrolled}</td><td>{}</td></tr>",
        escape_html(org),
        health.last_success.map(format_time).unwrap_or_else(|| "never".to_owned()),
        escape_html(health.last_error.as_deref().unwrap_or("")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
