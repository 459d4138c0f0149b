//! The HTTP client of one Zoho org: authorized GETs with retries, and every limit Zoho sets.
//!
//! Why it is shaped this way (all from `api-notes.md`):
//! - Transient failures (timeout, connection error, 5xx, 429) are retried with exponential
//!   back-off and full jitter, bounded by [`Limits::max_attempts`] and the pass's deadline; a
//!   `Retry-After` stops every call of this org until it passes. Configuration problems
//!   (OAUTH_SCOPE_MISMATCH, NO_PERMISSION, FEATURE_NOT_ENABLED) are never retried.
//! - Bodies are read up to `max_response_bytes`; anything larger is an error of its own class.
//! - Every attempt is counted in the org's [`OrgTelemetry`], every failed one by error label;
//!   a failure found after the transport (an answer that does not decode, a refused token) is
//!   counted through [`ZohoClient::counted`].
//! - Some non-2xx answers are answers all the same (an [`AnswerRule`] says which): the 400s of
//!   Zoho's specification that list an error per item.
//!
//! The OAuth token cache is [`crate::zoho::token`]. Credentials are taken from
//! [`WatchedCredentials`] at each token request, so a rotated file applies without a reload; a
//! new refresh token drops the cached access token. Secrets reach the wire only through
//! [`crate::support::secret::Secret::expose`] and never appear in an error.

use crate::config::OrgConfig;
use crate::metrics::labels::{Endpoint, RateLimitWindow};
use crate::metrics::telemetry::{OrgTelemetry, RateLimit};
use crate::zoho::credentials::WatchedCredentials;
use crate::zoho::error::ZohoError;
use crate::zoho::token::TokenState;
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How hard the client tries and how long it backs off. [`Limits::default`] is what the
/// exporter runs with; tests shorten the waits to keep real-time tests fast, never the counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Back-off before retry n is a random duration up to min(cap, base * 2^(n-1)).
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Refused token refreshes back off from this, doubling, up to `token_backoff_cap`.
    pub token_backoff_base: Duration,
    pub token_backoff_cap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attempts: 4,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(30),
            token_backoff_base: Duration::from_secs(30),
            token_backoff_cap: Duration::from_secs(30 * 60),
        }
    }
}

/// Everything a client is built from: a change to any of it needs a new client (and so a new
/// token); an equal spec keeps the running one across a reload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientSpec {
    pub(crate) org: OrgConfig,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: u64,
    pub(crate) limits: Limits,
}

/// A successful HTTP answer: status and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// Whether a non-2xx answer (status, body) is an answer all the same: Zoho's specification
/// answers some requests with HTTP 400 and a list of per-item errors, which the caller reads
/// and counts item by item.
pub(crate) type AnswerRule = fn(u16, &[u8]) -> bool;

/// Only 2xx answers are answers.
pub(crate) fn only_success(_: u16, _: &[u8]) -> bool {
    false
}

/// A cadence (by id; `None` for those without a usable id) and the path of a field it could not
/// read: what is logged at warn once (`crate::zoho::cadences`).
pub(super) type UnreadKey = (Option<String>, String);

impl Answer {
    /// Whether the answer says "nothing here": 204, or a body of whitespace only.
    pub(crate) fn is_empty(&self) -> bool {
        self.status == 204 || self.body.iter().all(u8::is_ascii_whitespace)
    }
}

/// The client of one org. Shared by that org's collection and side loops.
pub(crate) struct ZohoClient {
    pub(super) http: reqwest::Client,
    /// The org as configured; its credentials are those of the load, and the ones in force are
    /// in `credentials`.
    pub(super) spec: ClientSpec,
    pub(super) credentials: WatchedCredentials,
    pub(super) telemetry: Arc<OrgTelemetry>,
    pub(super) token: Mutex<TokenState>,
    /// Set from a `Retry-After` header: no call to Zoho before this instant.
    not_before: StdMutex<Option<Instant>>,
    /// The unreadable cadence fields already logged at warn; a complete collection keeps only
    /// those it saw again, so a field that was fixed and breaks again is logged again, and the
    /// set never outgrows one collection's problems.
    pub(super) unread_logged: StdMutex<HashSet<UnreadKey>>,
    /// The cadence page the current (or last) collection reads, so a failure can name it.
    pub(super) cadences_page: AtomicU32,
}

