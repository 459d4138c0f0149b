//! The OAuth access token of one org: cached until shortly before it expires, refreshed with the
//! refresh token, and never requested more often than Zoho allows.
//!
//! Why it is shaped this way (all from `api-notes.md`):
//! - Token errors come back with HTTP 200 and an `error` field, so an answer is a token only when
//!   it holds `access_token`. An org may make at most 10 token requests in any 10 minutes
//!   ([`TOKEN_REQUESTS_PER_WINDOW`]); refused refreshes back off exponentially on top of that.
//! - The access token is reused until [`TOKEN_REFRESH_MARGIN`] before it expires. A 401
//!   `INVALID_TOKEN` or `AUTHENTICATION_FAILURE` drops it ([`ZohoClient::drop_token`]).
//! - A token answer's `api_domain` is used only when it is a Zoho API host over https, so a
//!   tampered answer cannot redirect the token elsewhere.

use crate::domain::datacenter::is_trusted_api_domain;
use crate::metrics::labels::Endpoint;
use crate::support::secret::Secret;
use crate::zoho::client::{only_success, truncate, ZohoClient};
use crate::zoho::error::ZohoError;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Zoho's own limit: new access tokens per refresh token in any ten minutes.
pub const TOKEN_REQUESTS_PER_WINDOW: usize = 10;
pub(crate) const TOKEN_WINDOW: Duration = Duration::from_secs(600);
/// A cached token is refreshed this long before it expires.
pub(crate) const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A cached access token and where to use it.
#[derive(Clone)]
pub(crate) struct AccessToken {
    pub(crate) value: Secret,
    pub(crate) api_domain: String,
    refresh_at: Instant,
}

#[derive(Default)]
pub(crate) struct TokenState {
    current: Option<AccessToken>,
    /// When the last token requests were sent, newest last; never more than the window allows.
    recent_requests: VecDeque<Instant>,
    consecutive_refusals: u32,
    paused_until: Option<Instant>,
    /// The error label of the last failed refresh, so a failure is logged once per change.
    last_failure: Option<String>,
}

impl TokenState {
    /// The API domain of the cached access token, if one is cached.
    pub(crate) fn api_domain(&self) -> Option<String> {
        self.current.as_ref().map(|t| t.api_domain.clone())
    }

    /// Whether a token request may be sent now; if so, it is counted against Zoho's window.
    fn take_request(&mut self, now: Instant) -> Result<(), ZohoError> {
        if let Some(until) = self.paused_until.filter(|until| now < *until) {
            return Err(ZohoError::TokenPaused {
                reason: format!(
                    "backing off after refused refreshes for another {}",
                    humantime::format_duration(round_secs(until - now))
                ),
            });
        }
        while self
            .recent_requests
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= TOKEN_WINDOW)
        {
            self.recent_requests.pop_front();
        }
        if self.recent_requests.len() >= TOKEN_REQUESTS_PER_WINDOW {
            let oldest = *self.recent_requests.front().expect("the window is full");
            let wait = TOKEN_WINDOW - now.duration_since(oldest);
            return Err(ZohoError::TokenPaused {
                reason: format!(
                    "{TOKEN_REQUESTS_PER_WINDOW} token requests in the last 10 minutes, Zoho's limit; next possible in {}",
                    humantime::format_duration(round_secs(wait))
                ),
            });
        }
        self.recent_requests.push_back(now);
        Ok(())
    }
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

impl ZohoClient {
    /// Forgets `rejected` if it is still the cached token, so the next call refreshes.
    pub(crate) async fn drop_token(&self, rejected: &Secret) {
        let mut state = self.token.lock().await;
        if state.current.as_ref().is_some_and(|t| &t.value == rejected) {
            state.current = None;
            self.telemetry.set_token_expiry(None);
        }
    }

    /// The cached access token, or a new one. Holds the lock across the refresh so that
    /// concurrent callers share one token request.
    pub(crate) async fn access_token(&self, deadline: Instant) -> Result<AccessToken, ZohoError> {
        let mut state = self.token.lock().await;
        self.take_credential_changes(&mut state);
        let now = Instant::now();
        if let Some(token) = state.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        state.take_request(now)?;
        let result = self.request_token(deadline).await;
        self.note_refresh(&mut state, &result);
        let (token, lifetime) = result?;
        self.telemetry
            .set_token_expiry(Some(crate::support::unix_now() + lifetime.as_secs_f64()));
        state.current = Some(token.clone());
        Ok(token)
    }

