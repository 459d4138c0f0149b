//! What a request must get past when the web config asks for it: exporter-toolkit's
//! `rate_limit`, and basic auth against bcrypt hashes; and the extra headers every answer gets.
//!
//! A bcrypt costs tens of milliseconds by design, so successful verifications are remembered
//! under a SHA-256 of user, hash and password (never the password itself), and only one bcrypt
//! runs at a time. For an unknown user a bcrypt of the users' cost is computed all the same, so
//! the answer time does not tell which users exist.

use crate::web::config::RateLimit;
use crate::web::reload::{Loaded, WebConfig};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Remembered successful verifications; beyond this many the memory starts over.
const VERIFIED_CAPACITY: usize = 1024;
/// Longest a request waits for its turn at bcrypt before it is answered 503.
const BCRYPT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The state of the checks: the rate limit's bucket and the verification memory. One per web
/// config, kept across its reloads (the memory is cleared when the file changes).
#[derive(Debug)]
pub(crate) struct Gate {
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt at a time: they are CPU-bound by design, and this bounds what a flood of
    /// wrong passwords can cost.
    bcrypt_turn: tokio::sync::Semaphore,
    bucket: Mutex<Option<(RateLimit, Bucket)>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            verified: Mutex::new(HashSet::new()),
            bcrypt_turn: tokio::sync::Semaphore::new(1),
            bucket: Mutex::new(None),
        }
    }
}

impl Gate {
    /// Forgets every remembered verification: the users may have changed.
    pub(crate) fn forget_verified(&self) {
        self.verified.lock().expect("verified lock").clear();
    }

    /// Takes a token from the `rate_limit` bucket; false when the request must be refused.
    pub(crate) fn admit(&self, limit: Option<RateLimit>) -> bool {
        let Some(limit) = limit else {
            return true;
        };
        let mut bucket = self.bucket.lock().expect("bucket lock");
        let now = Instant::now();
        let entry = match bucket.as_mut() {
            Some((spec, bucket)) if *spec == limit => bucket,
            _ => {
                &mut bucket
                    .insert((
                        limit,
                        Bucket {
                            tokens: f64::from(limit.burst),
                            refilled: now,
                        },
                    ))
                    .1
            }
        };
        let refill =
            now.duration_since(entry.refilled).as_secs_f64() / limit.interval.as_secs_f64();
        entry.tokens = (entry.tokens + refill).min(f64::from(limit.burst));
        entry.refilled = now;
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks `Authorization: Basic` against the users; `Err` carries the refusal to send.
    pub(crate) async fn authorize(
        &self,
        loaded: &Loaded,
        headers: &HeaderMap,
    ) -> Result<(), Response> {
        let unauthorized = || {
            let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            response
        };
        let Some((user, password)) = basic_credentials(headers) else {
            return Err(unauthorized());
        };
        let hash = loaded
            .settings
            .users
            .get(&user)
            .map(|hash| hash.expose().to_owned());
        let key = hash
            .as_deref()
            .map(|hash| verification_key(&user, hash, &password));
        if key.is_some_and(|key| self.verified.lock().expect("verified lock").contains(&key)) {
            return Ok(());
        }
        let turn = tokio::time::timeout(BCRYPT_QUEUE_TIMEOUT, self.bcrypt_turn.acquire()).await;
        let Ok(Ok(_turn)) = turn else {
            return Err(
                (StatusCode::SERVICE_UNAVAILABLE, "busy checking passwords\n").into_response(),
            );
        };
        let cost = loaded.bcrypt_cost;
        let matches = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => bcrypt::verify(&password, &hash).unwrap_or(false),
            None => {
                // Unknown user: the same work as a check, with nothing to match.
                let _ = bcrypt::hash(&password, cost);
                false
            }
        })
        .await
        .unwrap_or(false);
        if let (true, Some(key)) = (matches, key) {
            let mut verified = self.verified.lock().expect("verified lock");
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(key);
            Ok(())
        } else {
            Err(unauthorized())
        }
    }
}

/// User and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let split = value.iter().position(|b| *b == b' ')?;
    let (scheme, encoded) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// SHA-256 over length-prefixed user, hash and password: what a successful check is remembered
/// by, so the memory holds no password.
fn verification_key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut key = [0; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

/// The request guard for every route: the rate limit, basic auth and the extra headers of the
/// file in force. Applied around the whole router, so 404s and the status page are protected too;
/// its own refusals get the security headers of every answer from the layer around it
/// ([`crate::web::routes::harden`]).
pub(crate) async fn guard(State(web): State<WebConfig>, request: Request, next: Next) -> Response {
    let loaded =
        match web.current() {
            Ok(loaded) => loaded,
            Err(_) => return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the web config file is unusable; see the exporter's log\n",
            )
                .into_response(),
        };
    let gate = web.gate();
    let mut response = if !gate.admit(loaded.settings.rate_limit) {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response()
    } else if loaded.settings.users.is_empty() {
        next.run(request).await
    } else {
        match gate.authorize(&loaded, request.headers()).await {
            Ok(()) => next.run(request).await,
            Err(refusal) => refusal,
        }
    };
    // As in exporter-toolkit, a header the handler sets itself (the status page's stricter
    // Content-Security-Policy) wins over the configured one.
    let headers = response.headers_mut();
    for (name, value) in &loaded.settings.headers {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_parse() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U6cGE6c3M="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("alice".to_owned(), b"pa:ss".to_vec()))
        );
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer YWxpY2U6cGFzcw=="),
        );
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