/// The one HTTP client configuration: rustls with ring, no redirects (an access token must not
/// follow a redirect), a user agent naming the exporter.
pub(crate) fn http_client() -> reqwest::Client {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .user_agent(concat!(
            "zoho-cadences-exporter/",
            env!("CARGO_PKG_VERSION")
        ))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .expect("the HTTP client configuration is static and valid")
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    code: Option<String>,
    message: Option<String>,
}

impl ZohoClient {
    pub(crate) fn new(
        http: reqwest::Client,
        spec: ClientSpec,
        telemetry: Arc<OrgTelemetry>,
    ) -> ZohoClient {
        ZohoClient {
            http,
            credentials: WatchedCredentials::new(&spec.org, telemetry.clone()),
            spec,
            telemetry,
            token: Mutex::new(TokenState::default()),
            not_before: StdMutex::new(None),
            unread_logged: StdMutex::new(HashSet::new()),
            cadences_page: AtomicU32::new(0),
        }
    }

    pub(crate) fn org(&self) -> &OrgConfig {
        &self.spec.org
    }

    /// The org's telemetry, where the passes count what they find in an answer.
    pub(crate) fn telemetry(&self) -> &OrgTelemetry {
        &self.telemetry
    }

    /// Counts `err` under its endpoint and label, and returns it: for failures found after the
    /// transport, which counts its own.
    pub(crate) fn counted(&self, err: ZohoError) -> ZohoError {
        if let Some(endpoint) = err.endpoint() {
            self.telemetry.count_error(endpoint, &err.metric_label());
        }
        err
    }

    /// A decoded answer, or its decode error (with `context` around the detail) counted.
    pub(crate) fn decoded<T>(
        &self,
        endpoint: Endpoint,
        decoded: Result<T, String>,
        context: impl FnOnce(String) -> String,
    ) -> Result<T, ZohoError> {
        decoded.map_err(|detail| {
            self.counted(ZohoError::Decode {
                endpoint,
                detail: context(detail),
            })
        })
    }

    /// The host a call to `endpoint` goes to: the accounts server for tokens, else the API
    /// domain of the cached token, or the configured one when no token is cached (or another
    /// call holds the token state right now).
    pub(crate) fn host(&self, endpoint: Endpoint) -> String {
        let org = &self.spec.org;
        let url = match endpoint {
            Endpoint::Token => org.accounts_url.clone(),
            _ => self
                .token
                .try_lock()
                .ok()
                .and_then(|state| state.api_domain())
                .or_else(|| org.api_domain.clone())
                .unwrap_or_else(|| org.data_center.api_domain()),
        };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or_default().to_owned()
    }

    /// An authorized GET on the org's API domain: refreshes the token when needed, and once more
    /// when Zoho rejects it.
    pub(crate) async fn get(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &[(&str, String)],
        deadline: Instant,
    ) -> Result<Answer, ZohoError> {
        self.get_answer(endpoint, path, query, deadline, only_success)
            .await
    }

    /// [`ZohoClient::get`], also returning the non-2xx answers `is_answer` accepts, uncounted as
    /// errors. `path` may carry a query of its own, sent as it is written (`query` is encoded).
    pub(crate) async fn get_answer(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &[(&str, String)],
        deadline: Instant,
        is_answer: AnswerRule,
    ) -> Result<Answer, ZohoError> {
        let mut refreshed = false;
        let attempts = self.spec.limits.max_attempts;
        loop {
            let token = self.access_token(deadline).await?;
            let url = format!("{}{}", token.api_domain, path);
            let result = self
                .send_with_retries(endpoint, attempts, deadline, is_answer, || {
                    self.http.get(&url).query(query).header(
                        AUTHORIZATION,
                        format!("Zoho-oauthtoken {}", token.value.expose()),
                    )
                })
                .await;
            match result {
                Err(err) if err.is_token_rejected() && !refreshed => {
                    refreshed = true;
                    self.drop_token(&token.value).await;
                }
                other => return other,
            }
        }
    }