    /// Reads again the credential files that changed: a new refresh token drops the cached
    /// access token, which belongs to the old grant, and any new credential may ask for a token
    /// at once rather than after the back-off the old ones earned (Zoho's ten requests in ten
    /// minutes still hold).
    fn take_credential_changes(&self, state: &mut TokenState) {
        let changes = self.credentials.refresh();
        if changes.refresh_token && state.current.take().is_some() {
            self.telemetry.set_token_expiry(None);
            tracing::info!(org = %self.spec.org.name, "refresh token changed: the cached access token is dropped");
        }
        if changes.any {
            state.consecutive_refusals = 0;
            state.paused_until = None;
        }
    }

    /// Backs off after a refusal, and logs a failure once per change and the recovery.
    fn note_refresh(
        &self,
        state: &mut TokenState,
        result: &Result<(AccessToken, Duration), ZohoError>,
    ) {
        let org = &self.spec.org.name;
        let err = match result {
            Ok(_) => {
                if state.last_failure.take().is_some() {
                    tracing::info!(org = %org, "OAuth token refresh works again");
                }
                state.consecutive_refusals = 0;
                state.paused_until = None;
                return;
            }
            Err(err) => err,
        };
        if matches!(
            err,
            ZohoError::TokenRefused { .. } | ZohoError::UntrustedApiDomain { .. }
        ) {
            state.consecutive_refusals += 1;
            let limits = &self.spec.limits;
            let backoff = limits
                .token_backoff_base
                .saturating_mul(1 << (state.consecutive_refusals - 1).min(16))
                .min(limits.token_backoff_cap);
            state.paused_until = Some(Instant::now() + backoff);
        }
        let label = err.metric_label();
        if state.last_failure.as_deref() != Some(label.as_str()) {
            tracing::warn!(org = %org, error = %err, "OAuth token refresh failed");
            state.last_failure = Some(label);
        }
    }

    /// One token request. Returns the token and its lifetime.
    async fn request_token(&self, deadline: Instant) -> Result<(AccessToken, Duration), ZohoError> {
        let url = format!("{}/oauth/v2/token", self.spec.org.accounts_url);
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
        let decoded: TokenAnswer = self.decoded(
            Endpoint::Token,
            serde_json::from_slice(&answer.body).map_err(|err| err.to_string()),
            |detail| detail,
        )?;
        let Some(access_token) = decoded.access_token.filter(|t| !t.is_empty()) else {
            return Err(self.counted(ZohoError::TokenRefused {
                code: decoded
                    .error
                    .unwrap_or_else(|| "no access_token".to_owned()),
                description: decoded.error_description.map(|d| truncate(&d, 200)),
            }));
        };
        // Legacy answers carried `expires_in_sec`, and then `expires_in` was milliseconds.
        let lifetime = Duration::from_secs(
            decoded
                .expires_in_sec
                .or(decoded.expires_in)
                .unwrap_or(3_600)
                .clamp(60, 86_400),
        );
        let api_domain = self.api_domain(decoded.api_domain)?;
        let refresh_at =
            Instant::now() + lifetime.saturating_sub(TOKEN_REFRESH_MARGIN.min(lifetime / 4));
        let token = AccessToken {
            value: Secret::new(access_token),
            api_domain,
            refresh_at,
        };
        Ok((token, lifetime))
    }

    /// Where to use the token: the configured API domain, else the answer's if it is trusted,
    /// else the data center's.
    fn api_domain(&self, answered: Option<String>) -> Result<String, ZohoError> {
        let org = &self.spec.org;
        match (&org.api_domain, answered) {
            (Some(configured), _) => Ok(configured.clone()),
            (None, Some(answered)) => {
                let answered = answered.trim().trim_end_matches('/').to_owned();
                if !is_trusted_api_domain(&answered) {
                    return Err(self.counted(ZohoError::UntrustedApiDomain { domain: answered }));
                }
                Ok(answered)
            }
            (None, None) => Ok(org.data_center.api_domain()),
        }
    }
}

fn round_secs(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs().max(1))
}
