//! fake-zoho: a simulated Zoho (accounts server and CRM API) on a loopback port, behaving as
//! Zoho's documented and observed answers do, quirks included. The exporter's `--demo` runs
//! against it ([`demo`] holds the demo org's data), and every test of the exporter scripts it per
//! scenario: cadences to serve, faults to inject, calls to count.
//!
//! A fake serves one org on a port of its own ([`FakeZoho::start`]), or several orgs behind one
//! address ([`FakeZoho::start_many`]) as Zoho's accounts and API hosts serve every org of a data
//! center: a token request finds its org by its refresh token, an API request by its access
//! token. Each org keeps its own state (cadences, tokens, faults, call counts) either way.
//!
//! A crate of its own so that an exporter built without its `demo` feature carries none of it:
//! no fake credentials, no fault injection. It speaks to the exporter only through HTTP and JSON,
//! and depends on nothing of the exporter's.
//!
//! Zoho's OpenAPI specification (zoho/crm-oas, `v8.0/cadences/`) is the source of truth for the
//! CRM endpoints; where it is silent, the fake follows `api-notes.md` or invents, and says so
//! where it does. The cadences list answers the specification's shape: `{"cadences", "info":
//! {"per_page", "count", "page", "more_records"}}`, 204 with an empty body when there is nothing,
//! cadences with `status` `active`, `inactive` or `draft` ([`draft`]), every documented
//! `execute_every` period with and without `unit`, and ids as strings or numbers (bare numeric
//! `custom_view.id` beyond 2^53 and `-0700` offsets are quirks of real answers). Error bodies
//! have the specification's shape `{"code", "details", "message", "status": "error"}`.
//!
//! From `api-notes.md`, not the specification: OAuth refresh with errors as HTTP 200
//! `{"error": ...}`; tokens that expire and are checked on every call (401 `INVALID_TOKEN`); the
//! `X-RATELIMIT-*` headers; 404 `INVALID_URL_PATTERN` for v7 paths of the v8-only endpoints.
//! Faults are queued per route and each applies to one request; their bodies are the fake's.
//!
//! The v8-only read endpoints follow the specification too: `records_count` takes at most 100
//! ids (2,000 characters) joined by commas and answers 200 when it knows every id, 207 with
//! per-item `INVALID_DATA` errors when it knows some, and 400 with the same per-item list when it
//! knows none; `analytics` wants `follow_ups_executed_from` and `_till` together (400
//! `DEPENDENT_PARAM_MISSING` otherwise) as ISO 8601 date-times, answers its documented shape, and
//! for an unknown cadence id the documented 400 `INVALID_DATA` with
//! `details.resource_path_index`.

use axum::body::Body;
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod demo;

pub const CLIENT_ID: &str = "1000.FAKECLIENTID";
pub const CLIENT_SECRET: &str = "fake-client-secret-value";
pub const REFRESH_TOKEN: &str = "1000.fake-refresh-token-value";

/// The endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Token,
    Cadences,
    RecordsCount,
    Analytics,
}

/// One scripted misbehaviour, applied to the next request of its route.
#[derive(Debug, Clone)]
pub enum Fault {
    /// An HTTP status with a Zoho error body carrying `code` (or a raw body when `code` is empty).
    Status {
        status: u16,
        code: String,
        retry_after: Option<String>,
    },
    /// The token endpoint's HTTP 200 error answer: `{"error": "<error>"}`.
    TokenError(String),
    /// Zoho's throttling answer to token requests (HTTP 200, `Access Denied`).
    TokenThrottled,
    /// A token answer whose `api_domain` points elsewhere.
    TokenApiDomain(String),
    /// Never answers.
    Hang,
    /// Answers normally after a delay.
    Delay(Duration),
    /// Sends part of the body, then breaks the connection.
    Reset,
    /// HTTP 200 with JSON that does not parse.
    Malformed,
    /// HTTP 200 with valid JSON of the wrong shape.
    WrongShape,
    /// HTTP 200 with a valid answer padded to at least this many bytes.
    Oversized(usize),
    /// `records_count` only: these ids get a per-item error with `code` (a 207 when other ids
    /// of the call are answered, a 400 when none is).
    ItemErrors { ids: Vec<String>, code: String },
    /// Exactly this answer: an HTTP status and a JSON body, such as an example answer of Zoho's
    /// specification.
    Answer { status: u16, body: Value },
}

/// One `analytics` request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsRequest {
    pub version: String,
    pub id: String,
    pub from: Option<String>,
    pub till: Option<String>,
}

#[derive(Debug)]
struct Data {
    cadences: Vec<Value>,
    tokens: HashMap<String, Instant>,
    token_lifetime: Duration,
    faults: HashMap<Route, VecDeque<Fault>>,
    calls: HashMap<Route, u64>,
    pages_requested: Vec<u32>,
    revoked: bool,
    /// The client secret and refresh token token requests must carry; [`CLIENT_SECRET`] and
    /// [`REFRESH_TOKEN`] until rotated.
    client_secret: String,
    refresh_token: String,
    /// The org's number behind a shared address ([`FakeZoho::start_many`]); `None` for a fake
    /// of its own.
    org: Option<usize>,
    rate_limit_headers: bool,
    flapping: Option<Flapping>,
    next_token: u64,
    /// Records enrolled per cadence id; 0 when not set.
    enrolled: HashMap<String, u64>,
    /// When set, enrolled counts swing by up to a tenth around their value over this period.
    enrollment_wave: Option<(Instant, Duration)>,
    /// Follow-ups executed per cadence id and channel; 0 when not set.
    executed: HashMap<String, BTreeMap<String, u64>>,
    /// The ids of every `records_count` request, in order.
    records_count_requests: Vec<Vec<String>>,
    /// The `ids` parameter of every `records_count` request as sent (not decoded), in order.
    records_count_raw: Vec<String>,
    analytics_requests: Vec<AnalyticsRequest>,
    /// Share of requests (0 to 1) that get a random fault when none is queued (soak tests).
    fault_rate: f64,
    /// Cadences per page whatever `per_page` asks, when set (the specification allows up to 400
    /// on a page).
    page_size: Option<u32>,
    /// How long every request waits before it is handled.
    latency: Duration,
    /// Requests being handled now, and the most at once since last asked.
    in_flight: usize,
    most_in_flight: usize,
}