    /// Sends a request, retrying transient failures with full-jitter back-off.
    pub(crate) async fn send_with_retries(
        &self,
        endpoint: Endpoint,
        max_attempts: u32,
        deadline: Instant,
        is_answer: AnswerRule,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, ZohoError> {
        let limits = &self.spec.limits;
        let mut attempt = 1;
        loop {
            self.wait_for_retry_after(endpoint, deadline).await?;
            let err = match self.attempt(endpoint, build(), deadline, is_answer).await {
                Ok(answer) => return Ok(answer),
                Err(err) => err,
            };
            if !err.is_transient() || attempt >= max_attempts {
                return Err(err);
            }
            let ceiling = limits
                .retry_base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(limits.retry_cap);
            let backoff = ceiling.mul_f64(fastrand::f64());
            if Instant::now() + backoff >= deadline {
                return Err(err);
            }
            tracing::debug!(org = %self.spec.org.name, endpoint = endpoint.as_str(), attempt, error = %err, ?backoff, "retrying");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn wait_for_retry_after(
        &self,
        endpoint: Endpoint,
        deadline: Instant,
    ) -> Result<(), ZohoError> {
        let not_before = *self.not_before.lock().expect("retry-after lock");
        if let Some(not_before) = not_before {
            if not_before > deadline {
                return Err(ZohoError::RetryAfter { endpoint });
            }
            tokio::time::sleep_until(not_before).await;
        }
        Ok(())
    }

    /// One HTTP attempt, counted and timed. Non-2xx answers become [`ZohoError::Api`], unless
    /// `is_answer` accepts them.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
        deadline: Instant,
        is_answer: AnswerRule,
    ) -> Result<Answer, ZohoError> {
        let started = Instant::now();
        let timeout = self
            .spec
            .timeout
            .min(deadline.saturating_duration_since(started));
        if timeout.is_zero() {
            return Err(ZohoError::Deadline);
        }
        let result = tokio::time::timeout(timeout, self.exchange(endpoint, request, is_answer))
            .await
            .unwrap_or(Err((None, ZohoError::Timeout { endpoint })));
        let elapsed = started.elapsed().as_secs_f64();
        match result {
            Ok(answer) => {
                self.telemetry
                    .observe_request(endpoint, Some(answer.status), elapsed);
                Ok(answer)
            }
            Err((status, err)) => {
                self.telemetry.observe_request(endpoint, status, elapsed);
                Err(self.counted(err))
            }
        }
    }

    /// Sends and reads the whole answer; the error carries the status when one came.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
        is_answer: AnswerRule,
    ) -> Result<Answer, (Option<u16>, ZohoError)> {
        let mut response = request
            .send()
            .await
            .map_err(|err| (None, transport_error(endpoint, err)))?;
        let status = response.status().as_u16();
        self.read_headers(endpoint, status, response.headers());
        let limit = self.spec.max_response_bytes;
        let too_large = || (Some(status), ZohoError::TooLarge { endpoint, limit });
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| (Some(status), transport_error(endpoint, err)))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if (200..300).contains(&status) || is_answer(status, &body) {
            return Ok(Answer { status, body });
        }
        let parsed: ErrorAnswer = serde_json::from_slice(&body).unwrap_or_default();
        Err((
            Some(status),
            ZohoError::Api {
                endpoint,
                status,
                code: parsed.code,
                message: truncate(parsed.message.as_deref().unwrap_or(""), 200),
            },
        ))
    }

    /// Takes note of what every answer's headers say: the rate limits, and a `Retry-After` with
    /// a 429 or 503.
    fn read_headers(&self, endpoint: Endpoint, status: u16, headers: &HeaderMap) {
        self.read_rate_limits(headers);
        if status == 429 || status == 503 {
            if let Some(wait) = retry_after(headers) {
                let until = Instant::now() + wait;
                *self.not_before.lock().expect("retry-after lock") = Some(until);
                tracing::info!(org = %self.spec.org.name, endpoint = endpoint.as_str(), wait = %humantime::format_duration(wait), "Zoho asked to wait (Retry-After)");
            }
        }
    }

    fn read_rate_limits(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        for (window, limit, remaining) in [
            (
                RateLimitWindow::RequestWindow,
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
            ),
            (
                RateLimitWindow::Day,
                "x-ratelimit-day-limit",
                "x-ratelimit-day-remaining",
            ),
        ] {
            let reading = RateLimit {
                limit: number(limit),
                remaining: number(remaining),
            };
            if reading.limit.is_some() || reading.remaining.is_some() {
                self.telemetry.set_rate_limit(window, reading);
            }
        }
    }
}

fn transport_error(endpoint: Endpoint, err: reqwest::Error) -> ZohoError {
    if err.is_timeout() {
        return ZohoError::Timeout { endpoint };
    }
    // The URL carries no secret, but it adds nothing the endpoint label does not say.
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    ZohoError::Connect {
        endpoint,
        detail: truncate(&detail, 300),
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let seconds = date.timestamp() as f64 - crate::support::unix_now();
        Duration::from_secs_f64(seconds.max(0.0))
    };
    Some(wait.min(Duration::from_secs(86_400)))
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(90);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&soon.to_rfc2822()).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
