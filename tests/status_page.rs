//! The status pages against the fake Zoho, through the router (`oneshot`): the summary and
//! every org's state on `/`, what needs attention (a cadence an expectation wants active that
//! is not, an expectation matching nothing, a deactivation and a deletion between two
//! collections with who and when), the failed step and its host, escaping, and one org's table
//! sorted, filtered and paged; an unknown org is a 404 page.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use fake_zoho::{cadence, generated_cadences, sample_cadences, zoho_time, FakeZoho, Fault, Route};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::Duration;
use tower::ServiceExt;
use zoho_cadences_exporter::{router, AppState, Config, Org, SharedState, Supervisor, PAGE_SIZE};

async fn page(state: &SharedState, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let app = router(AppState {
        shared: state.clone(),
        telemetry_path: "/metrics".to_owned(),
        reload: None,
        web: None,
    });
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The page at `path`, which must answer 200 with the strict policy.
async fn ok(state: &SharedState, path: &str) -> String {
    let (status, headers, html) = page(state, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'; style-src 'unsafe-inline'"));
    html
}

/// The element `<tag ... id="id">` up to its tag's first closing `</tag>` (the tables and
/// paragraphs the tests look into have no nested element of the same tag).
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let at = html
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no <{tag} id={id}> in {html}"));
    let start = html[..at].rfind(&format!("<{tag}")).unwrap();
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// The rows of a table body, by their `<tr`.
fn rows(table: &str) -> Vec<&str> {
    table
        .split("<tr")
        .skip(1)
        .filter(|r| r.contains("<td"))
        .collect()
}

fn title(html: &str) -> &str {
    let start = html.find("<title>").unwrap() + "<title>".len();
    &html[start..html.find("</title>").unwrap()]
}

fn id(cadence: &Value) -> String {
    cadence["id"].as_str().unwrap().to_owned()
}

const MUST_RUN: &str = "expectations:
  - name: onboarding-must-run
    cadence: \"Onboarding*\"
    active: true
  - name: renamed-away
    cadence: \"Old name*\"
    active: true
";

/// org0 with an onboarding cadence switched off that an expectation wants on, org1 whose
/// refresh token is revoked (never collected).
async fn two_orgs() -> ([FakeZoho; 2], SharedState, Vec<Org>, Vec<Value>) {
    let cadences = vec![
        cadence(1, "Onboarding Welcome", "Contacts", false),
        cadence(2, "Renewal", "Deals", true),
        cadence(3, "Nurture", "Leads", false),
    ];
    let fake = FakeZoho::start(cadences.clone()).await.unwrap();
    let broken = FakeZoho::start(sample_cadences()).await.unwrap();
    broken.set_revoked(true);
    let config = config_for(&[&fake, &broken], MUST_RUN);
    let (state, collectors) = collectors(&config);
    ([fake, broken], state, collectors, cadences)
}

#[tokio::test]
async fn the_index_sums_up_and_lists_what_needs_attention_most_urgent_first() {
    let (fakes, state, collectors, cadences) = two_orgs().await;
    let html = ok(&state, "/").await;
    assert!(
        title(&html).starts_with("2 orgs: 0 up, 0 down, 2 waiting for a first collection"),
        "{}",
        title(&html)
    );
    assert!(html.contains("no data yet: the first collection is under way"));

    collectors[0].collect_once().await.unwrap();
    collectors[1].collect_once().await.unwrap_err();
    let html = ok(&state, "/").await;
    let summary = "2 orgs: 1 up, 1 down; 1 cadence needs attention, 1 expectation matches nothing";
    assert!(title(&html).starts_with(summary), "{}", title(&html));
    assert!(element(&html, "p", "summary").contains(summary));

    // Per org: state, counts by status (no zeros for the org never collected), a link to its
    // page (relative), the last error with its time, step and host.
    let orgs = rows(element(&html, "table", "org-table"));
    assert!(
        orgs[0].contains(r#"<a href="orgs/org0">org0</a>"#),
        "{}",
        orgs[0]
    );
    assert!(orgs[0].contains(r#"class="state up">up<"#), "{}", orgs[0]);
    assert!(
        orgs[0].contains(r#"<td class="n">1</td><td class="n">2</td><td class="n">0</td>"#),
        "active, inactive, draft: {}",
        orgs[0]
    );
    assert!(
        orgs[0].contains(" ago)"),
        "last success with its age: {}",
        orgs[0]
    );
    assert!(orgs[0].contains("(in 5"), "token expiry: {}", orgs[0]);
    assert!(
        orgs[1].contains(r#"class="state down">down<"#),
        "{}",
        orgs[1]
    );
    assert!(orgs[1].contains("no data yet: no collection has succeeded"));
    assert!(!orgs[1].contains(r#"<td class="n">0</td>"#), "{}", orgs[1]);
    let broken_host = fakes[1].url().trim_start_matches("http://").to_owned();
    assert!(
        orgs[1].contains(&format!(
            r#"step <strong class="step">token</strong> against <code>{broken_host}</code>"#
        )),
        "{}",
        orgs[1]
    );
    assert!(orgs[1].contains("invalid_code"), "{}", orgs[1]);

    // Needs attention: the org down, then the cadence, then the expectation matching nothing.
    let attention = rows(element(&html, "table", "attention-table"));
    assert_eq!(attention.len(), 3, "{attention:?}");
    assert!(attention[0].contains("org down") && attention[0].contains("org1"));
    assert!(
        attention[1].contains("unexpectedly inactive"),
        "{}",
        attention[1]
    );
    assert!(
        attention[1].contains(&format!(
            r##"<a href="orgs/org0#c-{}">Onboarding Welcome</a>"##,
            id(&cadences[0])
        )),
        "links to the cadence on its org's page: {}",
        attention[1]
    );
    assert!(
        attention[1].contains("for at least 0 s (already when first collected)"),
        "{}",
        attention[1]
    );
    assert!(
        attention[1].contains("by Patricia Boyle"),
        "{}",
        attention[1]
    );
    assert!(
        attention[2].contains("expectation matches nothing")
            && attention[2].contains(r##"<a href="orgs/org0#expectations">renamed-away</a>"##),
        "{}",
        attention[2]
    );
    assert!(
        !html.contains("Nurture"),
        "inactive with no expectation: nothing to do"
    );

    // The org's page lists its cadences, with the row an expectation disagrees with marked.
    let org = ok(&state, "/orgs/org0").await;
    let row = rows(element(&org, "table", "cadence-table"))
        .into_iter()
        .find(|r| r.contains("Onboarding Welcome"))
        .unwrap();
    assert!(
        row.contains(&format!(r#"id="c-{}""#, id(&cadences[0]))),
        "{row}"
    );
    assert!(row.contains("cadence attention"), "{row}");
    assert!(
        element(&org, "table", "expectation-table").contains("renamed-away"),
        "{org}"
    );
    assert!(org.contains(r#"<a href="../">All orgs</a>"#));
    assert!(org.contains(r#"<a href="../metrics">Metrics</a>"#));
}

#[tokio::test]
async fn a_deactivation_and_a_deletion_between_two_collections_show_who_and_when() {
    let mut cadences = generated_cadences(3);
    let (fake, state, collector) = single(cadences.clone(), "").await;
    collector.collect_once().await.unwrap();
    let html = ok(&state, "/").await;
    assert!(html.contains("Nothing needs attention."), "{html}");

    let switched_off = id(&cadences[0]);
    cadences[0]["active"] = json!(false);
    cadences[0]["status"] = json!("inactive");
    cadences[0]["modified_by"] = json!({ "name": "Ada Lovelace", "id": "1" });
    cadences[0]["modified_time"] = json!(zoho_time(1_750_000_000));
    let deleted = cadences.remove(1);
    fake.set_cadences(cadences);
    collector.collect_once().await.unwrap();

    let html = ok(&state, "/").await;
    assert!(
        title(&html).starts_with("1 org: 1 up, 0 down; 2 cadences need attention"),
        "{}",
        title(&html)
    );
    let attention = rows(element(&html, "table", "attention-table"));
    let off = attention
        .iter()
        .find(|r| r.contains("deactivated since start"))
        .unwrap();
    assert!(
        off.contains(&format!(r##"href="orgs/org0#c-{switched_off}""##)),
        "{off}"
    );
    assert!(
        off.contains(r#"<strong class="modified-by">Ada Lovelace</strong>"#),
        "{off}"
    );
    // 1,750,000,000 s is 2025-06-15T15:06:40Z (Zoho sent it at UTC-7).
    assert!(off.contains("2025-06-15T15:06:40Z"), "{off}");
    let gone = attention
        .iter()
        .find(|r| r.contains("deleted since start"))
        .unwrap();
    assert!(gone.contains(deleted["name"].as_str().unwrap()), "{gone}");
    assert!(gone.contains(r##"href="orgs/org0#changes""##), "{gone}");

    // The org's page keeps both in its history.
    let org = ok(&state, "/orgs/org0").await;
    let changes = rows(element(&org, "table", "change-table"));
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().any(|r| r.contains("Ada Lovelace")));

    // Switched on again: no longer needs attention, still in the history.
    let mut back = fake.cadences();
    back[0]["active"] = json!(true);
    back[0]["status"] = json!("active");
    fake.set_cadences(back);
    collector.collect_once().await.unwrap();
    let html = ok(&state, "/").await;
    assert!(
        title(&html).contains("; 1 cadence needs attention"),
        "{html}"
    );
    let org = ok(&state, "/orgs/org0").await;
    assert_eq!(rows(element(&org, "table", "change-table")).len(), 2);
}

#[tokio::test]
async fn a_cadence_named_script_is_escaped_everywhere() {
    const EVIL: &str = "<script>alert(1)</script>";
    let cadences = vec![
        cadence(1, EVIL, "<b>Leads</b>", false),
        cadence(2, "quote \" and ' and &", "Deals", true),
    ];
    let fake = FakeZoho::start(cadences.clone()).await.unwrap();
    let mut yaml = format!(
        "expectations:\n  - name: \"{}\"\n    cadence: \"*\"\n    active: true\norgs:\n",
        "<i>all</i>"
    );
    yaml.push_str(&fake.org_yaml(EVIL));
    let config = Config::parse(&yaml).unwrap();
    let (state, collectors) = collectors(&config);
    collectors[0].collect_once().await.unwrap();
    let mut changed = cadences.clone();
    changed[1]["active"] = json!(false);
    fake.set_cadences(changed);
    collectors[0].collect_once().await.unwrap();

    let index = ok(&state, "/").await;
    let org_path = "/orgs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    let org = ok(&state, org_path).await;
    let filtered = ok(&state, &format!("{org_path}?module=%3Cb%3ELeads%3C%2Fb%3E")).await;
    for html in [&index, &org, &filtered] {
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }
    assert!(index.contains(r#"href="orgs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E""#));
    assert!(org.contains("quote &quot; and ' and &amp;"), "{org}");
    assert!(org.contains("?module=%3Cb%3ELeads%3C%2Fb%3E"), "{org}");
    assert_eq!(
        rows(element(&filtered, "table", "cadence-table")).len(),
        1,
        "{filtered}"
    );
}

#[tokio::test]
async fn an_org_table_sorts_filters_and_pages() {
    const COUNT: usize = 450;
    let (_fake, state, collector) = single(generated_cadences(COUNT as u64), "").await;
    collector.collect_once().await.unwrap();
    let names = |html: &str| -> Vec<String> {
        rows(element(html, "table", "cadence-table"))
            .into_iter()
            .map(|r| {
                let start = r.find(r#"<td class="name">"#).unwrap() + r#"<td class="name">"#.len();
                r[start..start + r[start..].find('<').unwrap()].to_owned()
            })
            .collect()
    };

    // Default: by module then name, 200 a page.
    let first = ok(&state, "/orgs/org0").await;
    assert_eq!(names(&first).len(), PAGE_SIZE);
    assert!(element(&first, "p", "matching").contains("450 cadences match; page 1 of 3"));
    assert_eq!(names(&first)[0], "Cadence 00001", "Contacts first, by name");
    assert!(element(&first, "p", "pager").contains(r#"<a rel="next" href="?page=2">"#));
    let last = ok(&state, "/orgs/org0?page=3").await;
    assert_eq!(names(&last).len(), COUNT - 2 * PAGE_SIZE);
    assert!(element(&last, "p", "pager").contains(r#"<a rel="prev" href="?page=2">"#));
    let beyond = ok(&state, "/orgs/org0?page=9").await;
    assert!(element(&beyond, "p", "matching").contains("page 3 of 3"));

    // Any column sorts, both ways; the header links say how.
    let by_name = ok(&state, "/orgs/org0?sort=name").await;
    assert_eq!(names(&by_name)[..2], ["Cadence 00000", "Cadence 00001"]);
    assert!(
        by_name.contains(r#"<a href="?sort=name&amp;order=desc">Name</a> ▲"#),
        "{by_name}"
    );
    let newest = ok(&state, "/orgs/org0?sort=modified&order=desc").await;
    assert_eq!(names(&newest)[0], "Cadence 00449");
    let by_status = ok(&state, "/orgs/org0?sort=status&order=desc").await;
    // Statuses sort as active, inactive, draft: descending, a draft comes first.
    assert!(rows(element(&by_status, "table", "cadence-table"))[0].contains(">draft<"));
    for column in [
        "module",
        "expected",
        "follow_ups",
        "enrolled",
        "executed",
        "end",
        "modified_by",
    ] {
        ok(&state, &format!("/orgs/org0?sort={column}&order=desc")).await;
    }

    // Filters by module and status, kept by the sort links and the pager.
    let leads = ok(&state, "/orgs/org0?module=Leads").await;
    assert!(element(&leads, "p", "matching").contains("150 cadences match; page 1 of 1"));
    assert!(names(&leads).iter().all(|n| {
        let n: usize = n["Cadence ".len()..].parse().unwrap();
        n % 3 == 0
    }));
    assert!(
        leads.contains(r#"href="?sort=name&amp;module=Leads""#),
        "{leads}"
    );
    // Every fifth generated cadence is not active: n = 4, 14, 24, ... inactive, n = 9, 19, ...
    // drafts.
    let inactive = ok(&state, "/orgs/org0?status=inactive&sort=name").await;
    assert!(element(&inactive, "p", "matching").contains("45 cadences match"));
    assert!(names(&inactive).iter().all(|n| n.ends_with('4')));
    let both = ok(&state, "/orgs/org0?status=inactive&module=Deals").await;
    assert!(element(&both, "p", "matching").contains("15 cadences match"));
    let drafts = ok(&state, "/orgs/org0?status=draft").await;
    assert!(element(&drafts, "p", "matching").contains("45 cadences match"));
    assert!(names(&drafts).iter().all(|n| n.ends_with('9')));
    assert!(element(&first, "p", "status-filter").contains(r#"href="?status=draft">draft</a>"#));

    // A bad value is refused, naming the parameter.
    let (status, headers, html) = page(&state, "/orgs/org0?sort=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers.contains_key("content-security-policy"));
    assert!(element(&html, "p", "problem").contains("sort: unknown column &quot;colour&quot;"));
    assert_eq!(
        page(&state, "/orgs/org0?status=paused").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_page() {
    let (_fake, state, _collector) = single(sample_cadences(), "").await;
    let (status, headers, html) = page(&state, "/orgs/nope%3Cx%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers.contains_key("content-security-policy"));
    assert!(
        element(&html, "p", "problem").contains("No org named &quot;nope&lt;x&gt;&quot;"),
        "{html}"
    );
}

#[tokio::test]
async fn failures_name_their_step_and_host_and_whether_they_were_resolved() {
    // 201 cadences: two pages, the second not JSON.
    let (fake, state, collector) = single(
        generated_cadences(201),
        "enrollment:\n  enabled: true\n  interval: 10m\n",
    )
    .await;
    fake.push_fault(Route::Cadences, Fault::Delay(Duration::ZERO));
    fake.push_fault(Route::Cadences, Fault::Malformed);
    let host = fake.url().trim_start_matches("http://").to_owned();
    collector.collect_once().await.unwrap_err();
    let html = ok(&state, "/").await;
    assert!(
        html.contains(&format!(
            r#"step <strong class="step">page 2</strong> against <code>{host}</code>"#
        )),
        "{html}"
    );

    // The collection succeeds, then the enrollment pass fails: its step is named, and the org
    // stays up.
    fake.set_cadences(generated_cadences(3));
    collector.collect_once().await.unwrap();
    fake.push_fault(
        Route::RecordsCount,
        Fault::Status {
            status: 400,
            code: "NO_PERMISSION".to_owned(),
            retry_after: None,
        },
    );
    let snapshot = state.snapshot("org0").unwrap();
    collector
        .enrollment_pass(&snapshot)
        .await
        .expect("enrollment on")
        .unwrap_err();
    let html = ok(&state, "/").await;
    let org = rows(element(&html, "table", "org-table"))[0];
    assert!(org.contains(r#"class="state up">up<"#), "{org}");
    assert!(
        org.contains(r#"step <strong class="step">records_count</strong>"#)
            && org.contains("NO_PERMISSION"),
        "{org}"
    );
    assert!(org.contains(r#"class="last-error bad""#), "{org}");
    collector
        .enrollment_pass(&snapshot)
        .await
        .expect("enrollment on")
        .unwrap();
    let html = ok(&state, "/").await;
    let org = rows(element(&html, "table", "org-table"))[0];
    assert!(org.contains("(succeeded since)"), "{org}");
}

#[tokio::test]
async fn the_next_collection_is_shown_while_the_loop_runs() {
    let fake = FakeZoho::start(sample_cadences()).await.unwrap();
    let config = config_for(&[&fake], "interval: 10m\n");
    let state = SharedState::new(&config);
    let html = ok(&state, "/").await;
    assert!(
        rows(element(&html, "table", "org-table"))[0].contains("<td>under way</td>"),
        "{html}"
    );
    let mut supervisor = Supervisor::new(state.clone());
    supervisor.apply(&config);
    let started = std::time::Instant::now();
    loop {
        let html = ok(&state, "/").await;
        if rows(element(&html, "table", "org-table"))[0].contains("(in 9 min)") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no next collection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    supervisor.stop();
    let html = ok(&state, "/").await;
    let org = rows(element(&html, "table", "org-table"))[0];
    assert!(org.contains("(in 9 min)"), "{org}");
    let page = ok(&state, "/orgs/org0").await;
    assert!(element(&page, "table", "org-state").contains("(in 9 min)"));
}
