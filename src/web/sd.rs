//! `GET /sd`: Prometheus HTTP service discovery (`http_sd_configs`), one target group per org
//! this process collects, so that each org is scraped as a target of its own through
//! `<telemetry path>?org=<org>`.
//!
//! The format (Prometheus' `http_sd_config`): a JSON list of `{"targets": [...], "labels":
//! {...}}`. Each group's target is the address the request was made to (its `Host`), so the
//! answer is right behind any name, port or proxy Prometheus reaches the exporter by; the labels
//! set the scrape's `org` parameter (`__param_org`), its path (`__metrics_path__`) and an
//! `instance` of `<host:port>/<org>`, so that every org has its own `up` series and the scraped
//! `org` label is left alone. No relabelling is needed.

use crate::web::routes::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;

/// One target group of the HTTP SD format.
#[derive(Debug, Serialize)]
struct TargetGroup {
    targets: [String; 1],
    labels: BTreeMap<&'static str, String>,
}

pub(crate) async fn sd(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let host = match host(&headers) {
        Ok(host) => host,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
    };
    let groups: Vec<TargetGroup> = app
        .shared
        .statuses()
        .into_iter()
        .map(|(org, _)| TargetGroup {
            targets: [host.to_owned()],
            labels: BTreeMap::from([
                ("__metrics_path__", app.telemetry_path.clone()),
                ("instance", format!("{host}/{org}")),
                ("__param_org", org),
            ]),
        })
        .collect();
    Json(groups).into_response()
}

/// The request's `Host`: a `host[:port]` that Prometheus can scrape, or why not.
fn host(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = headers
        .get(header::HOST)
        .ok_or("the Host header is missing: /sd answers with the address it was asked at")?;
    let text = value
        .to_str()
        .map_err(|_| "the Host header is not plain text")?;
    // An address only: no path, user info, query or spaces that would change what is scraped.
    let plain = |c: char| c.is_ascii_graphic() && !matches!(c, '/' | '@' | '?' | '#' | '\\');
    if text.is_empty() || !text.chars().all(plain) {
        return Err("the Host header is not a host[:port]");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::SharedState;
    use crate::web::routes::router;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_sd(telemetry_path: &str, host: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let config = Config::parse(
            "orgs:\n  - {name: acme, client_id: i, client_secret: s, refresh_token: r}\n  - {name: globex, client_id: i, client_secret: s, refresh_token: r}\n",
        )
        .unwrap();
        let app = router(AppState {
            shared: SharedState::new(&config),
            telemetry_path: telemetry_path.to_owned(),
            reload: None,
            web: None,
        });
        let mut request = Request::get("/sd");
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    /// The HTTP SD format: a list of groups, each with a list of string targets and a map of
    /// string labels; nothing else.
    #[tokio::test]
    async fn one_target_group_per_org_in_the_http_sd_format() {
        let (status, headers, body) = get_sd("/probe", Some("exporter.example:10263")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let groups: serde_json::Value = serde_json::from_str(&body).unwrap();
        let expected = serde_json::json!([
            {"targets": ["exporter.example:10263"], "labels": {
                "__param_org": "acme", "__metrics_path__": "/probe",
                "instance": "exporter.example:10263/acme"}},
            {"targets": ["exporter.example:10263"], "labels": {
                "__param_org": "globex", "__metrics_path__": "/probe",
                "instance": "exporter.example:10263/globex"}},
        ]);
        assert_eq!(groups, expected);
        for group in groups.as_array().unwrap() {
            let group = group.as_object().unwrap();
            assert_eq!(group.len(), 2);
            assert!(group["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.is_string()));
            assert!(group["labels"]
                .as_object()
                .unwrap()
                .values()
                .all(|v| v.is_string()));
        }
    }

    #[tokio::test]
    async fn a_request_without_a_usable_host_is_refused_naming_it() {
        let (status, _, body) = get_sd("/metrics", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("Host header is missing"), "{body}");
        let (status, _, body) = get_sd("/metrics", Some("evil.example/x?y")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("Host header is not a host[:port]"), "{body}");
    }
}