/// A cadence switched off after `first_off`, then on and off again every `period` (the demo's
/// changing cadence).
#[derive(Debug, Clone)]
struct Flapping {
    id: String,
    period: Duration,
    first_off: Duration,
    since: Instant,
    since_unix: i64,
}

#[derive(Clone)]
struct Shared {
    data: Arc<Mutex<Data>>,
    base_url: String,
}

impl Shared {
    /// Org `org` of a shared address (`None`: a fake of its own), serving `cadences` at `addr`.
    fn new(cadences: Vec<Value>, org: Option<usize>, addr: SocketAddr) -> Shared {
        Shared {
            data: Arc::new(Mutex::new(Data {
                cadences,
                tokens: HashMap::new(),
                token_lifetime: Duration::from_secs(3_600),
                faults: HashMap::new(),
                calls: HashMap::new(),
                pages_requested: Vec::new(),
                revoked: false,
                client_secret: CLIENT_SECRET.to_owned(),
                refresh_token: refresh_token_of(org),
                org,
                rate_limit_headers: false,
                flapping: None,
                next_token: 1,
                enrolled: HashMap::new(),
                enrollment_wave: None,
                executed: HashMap::new(),
                records_count_requests: Vec::new(),
                records_count_raw: Vec::new(),
                analytics_requests: Vec::new(),
                fault_rate: 0.0,
                page_size: None,
                latency: Duration::ZERO,
                in_flight: 0,
                most_in_flight: 0,
            })),
            base_url: format!("http://{addr}"),
        }
    }
}

/// The refresh token an org starts with: [`REFRESH_TOKEN`] for a fake of its own, with `-<org>`
/// appended for org `org` of a shared address, where it tells the orgs' token requests apart.
fn refresh_token_of(org: Option<usize>) -> String {
    match org {
        None => REFRESH_TOKEN.to_owned(),
        Some(org) => format!("{REFRESH_TOKEN}-{org}"),
    }
}

/// The start of every access token the fake issues.
const ACCESS_TOKEN_PREFIX: &str = "1000.fakeaccesstoken";

/// Access token number `n` of an org: `1000.fakeaccesstoken00000001` for a fake of its own;
/// behind a shared address the org's number comes first (`1000.fakeaccesstoken-3-00000001`),
/// which is how an API request finds its org, as Zoho's hosts find an org by its token.
fn access_token(org: Option<usize>, n: u64) -> String {
    match org {
        None => format!("{ACCESS_TOKEN_PREFIX}{n:08}"),
        Some(org) => format!("{ACCESS_TOKEN_PREFIX}-{org}-{n:08}"),
    }
}

/// The org an access token of a shared address names; whether that org issued it, and it is
/// still live, is the org's to check.
fn org_of_access_token(token: &str) -> Option<usize> {
    let (org, _) = token
        .strip_prefix(ACCESS_TOKEN_PREFIX)?
        .strip_prefix('-')?
        .split_once('-')?;
    org.parse().ok()
}

/// Who answers a request: the one org of a fake started alone, or, behind a shared address,
/// the org the request's credentials name.
#[derive(Clone)]
enum Orgs {
    One(Shared),
    Many(Arc<[Shared]>),
}

/// The listener's task: stopped when the last handle of its orgs is dropped.
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The token endpoint's path, where the dispatch of a shared address reads the refresh token.
const TOKEN_PATH: &str = "/oauth/v2/token";

/// Serves `orgs` on `listener` with the fake's one route table.
fn serve(listener: tokio::net::TcpListener, orgs: Orgs) -> Arc<Server> {
    let app = Router::new()
        .route(TOKEN_PATH, post(token))
        .route(
            "/crm/{version}/settings/automation/cadences",
            get(cadences_page),
        )
        .route(
            "/crm/{version}/settings/automation/cadences/actions/records_count",
            get(records_count),
        )
        .route(
            "/crm/{version}/settings/automation/cadences/{id}/actions/analytics",
            get(analytics),
        )
        .layer(axum::middleware::from_fn_with_state(orgs, dispatch));
    Arc::new(Server(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })))
}

/// A running fake org: a fake of its own ([`FakeZoho::start`]) or one of several orgs behind
/// one address ([`FakeZoho::start_many`]). Dropping the last handle of a listener stops it.
pub struct FakeZoho {
    shared: Shared,
    addr: SocketAddr,
    refresh_token: String,
    /// Held for its `Drop`: shared by every org of the listener.
    _server: Arc<Server>,
}

