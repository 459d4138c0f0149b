//! The HTTP client for one Zoho org: OAuth token cache, paging, retries and every limit Zoho sets.
//!
//! Why it is shaped this way (all from `api-notes.md`):
//! - Token errors come back with HTTP 200 and an `error` field, so an answer is a token only when
//!   it holds `access_token`. An org may make at most 10 token requests in any 10 minutes
//!   ([`TOKEN_REQUESTS_PER_WINDOW`]); refused refreshes back off exponentially on top of that.
//! - The access token is reused until [`TOKEN_REFRESH_MARGIN`] before it expires. A 401
//!   `INVALID_TOKEN` or `AUTHENTICATION_FAILURE` drops it, refreshes once and retries once.
//! - Transient failures (timeout, connection error, 5xx, 429) are retried with exponential
//!   back-off and full jitter, bounded by [`Limits::max_attempts`] and the collection's deadline; a
//!   `Retry-After` stops every call of this org until it passes. Configuration problems
//!   (OAUTH_SCOPE_MISMATCH, NO_PERMISSION, FEATURE_NOT_ENABLED) are never retried.
//! - Bodies are read up to `max_response_bytes`; anything larger is an error of its own class.
//! - Every attempt is counted in the org's [`OrgTelemetry`], every failed one by error label.
//! - A cadence that cannot be read whole is counted once per collection under
//!   `invalid_cadence` and logged at warn once per cadence id and field while it stays so; the
//!   collection goes on with the rest (see [`decode_cadences_page`]).
//!
//! Credentials are taken from [`WatchedCredentials`] at each token request, so a rotated file
//! applies without a reload; a new refresh token drops the cached access token.
//!
//! Secrets reach the wire only through [`Secret::expose`] and never appear in an error.

use crate::config::OrgConfig;
use crate::credentials::WatchedCredentials;
use crate::secret::Secret;
use crate::snapshot::{Cadence, Interner};
use crate::telemetry::{Endpoint, OrgTelemetry, RateLimit};
use crate::zoho::datacenter::is_trusted_api_domain;
use crate::zoho::model::{decode_cadences_page, InvalidCadence};
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Zoho's own limit: new access tokens per refresh token in any ten minutes.
pub const TOKEN_REQUESTS_PER_WINDOW: usize = 10;
pub const TOKEN_WINDOW: Duration = Duration::from_secs(600);
/// A cached token is refreshed this long before it expires.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);

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

/// Cadences per page: Zoho's maximum.
pub const PER_PAGE: u32 = 200;
/// A guard against an answer that claims `more_records` forever.
pub const MAX_PAGES: u32 = 10_000;

/// The `error` label of a cadence the exporter could not read whole (kept without some field,
/// or skipped for want of a usable id).
pub const INVALID_CADENCE: &str = "invalid_cadence";

