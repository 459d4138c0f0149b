//! Criterion benches of the exporter's hot paths, network excluded: decoding one page of 200
//! cadences, decoding a whole 10,000-cadence collection and building its snapshot, encoding the
//! cadence part of the exposition, one org's encoding among many, serving a scrape through the
//! router (`oneshot`, no socket), and rendering the status pages of an org of 10,000 cadences.
//! Run with `cargo bench --bench hot_paths`; figures are in docs/performance.md.

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fake_zoho::{generated_cadences, FakeZoho};
use http_body_util::BodyExt;
use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;
use tower::ServiceExt;
use zoho_cadences_exporter::{
    decode_cadences_page, router, AppState, Cadence, Config, Format, Interner, Org, OrgSnapshot,
    SharedState, ZohoLimits, PER_PAGE,
};

const CADENCES: u64 = 10_000;

/// The pages Zoho would send for `count` cadences, in the fake's (and Zoho's) shape.
fn pages(count: u64) -> Vec<Vec<u8>> {
    let cadences = generated_cadences(count);
    let chunks: Vec<_> = cadences.chunks(PER_PAGE as usize).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(n, chunk)| {
            serde_json::to_vec(&serde_json::json!({
                "cadences": chunk,
                "info": {"per_page": PER_PAGE, "count": chunk.len(), "page": n + 1, "more_records": n < last}
            }))
            .expect("JSON")
        })
        .collect()
}

/// What the client does with the page bodies of one collection.
fn decode_pages(bodies: &[Vec<u8>]) -> Vec<Cadence> {
    let mut texts = Interner::default();
    let mut cadences = Vec::new();
    for body in bodies {
        let page = decode_cadences_page(body).expect("a valid page");
        cadences.extend(page.into_cadences(&mut texts));
    }
    cadences
}

fn snapshot(count: u64) -> OrgSnapshot {
    OrgSnapshot::build(decode_pages(&pages(count)), SystemTime::now())
}

fn config(per_cadence_metrics: bool) -> Config {
    Config::parse(&format!(
        "per_cadence_metrics: {per_cadence_metrics}\norgs:\n  - name: acme\n    client_id: \"1000.X\"\n    client_secret: \"s\"\n    refresh_token: \"r\"\n"
    ))
    .expect("bench config")
}

fn decode(c: &mut Criterion) {
    let page = pages(PER_PAGE.into());
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(page[0].len() as u64));
    group.bench_function("one_page_of_200_cadences", |b| {
        b.iter(|| decode_pages(black_box(&page)))
    });
    group.finish();
}

fn collection(c: &mut Criterion) {
    let pages = pages(CADENCES);
    let decoded = decode_pages(&pages);
    let mut group = c.benchmark_group("collection_10000");
    group.sample_size(20);
    group.bench_function("build_snapshot", |b| {
        b.iter_batched(
            || decoded.clone(),
            |cadences| OrgSnapshot::build(cadences, SystemTime::now()),
            BatchSize::LargeInput,
        )
    });
    // The whole CPU cost of a collection once the bodies are in: the 50ms target.
    group.bench_function("decode_50_pages_and_build_snapshot", |b| {
        b.iter(|| OrgSnapshot::build(decode_pages(&pages), SystemTime::now()))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let snapshot = Arc::new(snapshot(CADENCES));
    let state = SharedState::new(&config(true));
    let mut group = c.benchmark_group("encode_10000");
    group.sample_size(10);
    // Publishing a snapshot judges it by the expectations (none here) and encodes the cadence
    // part in both formats, plain and gzipped, before it returns.
    group.bench_function("both_formats_plain_and_gzip", |b| {
        b.iter(|| runtime.block_on(state.publish_snapshot("acme", snapshot.clone())))
    });
    // What a plain scrape pays when no other plain response is in flight: the plain text is
    // kept gzipped and the inflated bytes are freed with the last response holding them.
    group.bench_function("inflate_plain_text_for_a_lone_plain_scrape", |b| {
        b.iter(|| state.scrape_parts(Format::Text, false)[0].len())
    });
    group.finish();
}

fn scrape(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("scrape");
    for count in [200, CADENCES] {
        let config = config(true);
        let state = SharedState::new(&config);
        runtime.block_on(state.publish_snapshot("acme", Arc::new(snapshot(count))));
        let app = router(AppState {
            shared: state,
            telemetry_path: "/metrics".to_owned(),
            reload: None,
            web: None,
        });
        for (encoding, accept_encoding) in [("plain", "identity"), ("gzip", "gzip")] {
            group.bench_function(format!("{count}_cadences_{encoding}"), |b| {
                b.to_async(&runtime).iter(|| async {
                    let response = app
                        .clone()
                        .oneshot(
                            Request::get("/metrics")
                                .header("accept-encoding", accept_encoding)
                                .body(Body::empty())
                                .expect("request"),
                        )
                        .await
                        .expect("infallible");
                    // Take every chunk of the body, as hyper's writer does, without joining
                    // them (hyper writes them as they are).
                    let mut body = response.into_body();
                    let mut length = 0;
                    while let Some(frame) = body.frame().await {
                        length += frame.expect("infallible").data_ref().map_or(0, |d| d.len());
                    }
                    black_box(length)
                })
            });
        }
    }
    group.finish();
}

/// The status pages of one org of 10,000 cadences with enrollment and analytics results and
/// an expectation that a fifth of them break: `/` and a page of `/orgs/acme`, in the default
/// order and sorted by another column. The results come from one collection and one pass of
/// each kind against the fake Zoho (setup, not measured).
fn status_page(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let state = runtime.block_on(status_page_state());
    let app = router(AppState {
        shared: state,
        telemetry_path: "/metrics".to_owned(),
        reload: None,
        web: None,
    });
    let mut group = c.benchmark_group("status_page_10000");
    for (name, path) in [
        ("index", "/"),
        ("org_page_default_order", "/orgs/acme"),
        (
            "org_page_sorted_by_enrolled_desc_page_20",
            "/orgs/acme?sort=enrolled&order=desc&page=20",
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = app
                    .clone()
                    .oneshot(Request::get(path).body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible");
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.expect("body");
                black_box(body.to_bytes().len())
            })
        });
    }
    group.finish();
}