impl FakeZoho {
    /// Starts the fake on 127.0.0.1 with an ephemeral port, serving `cadences`.
    pub async fn start(cadences: Vec<Value>) -> std::io::Result<FakeZoho> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(cadences, None, addr);
        let server = serve(listener, Orgs::One(shared.clone()));
        Ok(FakeZoho {
            shared,
            addr,
            refresh_token: REFRESH_TOKEN.to_owned(),
            _server: server,
        })
    }

    /// Starts `orgs` orgs behind one listener on 127.0.0.1 with an ephemeral port, each serving
    /// `cadences` at first, as the orgs of a Zoho data center share its accounts and API hosts.
    ///
    /// Each org has its own state, so every setter of a handle applies to its org alone. A token
    /// request finds its org by its refresh token (org `i` starts with [`REFRESH_TOKEN`] and
    /// `-i`, which [`org_yaml`](FakeZoho::org_yaml) writes); an API request by its access token,
    /// which carries the org's number. A request whose credentials name no org gets Zoho's answer
    /// to unknown ones (`invalid_code`, or 401 `INVALID_TOKEN`) and is counted by no org. The
    /// listener stops when the last of the handles is dropped.
    pub async fn start_many(orgs: usize, cadences: Vec<Value>) -> std::io::Result<Vec<FakeZoho>> {
        if orgs == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "start_many needs at least one org",
            ));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let all: Vec<Shared> = (0..orgs)
            .map(|org| Shared::new(cadences.clone(), Some(org), addr))
            .collect();
        let server = serve(listener, Orgs::Many(all.clone().into()));
        Ok(all
            .into_iter()
            .enumerate()
            .map(|(org, shared)| FakeZoho {
                shared,
                addr,
                refresh_token: refresh_token_of(Some(org)),
                _server: server.clone(),
            })
            .collect())
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`: both the accounts URL and the API domain (the
    /// same for every org behind one address).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The refresh token the org started with: [`REFRESH_TOKEN`] for a fake of its own, with the
    /// org's `-<number>` behind a shared address.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// A config `orgs:` entry pointing at this fake, with its org's credentials.
    pub fn org_yaml(&self, name: &str) -> String {
        format!(
            "  - name: {name}\n    client_id: \"{CLIENT_ID}\"\n    client_secret: \"{CLIENT_SECRET}\"\n    refresh_token: \"{refresh}\"\n    accounts_url: {url}\n    api_domain: {url}\n",
            refresh = self.refresh_token,
            url = self.url()
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut Data) -> T) -> T {
        f(&mut self.shared.data.lock().expect("fake lock"))
    }

    pub fn set_cadences(&self, cadences: Vec<Value>) {
        self.with(|d| d.cadences = cadences);
    }

    pub fn cadences(&self) -> Vec<Value> {
        self.with(|d| d.cadences.clone())
    }

    pub fn push_fault(&self, route: Route, fault: Fault) {
        self.with(|d| d.faults.entry(route).or_default().push_back(fault));
    }

    /// Requests received per route, faulty ones included.
    pub fn calls(&self, route: Route) -> u64 {
        self.with(|d| d.calls.get(&route).copied().unwrap_or(0))
    }

    /// The `page` parameter of every cadences request, in order.
    pub fn pages_requested(&self) -> Vec<u32> {
        self.with(|d| d.pages_requested.clone())
    }

    /// Makes every issued access token invalid, as when Zoho kills a token.
    pub fn expire_tokens(&self) {
        self.with(|d| d.tokens.clear());
    }

    /// Revokes the refresh token: token requests answer `invalid_code` until restored.
    pub fn set_revoked(&self, revoked: bool) {
        self.with(|d| d.revoked = revoked);
    }

    /// Rotates the client secret, as a new one generated in Zoho's API console: token requests
    /// with the old one answer `invalid_client`.
    pub fn set_client_secret(&self, secret: &str) {
        self.with(|d| d.client_secret = secret.to_owned());
    }

    /// Rotates the refresh token, as a new grant and the old one revoked: token requests with
    /// the old one answer `invalid_code`.
    pub fn set_refresh_token(&self, token: &str) {
        self.with(|d| d.refresh_token = token.to_owned());
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.with(|d| d.token_lifetime = lifetime);
    }

    /// Gives a random fault (throttling, 5xx, 429 with Retry-After, resets, bad JSON, slow
    /// answers, killed tokens) to this share of requests, 0 to 1, when none is queued.
    pub fn set_fault_rate(&self, rate: f64) {
        self.with(|d| d.fault_rate = rate.clamp(0.0, 1.0));
    }

    /// Answers pages of `size` cadences whatever `per_page` asks (`None`: as asked).
    pub fn set_page_size(&self, size: Option<u32>) {
        self.with(|d| d.page_size = size);
    }

    /// Sends the `X-RATELIMIT-*` headers with every API answer.
    pub fn set_rate_limit_headers(&self, on: bool) {
        self.with(|d| d.rate_limit_headers = on);
    }

    /// Sets the number of records enrolled in the cadence with `id`.
    pub fn set_enrolled(&self, id: &str, count: u64) {
        self.with(|d| d.enrolled.insert(id.to_owned(), count));
    }

    /// Makes every enrolled count swing by up to a tenth around its value over `period`, so
    /// the demo's graphs move.
    pub fn set_enrollment_wave(&self, period: Duration) {
        self.with(|d| d.enrollment_wave = Some((Instant::now(), period)));
    }

    /// Sets the follow-ups the cadence with `id` executed on `channel` (`email`, `call`,
    /// `task`, `whatsapp`), whatever the window asked for.
    pub fn set_executed(&self, id: &str, channel: &str, count: u64) {
        self.with(|d| {
            d.executed
                .entry(id.to_owned())
                .or_default()
                .insert(channel.to_owned(), count)
        });
    }

    /// The `ids` of every `records_count` request, in order, split at the commas.
    pub fn records_count_requests(&self) -> Vec<Vec<String>> {
        self.with(|d| d.records_count_requests.clone())
    }

    /// The `ids` parameter of every `records_count` request as it was sent, in order.
    pub fn records_count_raw_ids(&self) -> Vec<String> {
        self.with(|d| d.records_count_raw.clone())
    }

    /// Every `analytics` request, in order.
    pub fn analytics_requests(&self) -> Vec<AnalyticsRequest> {
        self.with(|d| d.analytics_requests.clone())
    }

    /// Makes every request, of every route, wait `latency` before it is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|d| d.latency = latency);
    }

    /// The most requests, of every route, handled at once since the last call (or the start).
    pub fn take_most_in_flight(&self) -> usize {
        self.with(|d| std::mem::replace(&mut d.most_in_flight, d.in_flight))
    }

    /// Switches the cadence with `id`, active at first, off after `first_off` (at most
    /// `period`), then on and off again every `period`.
    pub fn set_flapping(&self, id: &str, period: Duration, first_off: Duration) {
        let since_unix = chrono::Utc::now().timestamp();
        self.with(|d| {
            d.flapping = Some(Flapping {
                id: id.to_owned(),
                period,
                first_off: first_off.min(period),
                since: Instant::now(),
                since_unix,
            })
        });
    }
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

/// Most requests a log keeps: a demo runs for days, and no test needs more.
const REQUEST_LOG_LIMIT: usize = 10_000;

/// A request log that forgets its oldest half when it reaches [`REQUEST_LOG_LIMIT`].
trait RequestLog<T> {
    fn record(&mut self, item: T);
}

impl<T> RequestLog<T> for Vec<T> {
    fn record(&mut self, item: T) {
        if self.len() >= REQUEST_LOG_LIMIT {
            self.drain(..REQUEST_LOG_LIMIT / 2);
        }
        self.push(item);
    }
}

/// Finds the org that answers a request, then counts the request in that org's flight until
/// it is answered or abandoned, after the org's latency.
async fn dispatch(
    State(orgs): State<Orgs>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (shared, mut request) = match orgs {
        Orgs::One(shared) => (shared, request),
        Orgs::Many(orgs) => match org_of_request(&orgs, request).await {
            Ok(found) => found,
            Err(response) => return response,
        },
    };
    /// Counts the request out when dropped: answered, or abandoned by the client.
    struct InFlight(Shared);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.data.lock().expect("fake lock").in_flight -= 1;
        }
    }
    let latency = {
        let mut data = shared.data.lock().expect("fake lock");
        data.in_flight += 1;
        data.most_in_flight = data.most_in_flight.max(data.in_flight);
        data.latency
    };
    request.extensions_mut().insert(shared.clone());
    let _counted = InFlight(shared);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    next.run(request).await
}

/// Most bytes of a token request's form the dispatch of a shared address reads.
const TOKEN_FORM_LIMIT: usize = 64 * 1024;

/// The org of `orgs` a request names: by the form's `refresh_token` for a token request, by
/// the access token otherwise. A request naming none gets Zoho's answer to unknown credentials.
async fn org_of_request(
    orgs: &[Shared],
    request: axum::extract::Request,
) -> Result<(Shared, axum::extract::Request), Response> {
    if request.uri().path() == TOKEN_PATH {
        let (parts, body) = request.into_parts();
        let Ok(form) = axum::body::to_bytes(body, TOKEN_FORM_LIMIT).await else {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        };
        let refresh_token = String::from_utf8_lossy(&form)
            .split('&')
            .find_map(|pair| pair.strip_prefix("refresh_token="))
            .map(percent_decode);
        // Looked up among the orgs' current refresh tokens, so that a rotated one is followed.
        let org = refresh_token.and_then(|refresh_token| {
            orgs.iter()
                .find(|org| org.data.lock().expect("fake lock").refresh_token == refresh_token)
        });
        return match org {
            Some(org) => Ok((
                org.clone(),
                axum::extract::Request::from_parts(parts, Body::from(form)),
            )),
            None => Err(json_ok(json!({ "error": "invalid_code" }))),
        };
    }
    let org = access_token_of(request.headers())
        .and_then(org_of_access_token)
        .and_then(|org| orgs.get(org));
    match org {
        Some(org) => Ok((org.clone(), request)),
        None => Err(invalid_token()),
    }
}

fn take_fault(shared: &Shared, route: Route) -> Option<Fault> {
    let mut data = shared.data.lock().expect("fake lock");
    *data.calls.entry(route).or_default() += 1;
    let queued = data.faults.get_mut(&route).and_then(VecDeque::pop_front);
    if queued.is_some() || data.fault_rate <= 0.0 || fastrand::f64() >= data.fault_rate {
        return queued;
    }
    Some(random_fault(route, &mut data))
}

/// One of the faults real Zoho and real networks produce, for [`FakeZoho::set_fault_rate`].
fn random_fault(route: Route, data: &mut Data) -> Fault {
    let status = |status: u16, code: &str, retry_after: Option<&str>| Fault::Status {
        status,
        code: code.to_owned(),
        retry_after: retry_after.map(str::to_owned),
    };
    if route == Route::Token {
        return match fastrand::u8(0..3) {
            0 => Fault::TokenThrottled,
            1 => status(500, "", None),
            _ => Fault::Delay(Duration::from_secs(3)),
        };
    }
    // Zoho kills an access token rarely: one fault in 500. More often would only show the
    // exporter keeping Zoho's limit of 10 token requests in 10 minutes (tests/faults.rs does).
    if fastrand::u16(0..500) == 0 {
        data.tokens.clear();
        return status(401, "INVALID_TOKEN", None);
    }
    match fastrand::u8(0..7) {
        0 => status(500, "INTERNAL_ERROR", None),
        1 => status(503, "", None),
        2 => status(429, "TOO_MANY_REQUESTS", Some("1")),
        3 => Fault::Reset,
        4 => Fault::Malformed,
        5 => Fault::WrongShape,
        _ => Fault::Delay(Duration::from_secs(3)),
    }
}

/// Zoho's accounts server: not part of the cadences specification; as `api-notes.md` and the
/// official SDKs describe it.
async fn token(Extension(shared): Extension<Shared>, Form(form): Form<TokenForm>) -> Response {
    let fault = take_fault(&shared, Route::Token);
    let mut api_domain = shared.base_url.clone();
    if let Some(fault) = fault {
        match fault {
            Fault::TokenError(error) => return json_ok(json!({ "error": error })),
            Fault::TokenThrottled => {
                return json_ok(json!({
                    "error_description": "You have made too many requests continuously. Please try again after some time.",
                    "error": "Access Denied",
                    "status": "failure"
                }))
            }
            Fault::TokenApiDomain(domain) => api_domain = domain,
            other => {
                if let Some(response) = apply_fault(other).await {
                    return response;
                }
            }
        }
    }
    let mut data = shared.data.lock().expect("fake lock");
    if form.grant_type.as_deref() != Some("refresh_token") {
        return json_ok(json!({ "error": "unsupported_grant_type" }));
    }
    if form.client_id.as_deref() != Some(CLIENT_ID)
        || form.client_secret.as_deref() != Some(data.client_secret.as_str())
    {
        return json_ok(json!({ "error": "invalid_client" }));
    }
    if data.revoked || form.refresh_token.as_deref() != Some(data.refresh_token.as_str()) {
        return json_ok(json!({ "error": "invalid_code" }));
    }
    let token = access_token(data.org, data.next_token);
    data.next_token += 1;
    let lifetime = data.token_lifetime;
    data.tokens.insert(token.clone(), Instant::now() + lifetime);
    // Zoho keeps at most 15 live access tokens per refresh token, killing the oldest.
    while data.tokens.len() > 15 {
        let oldest = data
            .tokens
            .iter()
            .min_by_key(|(_, expiry)| **expiry)
            .map(|(t, _)| t.clone())
            .expect("not empty");
        data.tokens.remove(&oldest);
    }
    json_ok(json!({
        "access_token": token,
        "api_domain": api_domain,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs()
    }))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn cadences_page(
    Extension(shared): Extension<Shared>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let fault = take_fault(&shared, Route::Cadences);
    let page = query.page.unwrap_or(1);
    shared
        .data
        .lock()
        .expect("fake lock")
        .pages_requested
        .record(page);
    if let Some(response) = check_token(&shared, &headers) {
        return response;
    }
    let mut oversize = None;
    if let Some(fault) = fault {
        match fault {
            Fault::Oversized(bytes) => oversize = Some(bytes),
            other => {
                if let Some(response) = apply_fault(other).await {
                    return response;
                }
            }
        }
    }
    // The specification gives no maximum for `per_page` (only up to 400 cadences on a page) and
    // no answer for an out-of-range one: 200 is Zoho's usual maximum (`api-notes.md`), and this
    // error is the fake's.
    let per_page = query.per_page.unwrap_or(200);
    if per_page == 0 || per_page > 200 || page == 0 {
        return zoho_error(
            400,
            "INVALID_DATA",
            "per_page must be 1 to 200 and page at least 1",
            None,
        );
    }
    let data = shared.data.lock().expect("fake lock");
    let total = data.cadences.len();
    if total == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    let per_page = data.page_size.unwrap_or(per_page);
    let start = ((page - 1) * per_page) as usize;
    let end = (start + per_page as usize).min(total);
    let slice = current_slice(&data, start, end);
    let more = end < total;
    let mut body = json!({
        "cadences": slice,
        "info": { "per_page": per_page, "count": slice.len(), "page": page, "more_records": more }
    });
    if let Some(bytes) = oversize {
        body["padding"] = Value::String("x".repeat(bytes));
    }
    let rate_limits = data.rate_limit_headers;
    drop(data);
    let mut response = json_ok(body);
    if rate_limits {
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", "100".parse().expect("static"));
        h.insert("x-ratelimit-remaining", "99".parse().expect("static"));
        h.insert("x-ratelimit-day-limit", "50000".parse().expect("static"));
        h.insert(
            "x-ratelimit-day-remaining",
            "49000".parse().expect("static"),
        );
    }
    response
}

/// The cadences as of now: the flapping cadence, if any, gets its current state.
fn current_cadences(data: &Data) -> Vec<Value> {
    current_slice(data, 0, data.cadences.len())
}

/// Cadences `start..end` (clamped) as of now; copies only those, so paging through a large
/// org costs the fake one page per request, not the whole list.
fn current_slice(data: &Data, start: usize, end: usize) -> Vec<Value> {
    let end = end.min(data.cadences.len());
    let mut cadences = data
        .cadences
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    if let Some(flap) = &data.flapping {
        // Counted as if the flapping had started `period - first_off` earlier, so that the
        // first switch comes at `first_off`.
        let lead = flap.period - flap.first_off;
        let periods =
            ((flap.since.elapsed() + lead).as_secs_f64() / flap.period.as_secs_f64()) as i64;
        let active = periods % 2 == 0;
        let changed_at = if periods == 0 {
            flap.since_unix
        } else {
            flap.since_unix - lead.as_secs() as i64 + periods * flap.period.as_secs() as i64
        };
        for cadence in cadences.iter_mut().filter(|c| c["id"] == flap.id.as_str()) {
            cadence["active"] = Value::Bool(active);
            cadence["status"] =
                Value::String(if active { "active" } else { "inactive" }.to_owned());
            cadence["modified_time"] = Value::String(zoho_time(changed_at));
        }
    }
    cadences
}

async fn records_count(
    Extension(shared): Extension<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let fault = take_fault(&shared, Route::RecordsCount);
    // The specification documents `ids` as "a comma-separated list": the fake splits the value
    // as sent at literal commas and decodes each id, so ids joined by an encoded `%2C` arrive as
    // one unknown id. What Zoho does with `%2C` is not documented.
    let raw = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("ids="))
        .unwrap_or_default()
        .to_owned();
    let ids: Vec<String> = raw
        .split(',')
        .map(percent_decode)
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    {
        let mut data = shared.data.lock().expect("fake lock");
        data.records_count_requests.record(ids.clone());
        data.records_count_raw.record(raw.clone());
    }
    if let Some(response) = check_token(&shared, &headers) {
        return response;
    }
    if version != "v8" {
        return invalid_url();
    }
    let mut item_errors: HashMap<String, String> = HashMap::new();
    if let Some(fault) = fault {
        match fault {
            Fault::ItemErrors { ids, code } => {
                item_errors.extend(ids.into_iter().map(|id| (id, code.clone())));
            }
            other => {
                if let Some(response) = apply_fault(other).await {
                    return response;
                }
            }
        }
    }
    // The specification states the limits (100 ids, 2,000 characters) but not the answers to a
    // request without ids or beyond them: these errors are the fake's, in Zoho's error shape.
    if ids.is_empty() {
        return zoho_error_with(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({ "param_name": "ids" }),
        );
    }
    if ids.len() > 100 {
        return zoho_error_with(
            400,
            "LIMIT_EXCEEDED",
            "the number of ids exceeds the limit",
            json!({ "param_name": "ids", "limit": 100 }),
        );
    }
    if raw.len() > 2_000 {
        return zoho_error_with(
            400,
            "INVALID_DATA",
            "the ids parameter exceeds 2000 characters",
            json!({ "param_name": "ids", "maximum_length": 2000 }),
        );
    }
    let data = shared.data.lock().expect("fake lock");
    let cadences = current_cadences(&data);
    let wave = data.enrollment_wave.map(|(since, period)| {
        (std::f64::consts::TAU * since.elapsed().as_secs_f64() / period.as_secs_f64()).sin()
    });
    let mut known = 0;
    let items: Vec<Value> = ids
        .iter()
        .map(|id| {
            let cadence = cadences.iter().find(|c| c["id"] == id.as_str());
            match (cadence, item_errors.get(id)) {
                (Some(cadence), None) => {
                    known += 1;
                    let base = data.enrolled.get(id).copied().unwrap_or(0) as f64;
                    let count = wave.map_or(base, |w| (base + base * 0.1 * w).round());
                    json!({ "count": count as u64, "cadences": { "name": cadence["name"], "id": id } })
                }
                (_, code) => json!({
                    "code": code.map_or("INVALID_DATA", String::as_str),
                    "details": { "id": id },
                    "message": "The id given seems to be invalid.",
                    "status": "error"
                }),
            }
        })
        .collect();
    drop(data);
    let status = if known == ids.len() {
        200
    } else if known == 0 {
        400
    } else {
        207
    };
    json_status(status, json!({ "cadences_records_count": items }))
}

async fn analytics(
    Extension(shared): Extension<Shared>,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fault = take_fault(&shared, Route::Analytics);
    let from = query.get("follow_ups_executed_from").cloned();
    let till = query.get("follow_ups_executed_till").cloned();
    shared
        .data
        .lock()
        .expect("fake lock")
        .analytics_requests
        .record(AnalyticsRequest {
            version: version.clone(),
            id: id.clone(),
            from: from.clone(),
            till: till.clone(),
        });
    if let Some(response) = check_token(&shared, &headers) {
        return response;
    }
    if version != "v8" {
        return invalid_url();
    }
    if let Some(fault) = fault {
        if let Some(response) = apply_fault(fault).await {
            return response;
        }
    }
    let (from, till) = match (from, till) {
        (Some(from), Some(till)) => (from, till),
        (None, None) => (String::new(), String::new()),
        (Some(_), None) => {
            return zoho_error_with(
                400,
                "DEPENDENT_PARAM_MISSING",
                "Dependent Param missing",
                json!({ "dependee": { "param_name": "follow_ups_executed_till" }, "param_name": "follow_ups_executed_from" }),
            )
        }
        (None, Some(_)) => {
            return zoho_error_with(
                400,
                "DEPENDENT_PARAM_MISSING",
                "Dependent Param missing",
                json!({ "dependee": { "param_name": "follow_ups_executed_from" }, "param_name": "follow_ups_executed_till" }),
            )
        }
    };
    if !from.is_empty() {
        let parsed = [
            ("follow_ups_executed_from", &from),
            ("follow_ups_executed_till", &till),
        ]
        .map(|(name, value)| (name, chrono::DateTime::parse_from_rfc3339(value)));
        for (name, result) in &parsed {
            if result.is_err() {
                return zoho_error_with(
                    400,
                    "INVALID_DATA",
                    "invalid data type",
                    json!({ "expected_data_type": "datetime", "param_name": name }),
                );
            }
        }
        // Not in the specification: what Zoho answers for a window that ends before it starts.
        if let [(_, Ok(from)), (_, Ok(till))] = &parsed {
            if from > till {
                return zoho_error_with(
                    400,
                    "INVALID_DATA",
                    "follow_ups_executed_from is after follow_ups_executed_till",
                    json!({ "param_name": "follow_ups_executed_from" }),
                );
            }
        }
    }
    let data = shared.data.lock().expect("fake lock");
    let Some(cadence) = current_cadences(&data)
        .into_iter()
        .find(|c| c["id"] == id.as_str())
    else {
        // The specification's InvalidCadenceId example: the id is the fourth segment of
        // /settings/automation/cadences/{id}/actions/analytics.
        return zoho_error_with(
            400,
            "INVALID_DATA",
            "the given id seems to be invalid",
            json!({ "resource_path_index": 3 }),
        );
    };
    let executed = data.executed.get(&id).cloned().unwrap_or_default();
    drop(data);
    json_ok(json!({ "cadences": [analytics_cadence(&cadence, &executed)] }))
}

/// A cadence's analytics in Zoho's shape: one follow-up per configured step (per the cadence's
/// `summary`), each channel's executed count spread over its steps.
fn analytics_cadence(cadence: &Value, executed: &BTreeMap<String, u64>) -> Value {
    let mut steps: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(summary) = cadence["summary"].as_object() {
        for (key, count) in summary {
            if let Some(channel) = key.strip_suffix("_follow_up_count") {
                steps.insert(channel.to_owned(), count.as_u64().unwrap_or(0));
            }
        }
    }
    for channel in executed.keys() {
        let configured = steps.entry(channel.clone()).or_insert(0);
        *configured = (*configured).max(1);
    }
    let mut follow_ups = Vec::new();
    let mut number = 0u64;
    for (channel, count) in steps {
        let total = executed.get(&channel).copied().unwrap_or(0);
        for step in 0..count {
            number += 1;
            // The first step takes the remainder, so the steps add up to the total.
            let share = total / count + if step == 0 { total % count } else { 0 };
            let (kind, analytics) = match channel.as_str() {
                "email" => (
                    "email_notifications",
                    json!({ "email_count": share, "sent_email_count": share, "opened_email_count": share / 2,
                            "clicked_email_count": share / 5, "replied_email_count": share / 10,
                            "bounced_email_count": 0, "unsent_email_count": 0 }),
                ),
                "call" => (
                    "schedule_call",
                    json!({ "calls_count": share, "created_calls_count": 0, "scheduled_calls_count": share / 2,
                            "completed_calls_count": share - share / 2, "cancelled_calls_count": 0,
                            "failed_calls_count": 0, "overdue_calls_count": 0, "missed_calls_count": 0,
                            "subject": "Call" }),
                ),
                "task" => (
                    "tasks",
                    json!({ "tasks_count": share, "open_tasks_count": share / 2,
                            "completed_tasks_count": share - share / 2, "failed_tasks_count": 0, "subject": "Task" }),
                ),
                "whatsapp" => (
                    "whatsapp_message_notification",
                    json!({ "whatsapp_count": share, "delivered_whatsapp_count": share, "failed_whatsapp_count": 0 }),
                ),
                other => (other, json!({ format!("{other}_count"): share })),
            };
            follow_ups.push(json!({
                "analytics": analytics,
                "parent_follow_up": null,
                "action": { "name": format!("{channel} {}", step + 1), "type": kind },
                "follow_up_number": number.to_string(),
                "id": format!("{}", 3_652_397_000_200_000_000u64 + number),
            }));
        }
    }
    json!({
        "module": cadence["module"],
        "name": cadence["name"],
        "follow_ups": follow_ups,
        "id": cadence["id"],
        "created_by": cadence["created_by"],
    })
}

/// Decodes `%XX` escapes (and `+` as a space) of a query value; a bad escape stays as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                at += 1;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What Zoho answers for an endpoint the API version lacks (`api-notes.md`; the v8 specification
/// does not describe v7 paths).
fn invalid_url() -> Response {
    zoho_error(
        404,
        "INVALID_URL_PATTERN",
        "Please check if the URL trying to access is a correct one",
        None,
    )
}

/// The access token of an `Authorization: Zoho-oauthtoken <token>` header.
fn access_token_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
}

/// Zoho's answer to an access token it does not know or that expired.
fn invalid_token() -> Response {
    zoho_error(401, "INVALID_TOKEN", "invalid oauth token", None)
}

fn check_token(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let data = shared.data.lock().expect("fake lock");
    let valid = access_token_of(headers)
        .and_then(|t| data.tokens.get(t))
        .is_some_and(|expiry| Instant::now() < *expiry);
    if valid {
        None
    } else {
        Some(invalid_token())
    }
}

async fn apply_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::Status {
            status,
            code,
            retry_after,
        } => {
            if code.is_empty() {
                let mut response = (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "<html><body>Bad Gateway</body></html>",
                )
                    .into_response();
                if let Some(value) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, value.parse().expect("header value"));
                }
                return Some(response);
            }
            // Zoho's error shape; the message is the fake's.
            Some(zoho_error(status, &code, "scripted fault", retry_after))
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(24 * 3_600)).await;
            None
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Reset => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"cadences\": [{\"id\": \"1\","),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset",
                )),
            ];
            Some(
                Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(futures_stream(chunks)))
                    .expect("static response"),
            )
        }
        Fault::Malformed => Some(raw_json_ok("{\"cadences\": [{\"id\": \"1\", \"name\": ")),
        Fault::WrongShape => Some(json_ok(json!({ "cadences": { "id": "1" }, "info": [] }))),
        Fault::Answer { status, body } => Some(json_status(status, body)),
        Fault::TokenError(_)
        | Fault::TokenThrottled
        | Fault::TokenApiDomain(_)
        | Fault::Oversized(_)
        | Fault::ItemErrors { .. } => None,
    }
}

fn futures_stream(
    items: Vec<Result<&'static str, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<&'static str, std::io::Error>> {
    struct Items(std::vec::IntoIter<Result<&'static str, std::io::Error>>);
    impl futures_core::Stream for Items {
        type Item = Result<&'static str, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Items(items.into_iter())
}

fn json_ok(body: Value) -> Response {
    raw_json_ok(&body.to_string())
}

fn json_status(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

/// A Zoho error answer with `details`.
fn zoho_error_with(status: u16, code: &str, message: &str, details: Value) -> Response {
    json_status(
        status,
        json!({ "code": code, "details": details, "message": message, "status": "error" }),
    )
}

fn raw_json_ok(body: &str) -> Response {
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Body::from(body.to_owned()))
        .expect("static response")
}

fn zoho_error(status: u16, code: &str, message: &str, retry_after: Option<String>) -> Response {
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Body::from(
            json!({ "code": code, "details": {}, "message": message, "status": "error" })
                .to_string(),
        ))
        .expect("static response");
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, value.parse().expect("header value"));
    }
    response
}

/// A Unix time in Zoho's `2024-07-17T20:38:22-0700` form (at UTC-7, like the sample answer).
pub fn zoho_time(unix: i64) -> String {
    let offset = chrono::FixedOffset::west_opt(7 * 3_600).expect("valid offset");
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("valid timestamp")
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

/// Zoho's sample answer (the two cadences of `get-cadences-v7.md`).
pub const SAMPLE_ANSWER: &str = include_str!("../fixtures/sample-cadences-response.json");

/// The sample answer's cadences, as Zoho sent them.
pub fn sample_cadences() -> Vec<Value> {
    let answer: Value =
        serde_json::from_str(SAMPLE_ANSWER).expect("the embedded sample is valid JSON");
    answer["cadences"].as_array().cloned().unwrap_or_default()
}

/// A cadence in Zoho's shape (the specification's fields) with the quirks of real answers: bare
/// numeric `custom_view.id` beyond 2^53, `-0700` offsets. `n` makes the id and times unique and
/// varies what the specification leaves open: `execute_every` takes each documented period in
/// turn (`hours`, `days` without a `unit`, `weeks`, `immediately`), and `module.id` and
/// `custom_view.id` come as strings or numbers.
pub fn cadence(n: u64, name: &str, module: &str, active: bool) -> Value {
    let created = 1_700_000_000 + n as i64 * 3_600;
    let execute_every = match n % 4 {
        0 => json!({ "unit": 1, "period": "hours" }),
        1 => json!({ "period": "days" }),
        2 => json!({ "unit": 2, "period": "weeks" }),
        _ => json!({ "period": "immediately" }),
    };
    let module_id = if n % 2 == 0 {
        json!("3652397000000002179")
    } else {
        json!(3_652_397_000_000_002_179u64)
    };
    let view_id = if n % 3 == 2 {
        json!("3652397000000087529")
    } else {
        json!(3_652_397_000_000_087_529u64)
    };
    json!({
        "summary": {
            "task_follow_up_count": n % 3,
            "call_follow_up_count": n % 2,
            "email_follow_up_count": 1 + n % 4
        },
        "created_time": zoho_time(created),
        "module": { "api_name": module, "id": module_id },
        "active": active,
        "execution_details": {
            "unenroll_properties": { "end_date": "", "type": "respond_email" },
            "end_date": "",
            "automatic_unenroll": false,
            "type": "respond_email",
            "execute_every": execute_every
        },
        "published": true,
        "type": "Custom view",
        "created_by": { "name": "Patricia Boyle", "id": "3652397000000186017" },
        "modified_time": zoho_time(created + 86_400),
        "name": name,
        "modified_by": { "name": "Patricia Boyle", "id": "3652397000000186017" },
        "id": format!("{}", 3_652_397_000_100_000_000u64 + n),
        "custom_view": { "name": "All Records", "id": view_id },
        "status": if active { "active" } else { "inactive" }
    })
}

/// A draft as the specification describes it: `status` `draft` (not yet published), neither
/// active nor published.
pub fn draft(n: u64, name: &str, module: &str) -> Value {
    let mut cadence = cadence(n, name, module, false);
    cadence["status"] = json!("draft");
    cadence["published"] = json!(false);
    cadence
}

/// `count` generated cadences spread over Leads, Contacts and Deals, every fifth not active:
/// inactive, or every other time a draft (n = 4, 14, 24, ... inactive; 9, 19, 29, ... drafts).
pub fn generated_cadences(count: u64) -> Vec<Value> {
    const MODULES: [&str; 3] = ["Leads", "Contacts", "Deals"];
    (0..count)
        .map(|n| {
            let (name, module) = (format!("Cadence {n:05}"), MODULES[(n % 3) as usize]);
            if n % 10 == 9 {
                return draft(n, &name, module);
            }
            cadence(n, &name, module, n % 5 != 4)
        })
        .collect()
}