/// A cadence (by id; `None` for those without a usable id) and the path of a field it could not
/// read: what is logged at warn once.
type UnreadKey = (Option<String>, String);

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ZohoError {
    #[error("{endpoint} request timed out")]
    Timeout { endpoint: &'static str },
    #[error("{endpoint} request failed without an answer: {detail}")]
    Connect {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        endpoint: &'static str,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("token request refused by Zoho: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenRefused {
        code: String,
        description: Option<String>,
    },
    #[error("token requests paused: {reason}")]
    TokenPaused { reason: String },
    #[error("token answer names api_domain {domain:?}, which is not a Zoho API host over https; set api_domain in the config to override")]
    UntrustedApiDomain { domain: String },
    #[error("cannot decode {endpoint} answer: {detail}")]
    Decode {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint} answer exceeds the limit of {limit} bytes (max_response_bytes)")]
    TooLarge { endpoint: &'static str, limit: u64 },
    #[error("Zoho asked to wait (Retry-After) beyond this collection's deadline")]
    RetryAfter,
    #[error("collection deadline passed")]
    Deadline,
}

impl ZohoError {
    /// The bounded `error` label: Zoho's code as sent, or the failure class.
    pub fn metric_label(&self) -> String {
        match self {
            ZohoError::Timeout { .. } => "timeout".to_owned(),
            ZohoError::Connect { .. } => "connect".to_owned(),
            ZohoError::Api { status, code, .. } => code
                .as_deref()
                .filter(|c| is_label_safe(c))
                .map_or_else(|| format!("http_{status}"), str::to_owned),
            ZohoError::TokenRefused { code, .. } if is_label_safe(code) => code.clone(),
            ZohoError::TokenRefused { .. } => "token_refused".to_owned(),
            ZohoError::TokenPaused { .. } => "token_paused".to_owned(),
            ZohoError::UntrustedApiDomain { .. } => "untrusted_api_domain".to_owned(),
            ZohoError::Decode { .. } => "decode".to_owned(),
            ZohoError::TooLarge { .. } => "too_large".to_owned(),
            ZohoError::RetryAfter => "retry_after".to_owned(),
            ZohoError::Deadline => "deadline".to_owned(),
        }
    }

    /// Whether another attempt of the same request may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ZohoError::Timeout { .. } | ZohoError::Connect { .. } => true,
            ZohoError::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// A 401 that means the access token is expired or was killed: refresh and retry once.
    pub fn is_token_rejected(&self) -> bool {
        matches!(self, ZohoError::Api { status: 401, code: Some(code), .. }
            if code == "INVALID_TOKEN" || code == "AUTHENTICATION_FAILURE")
    }
}

/// Zoho's codes become label values only when short and plain.
pub(crate) fn is_label_safe(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-' | '.'))
}

/// A cached access token and where to use it.
#[derive(Clone)]
struct AccessToken {
    value: Secret,
    api_domain: String,
    refresh_at: Instant,
}

#[derive(Default)]
struct TokenState {
    current: Option<AccessToken>,
    /// When the last token requests were sent, newest last; never more than the window allows.
    recent_requests: VecDeque<Instant>,
    consecutive_refusals: u32,
    paused_until: Option<Instant>,
    /// The error label of the last failed refresh, so a failure is logged once per change.
    last_failure: Option<String>,
}

/// A successful HTTP answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// Whether a non-2xx answer (status, body) is an answer all the same: Zoho's specification
/// answers some requests with HTTP 400 and a list of per-item errors, which the caller reads
/// and counts item by item.
pub type AnswerRule = fn(u16, &[u8]) -> bool;

/// Only 2xx answers are answers.
fn only_success(_: u16, _: &[u8]) -> bool {
    false
}

/// The client of one org. Shared by that org's collection tasks.
pub struct ZohoClient {
    http: reqwest::Client,
    /// The org as configured; its credentials are those of the load, and the ones in force are
    /// in `credentials`.
    org: OrgConfig,
    credentials: WatchedCredentials,
    timeout: Duration,
    max_response_bytes: u64,
    telemetry: Arc<OrgTelemetry>,
    limits: Limits,
    token: Mutex<TokenState>,
    /// Set from a `Retry-After` header: no call to Zoho before this instant.
    not_before: StdMutex<Option<Instant>>,
    /// The unreadable cadence fields already logged at warn; a complete collection keeps only
    /// those it saw again, so a field that was fixed and breaks again is logged again, and the
    /// set never outgrows one collection's problems.
    unread_logged: StdMutex<HashSet<UnreadKey>>,
    /// The cadence page the current (or last) collection reads, so a failure can name it.
    cadences_page: AtomicU32,
}

/// The one HTTP client configuration: rustls with ring, no redirects (an access token must not
/// follow a redirect), a user agent naming the exporter.
pub fn http_client() -> reqwest::Client {
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

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    api_domain: Option<String>,
    expires_in: Option<u64>,
    expires_in_sec: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    code: Option<String>,
    message: Option<String>,
}

impl ZohoClient {
    pub fn new(
        http: reqwest::Client,
        org: OrgConfig,
        timeout: Duration,
        max_response_bytes: u64,
        telemetry: Arc<OrgTelemetry>,
    ) -> ZohoClient {
        ZohoClient {
            http,
            credentials: WatchedCredentials::new(&org, telemetry.clone()),
            org,
            timeout,
            max_response_bytes,
            telemetry,
            limits: Limits::default(),
            token: Mutex::new(TokenState::default()),
            not_before: StdMutex::new(None),
            unread_logged: StdMutex::new(HashSet::new()),
            cadences_page: AtomicU32::new(0),
        }
    }

    /// The same client with other limits (tests shorten the waits).
    pub fn with_limits(mut self, limits: Limits) -> ZohoClient {
        self.limits = limits;
        self
    }

    pub fn org(&self) -> &OrgConfig {
        &self.org
    }

    /// The cadence page the current or last collection reads (0 before the first).
    pub fn cadences_page(&self) -> u32 {
        self.cadences_page.load(Ordering::Relaxed)
    }

    /// The host a call to `endpoint` goes to: the accounts server for tokens, else the API
    /// domain of the cached token, or the configured one when no token is cached (or another
    /// call holds the token state right now).
    pub fn host(&self, endpoint: Endpoint) -> String {
        let url = match endpoint {
            Endpoint::Token => self.org.accounts_url.clone(),
            _ => self
                .token
                .try_lock()
                .ok()
                .and_then(|state| state.current.as_ref().map(|t| t.api_domain.clone()))
                .or_else(|| self.org.api_domain.clone())
                .unwrap_or_else(|| self.org.data_center.api_domain()),
        };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or_default().to_owned()
    }

    /// Reads every page of the org's cadences. Fails without a partial result.
    pub async fn fetch_cadences(&self, deadline: Instant) -> Result<Vec<Cadence>, ZohoError> {
        let path = format!(
            "/crm/{}/settings/automation/cadences",
            self.org.api_version.path()
        );
        let mut cadences = Vec::new();
        let mut texts = Interner::default();
        let mut unread = HashSet::new();
        for page in 1..=MAX_PAGES {
            self.cadences_page.store(page, Ordering::Relaxed);
            let query = [
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ];
            let answer = self
                .get(Endpoint::Cadences, &path, &query, deadline)
                .await?;
            if answer.status == 204 || answer.body.iter().all(u8::is_ascii_whitespace) {
                self.forget_fixed_fields(unread);
                return Ok(cadences);
            }
            let decoded = decode_cadences_page(&answer.body).map_err(|detail| {
                let err = ZohoError::Decode {
                    endpoint: Endpoint::Cadences.as_str(),
                    detail: format!("page {page}: {detail}"),
                };
                self.telemetry
                    .count_error(Endpoint::Cadences, &err.metric_label());
                err
            })?;
            for invalid in &decoded.invalid {
                self.telemetry
                    .count_error(Endpoint::Cadences, INVALID_CADENCE);
                self.log_invalid(page, invalid, &mut unread);
            }
            let received =
                decoded.cadences.len() + decoded.invalid.iter().filter(|c| c.id.is_none()).count();
            cadences.extend(texts.cadences(decoded.cadences));
            let more = decoded
                .info
                .and_then(|info| info.more_records)
                .is_some_and(|more| more.0);
            if !more || received == 0 {
                self.forget_fixed_fields(unread);
                return Ok(cadences);
            }
        }
        let err = ZohoError::Decode {
            endpoint: Endpoint::Cadences.as_str(),
            detail: format!("more_records still true after {MAX_PAGES} pages"),
        };
        self.telemetry
            .count_error(Endpoint::Cadences, &err.metric_label());
        Err(err)
    }

    /// Logs what could not be read of one cadence: at warn the first time a cadence id and field
    /// show up, at debug while they stay. Names the field and the JSON type found, never a value.
    fn log_invalid(&self, page: u32, invalid: &InvalidCadence, seen: &mut HashSet<UnreadKey>) {
        let org = &self.org.name;
        for field in &invalid.fields {
            let key = (invalid.id.clone(), field.path.clone());
            seen.insert(key.clone());
            let first = self
                .unread_logged
                .lock()
                .expect("unread fields lock")
                .insert(key);
            let (path, found) = (field.path.as_str(), field.found);
            match (&invalid.id, first) {
                (Some(id), true) => {
                    tracing::warn!(org = %org, id = %id, field = path, found, "cadence field unreadable; the cadence is exported without it")
                }
                (Some(id), false) => {
                    tracing::debug!(org = %org, id = %id, field = path, found, "cadence field still unreadable")
                }
                (None, true) => {
                    tracing::warn!(org = %org, page, index = invalid.index, field = path, found, "cadence without a usable id skipped")
                }
                (None, false) => {
                    tracing::debug!(org = %org, page, index = invalid.index, field = path, found, "cadence without a usable id skipped again")
                }
            }
        }
    }

    /// After a complete collection: forgets the logged fields it did not see again.
    fn forget_fixed_fields(&self, seen: HashSet<UnreadKey>) {
        self.unread_logged
            .lock()
            .expect("unread fields lock")
            .retain(|key| seen.contains(key));
    }

    /// An authorized GET on the org's API domain: refreshes the token when needed, and once more
    /// when Zoho rejects it.
    pub async fn get(
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
    pub async fn get_answer(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &[(&str, String)],
        deadline: Instant,
        is_answer: AnswerRule,
    ) -> Result<Answer, ZohoError> {
        let mut refreshed = false;
        loop {
            let token = self.access_token(deadline).await?;
            let url = format!("{}{}", token.api_domain, path);
            let result = self
                .send_with_retries(
                    endpoint,
                    self.limits.max_attempts,
                    deadline,
                    is_answer,
                    || {
                        self.http.get(&url).query(query).header(
                            AUTHORIZATION,
                            format!("Zoho-oauthtoken {}", token.value.expose()),
                        )
                    },
                )
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

    async fn drop_token(&self, rejected: &Secret) {
        let mut state = self.token.lock().await;
        if state.current.as_ref().is_some_and(|t| &t.value == rejected) {
            state.current = None;
            self.telemetry.set_token_expiry(None);
        }
    }

    /// The cached access token, or a new one. Holds the lock across the refresh so that
    /// concurrent callers share one token request.
    async fn access_token(&self, deadline: Instant) -> Result<AccessToken, ZohoError> {
        let mut state = self.token.lock().await;
        let changes = self.credentials.refresh();
        if changes.refresh_token && state.current.take().is_some() {
            self.telemetry.set_token_expiry(None);
            tracing::info!(org = %self.org.name, "refresh token changed: the cached access token is dropped");
        }
        if changes.any {
            // New credentials get their token request now, not after the back-off the old
            // ones earned; Zoho's ten requests in ten minutes still hold.
            state.consecutive_refusals = 0;
            state.paused_until = None;
        }
        let now = Instant::now();
        if let Some(token) = state.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        if let Some(until) = state.paused_until.filter(|until| now < *until) {
            return Err(ZohoError::TokenPaused {
                reason: format!(
                    "backing off after refused refreshes for another {}",
                    humantime::format_duration(round_secs(until - now))
                ),
            });
        }
        while state
            .recent_requests
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= TOKEN_WINDOW)
        {
            state.recent_requests.pop_front();
        }
        if state.recent_requests.len() >= TOKEN_REQUESTS_PER_WINDOW {
            let oldest = *state.recent_requests.front().expect("the window is full");
            let wait = TOKEN_WINDOW - now.duration_since(oldest);
            return Err(ZohoError::TokenPaused {
                reason: format!(
                    "{TOKEN_REQUESTS_PER_WINDOW} token requests in the last 10 minutes, Zoho's limit; next possible in {}",
                    humantime::format_duration(round_secs(wait))
                ),
            });
        }
        state.recent_requests.push_back(now);

        match self.request_token(deadline).await {
            Ok((token, lifetime)) => {
                if state.last_failure.take().is_some() {
                    tracing::info!(org = %self.org.name, "OAuth token refresh works again");
                }
                state.consecutive_refusals = 0;
                state.paused_until = None;
                self.telemetry
                    .set_token_expiry(Some(crate::unix_now() + lifetime.as_secs_f64()));
                state.current = Some(token.clone());
                Ok(token)
            }
            Err(err) => {
                if matches!(
                    err,
                    ZohoError::TokenRefused { .. } | ZohoError::UntrustedApiDomain { .. }
                ) {
                    state.consecutive_refusals += 1;
                    let backoff = self
                        .limits
                        .token_backoff_base
                        .saturating_mul(1 << (state.consecutive_refusals - 1).min(16))
                        .min(self.limits.token_backoff_cap);
                    state.paused_until = Some(Instant::now() + backoff);
                }
                let label = err.metric_label();
                if state.last_failure.as_deref() != Some(label.as_str()) {
                    tracing::warn!(org = %self.org.name, error = %err, "OAuth token refresh failed");
                    state.last_failure = Some(label);
                }
                Err(err)
            }
        }
    }

    /// One token request (with transport retries). Returns the token and its lifetime.
    async fn request_token(&self, deadline: Instant) -> Result<(AccessToken, Duration), ZohoError> {
        let url = format!("{}/oauth/v2/token", self.org.accounts_url);
        let credentials = self.credentials.current();
        let answer = self
            // One attempt only: every token request counts against Zoho's ten per ten minutes,
            // so a failed one waits for the next collection rather than being retried here.
            .send_with_retries(Endpoint::Token, 1, deadline, only_success, || {
                self.http.post(&url).form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", credentials.client_id.as_str()),
                    ("client_secret", credentials.client_secret.expose()),
                    ("refresh_token", credentials.refresh_token.expose()),
                ])
            })
            .await?;
        let decoded: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|err| {
            let err = ZohoError::Decode {
                endpoint: Endpoint::Token.as_str(),
                detail: err.to_string(),
            };
            self.telemetry
                .count_error(Endpoint::Token, &err.metric_label());
            err
        })?;
        let Some(access_token) = decoded.access_token.filter(|t| !t.is_empty()) else {
            let err = ZohoError::TokenRefused {
                code: decoded
                    .error
                    .unwrap_or_else(|| "no access_token".to_owned()),
                description: decoded.error_description.map(|d| truncate(&d, 200)),
            };
            self.telemetry
                .count_error(Endpoint::Token, &err.metric_label());
            return Err(err);
        };
        // Legacy answers carried `expires_in_sec`, and then `expires_in` was milliseconds.
        let lifetime = Duration::from_secs(
            decoded
                .expires_in_sec
                .or(decoded.expires_in)
                .unwrap_or(3_600)
                .clamp(60, 86_400),
        );
        let api_domain = match (&self.org.api_domain, decoded.api_domain) {
            (Some(configured), _) => configured.clone(),
            (None, Some(answered)) => {
                let answered = answered.trim().trim_end_matches('/').to_owned();
                if !is_trusted_api_domain(&answered) {
                    let err = ZohoError::UntrustedApiDomain { domain: answered };
                    self.telemetry
                        .count_error(Endpoint::Token, &err.metric_label());
                    return Err(err);
                }
                answered
            }
            (None, None) => self.org.data_center.api_domain(),
        };
        let refresh_at =
            Instant::now() + lifetime.saturating_sub(TOKEN_REFRESH_MARGIN.min(lifetime / 4));
        Ok((
            AccessToken {
                value: Secret::new(access_token),
                api_domain,
                refresh_at,
            },
            lifetime,
        ))
    }

    /// Sends a request, retrying transient failures with full-jitter back-off.
    async fn send_with_retries(
        &self,
        endpoint: Endpoint,
        max_attempts: u32,
        deadline: Instant,
        is_answer: AnswerRule,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, ZohoError> {
        let mut attempt = 1;
        loop {
            self.wait_for_retry_after(deadline).await?;
            let err = match self.attempt(endpoint, build(), deadline, is_answer).await {
                Ok(answer) => return Ok(answer),
                Err(err) => err,
            };
            if !err.is_transient() || attempt >= max_attempts {
                return Err(err);
            }
            let ceiling = self
                .limits
                .retry_base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(self.limits.retry_cap);
            let backoff = ceiling.mul_f64(fastrand::f64());
            if Instant::now() + backoff >= deadline {
                return Err(err);
            }
            tracing::debug!(org = %self.org.name, endpoint = endpoint.as_str(), attempt, error = %err, ?backoff, "retrying");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn wait_for_retry_after(&self, deadline: Instant) -> Result<(), ZohoError> {
        let not_before = *self.not_before.lock().expect("retry-after lock");
        if let Some(not_before) = not_before {
            if not_before > deadline {
                return Err(ZohoError::RetryAfter);
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
            .timeout
            .min(deadline.saturating_duration_since(started));
        if timeout.is_zero() {
            return Err(ZohoError::Deadline);
        }
        let result =
            tokio::time::timeout(timeout, self.exchange(endpoint, request, is_answer)).await;
        let elapsed = started.elapsed().as_secs_f64();
        let result = match result {
            Ok(result) => result,
            Err(_) => Err((
                None,
                ZohoError::Timeout {
                    endpoint: endpoint.as_str(),
                },
            )),
        };
        match result {
            Ok(answer) => {
                self.telemetry
                    .observe_request(endpoint, Some(answer.status), elapsed);
                Ok(answer)
            }
            Err((status, err)) => {
                self.telemetry.observe_request(endpoint, status, elapsed);
                self.telemetry.count_error(endpoint, &err.metric_label());
                Err(err)
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
        let name = endpoint.as_str();
        let mut response = request
            .send()
            .await
            .map_err(|err| (None, transport_error(name, err)))?;
        let status = response.status().as_u16();
        self.read_rate_limits(response.headers());
        if status == 429 || status == 503 {
            if let Some(wait) = retry_after(response.headers()) {
                let until = Instant::now() + wait;
                *self.not_before.lock().expect("retry-after lock") = Some(until);
                tracing::info!(org = %self.org.name, endpoint = name, wait = %humantime::format_duration(wait), "Zoho asked to wait (Retry-After)");
            }
        }
        if let Some(length) = response.content_length() {
            if length > self.max_response_bytes {
                return Err((
                    Some(status),
                    ZohoError::TooLarge {
                        endpoint: name,
                        limit: self.max_response_bytes,
                    },
                ));
            }
        }
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > self.max_response_bytes {
                        return Err((
                            Some(status),
                            ZohoError::TooLarge {
                                endpoint: name,
                                limit: self.max_response_bytes,
                            },
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Err((Some(status), transport_error(name, err))),
            }
        }
        let body = body.freeze();
        if (200..300).contains(&status) || is_answer(status, &body) {
            return Ok(Answer { status, body });
        }
        let parsed: ErrorAnswer = serde_json::from_slice(&body).unwrap_or_default();
        Err((
            Some(status),
            ZohoError::Api {
                endpoint: name,
                status,
                code: parsed.code,
                message: truncate(parsed.message.as_deref().unwrap_or(""), 200),
            },
        ))
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
                "request_window",
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
            ),
            ("day", "x-ratelimit-day-limit", "x-ratelimit-day-remaining"),
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

fn transport_error(endpoint: &'static str, err: reqwest::Error) -> ZohoError {
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
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let seconds = date.timestamp() as f64 - crate::unix_now();
        Duration::from_secs_f64(seconds.max(0.0))
    };
    Some(wait.min(Duration::from_secs(86_400)))
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn round_secs(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn error_labels() {
        let api = |status, code: Option<&str>| ZohoError::Api {
            endpoint: "cadences",
            status,
            code: code.map(str::to_owned),
            message: String::new(),
        };
        assert_eq!(
            api(401, Some("INVALID_TOKEN")).metric_label(),
            "INVALID_TOKEN"
        );
        assert_eq!(api(502, None).metric_label(), "http_502");
        assert_eq!(api(500, Some("<html>\n")).metric_label(), "http_500");
        let refused = ZohoError::TokenRefused {
            code: "Access Denied".into(),
            description: None,
        };
        assert_eq!(refused.metric_label(), "Access Denied");
        assert!(api(401, Some("AUTHENTICATION_FAILURE")).is_token_rejected());
        assert!(!api(401, Some("OAUTH_SCOPE_MISMATCH")).is_token_rejected());
        assert!(api(429, Some("TOO_MANY_REQUESTS")).is_transient());
        assert!(api(503, None).is_transient());
        assert!(!api(403, Some("NO_PERMISSION")).is_transient());
        assert!(!refused.is_transient());
    }

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