/// A state holding one collection of 10,000 cadences with enrolled records for each and
/// follow-ups executed by each active one.
async fn status_page_state() -> SharedState {
    let cadences = generated_cadences(CADENCES);
    let fake = FakeZoho::start(cadences.clone()).await.expect("fake Zoho");
    for (n, cadence) in cadences.iter().enumerate() {
        let id = cadence["id"].as_str().expect("id");
        fake.set_enrolled(id, n as u64);
        fake.set_executed(id, "email", 3);
        fake.set_executed(id, "call", 1);
    }
    let yaml = format!(
        "expectations:\n  - name: all-must-run\n    cadence: \"Cadence *\"\n    active: true\nenrollment:\n  enabled: true\nanalytics:\n  enabled: true\norgs:\n{}",
        fake.org_yaml("acme")
    );
    let config = Config::parse(&yaml).expect("bench config");
    let state = SharedState::new(&config);
    let org = Org::wire_all(&config, &state, ZohoLimits::default()).remove(0);
    org.collect_once().await.expect("collection");
    let snapshot = state.snapshot("acme").expect("snapshot");
    let passes = [
        org.enrollment_pass(&snapshot).await,
        org.analytics_pass(&snapshot).await,
    ];
    for pass in passes {
        pass.expect("the org runs the pass").expect("pass");
    }
    state
}

/// A config of `orgs` orgs named org0, org1, ...
fn config_of_orgs(orgs: usize) -> Config {
    let mut yaml = String::from("orgs:\n");
    for n in 0..orgs {
        yaml.push_str(&format!(
            "  - {{name: org{n}, client_id: \"1000.X\", client_secret: s, refresh_token: r}}\n"
        ));
    }
    Config::parse(&yaml).expect("bench config")
}

/// One org's collection of 100 cadences among 1 and among 1,000 such orgs: the encoding covers
/// that org only, so both should cost the same.
fn encode_among_orgs(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let snapshot = Arc::new(snapshot(100));
    let mut group = c.benchmark_group("encode_one_org_of_100");
    for orgs in [1, 1_000] {
        let state = SharedState::new(&config_of_orgs(orgs));
        for n in 0..orgs {
            runtime.block_on(state.publish_snapshot(&format!("org{n}"), snapshot.clone()));
        }
        group.bench_function(format!("among_{orgs}_orgs"), |b| {
            b.iter(|| runtime.block_on(state.publish_snapshot("org0", snapshot.clone())))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    collection,
    encode,
    scrape,
    encode_among_orgs,
    status_page
);
criterion_main!(benches);
