//! Criterion benches of the exporter's hot paths, network excluded: decoding one page of 200
//! cadences, decoding a whole 10,000-cadence collection and building its snapshot, encoding the
//! cadence part of the exposition, serving a scrape through the router (`oneshot`, no socket),
//! and rendering the status pages of an org of 10,000 cadences. Run with `cargo bench --bench hot_paths`; figures are in docs/performance.md.

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use http_body_util::BodyExt;
use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;
use tower::ServiceExt;
use zoho_cadences_exporter::config::Config;
use zoho_cadences_exporter::enrollment::{Enrollment, FollowUpsExecuted};
use zoho_cadences_exporter::exposition::{CadenceSource, EncodedCadences};
use zoho_cadences_exporter::fake_zoho::generated_cadences;
use zoho_cadences_exporter::http::{router, AppState};
use zoho_cadences_exporter::snapshot::{Cadence, Interner, OrgSnapshot};
use zoho_cadences_exporter::state::SharedState;
use zoho_cadences_exporter::zoho::client::PER_PAGE;
use zoho_cadences_exporter::zoho::model::decode_cadences_page;

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
        cadences.extend(texts.cadences(page.cadences));
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

fn source(snapshot: Arc<OrgSnapshot>) -> CadenceSource {
    CadenceSource {
        orgs: vec![("acme".to_owned(), snapshot)],
        enrollment: Default::default(),
        follow_ups_executed: Default::default(),
        expectations: Arc::new(Vec::new()),
        per_cadence_metrics: true,
    }
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
    let snapshot = Arc::new(snapshot(CADENCES));
    let mut group = c.benchmark_group("encode_10000");
    group.sample_size(10);
    group.bench_function("both_formats_plain_and_gzip", |b| {
        b.iter(|| EncodedCadences::encode(source(snapshot.clone())))
    });
    // What a plain scrape pays when no other plain response is in flight: the plain text is
    // kept gzipped and the inflated bytes are freed with the last response holding them.
    let encoded = EncodedCadences::encode(source(snapshot.clone()));
    group.bench_function("inflate_plain_text_for_a_lone_plain_scrape", |b| {
        b.iter(|| encoded.text.bytes().len())
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
        runtime.block_on(state.publish_success("acme", Arc::new(snapshot(count))));
        let app = router(AppState {
            shared: state,
            telemetry_path: "/metrics".to_owned(),
            reload: None,
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
/// an expectation that a fifth of them break: `/` (which evaluates expectations over every
/// cadence) and a page of `/orgs/acme`, in the default order and sorted by another column.
fn status_page(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config::parse(
        "expectations:\n  - name: all-must-run\n    cadence: \"Cadence *\"\n    active: true\nenrollment:\n  enabled: true\nanalytics:\n  enabled: true\norgs:\n  - name: acme\n    client_id: \"1000.X\"\n    client_secret: \"s\"\n    refresh_token: \"r\"\n",
    )
    .expect("bench config");
    let state = SharedState::new(&config);
    let snapshot = Arc::new(snapshot(CADENCES));
    let ids = || snapshot.cadences.iter().map(|c| c.id.to_string());
    let enrollment = Enrollment {
        counts: ids().zip(0..).collect(),
        completed_at: Some(SystemTime::now()),
    };
    let executed = FollowUpsExecuted {
        per_cadence: ids()
            .map(|id| (id, [("email".to_owned(), 3), ("call".to_owned(), 1)].into()))
            .collect(),
        completed_at: Some(SystemTime::now()),
        ..FollowUpsExecuted::default()
    };
    runtime.block_on(async {
        state.publish_success("acme", snapshot.clone()).await;
        state.publish_enrollment("acme", Arc::new(enrollment)).await;
        state
            .publish_follow_ups_executed("acme", Arc::new(executed))
            .await;
    });
    let app = router(AppState {
        shared: state,
        telemetry_path: "/metrics".to_owned(),
        reload: None,
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

criterion_group!(benches, decode, collection, encode, scrape, status_page);
criterion_main!(benches);
