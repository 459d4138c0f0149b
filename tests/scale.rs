//! Many orgs: the bound on collections in flight (`max_concurrent_collections`), sharding
//! across processes (`--shard`, `--total-shards`), service discovery (`/sd`), and the built
//! binary's flag checks.

mod common;

use common::*;
use fake_zoho::{generated_cadences, FakeZoho, Route};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use zoho_cadences_exporter::{Config, SharedState, Supervisor};

/// `fake`'s org entries named org-<from> .. org-<to - 1>.
fn org_entries(fake: &FakeZoho, range: std::ops::Range<usize>) -> String {
    range.map(|n| fake.org_yaml(&format!("org-{n}"))).collect()
}

/// Waits until `orgs` orgs have `zoho_crm_up` 1, for at most 20 s.
async fn wait_all_up(state: &SharedState, orgs: usize) {
    let started = Instant::now();
    loop {
        let text = scrape(state);
        let up = text
            .lines()
            .filter(|l| l.starts_with("zoho_crm_up{") && l.ends_with(" 1"))
            .count();
        if up == orgs {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{up} of {orgs} up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn never_more_collections_in_flight_than_the_bound_and_a_reload_applies_a_new_one() {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    // Every request takes 150 ms: without the bound, the orgs' token calls and pages overlap.
    fake.set_latency(Duration::from_millis(150));
    let yaml = |bound: usize, orgs: usize| {
        format!(
            "interval: 1m\nmax_concurrent_collections: {bound}\norgs:\n{}",
            org_entries(&fake, 0..orgs)
        )
    };
    let config = Config::parse(&yaml(1, 4)).unwrap();
    let state = SharedState::new(&config);
    let mut supervisor = Supervisor::new(state.clone());
    supervisor.apply(&config);
    wait_all_up(&state, 4).await;
    // Collections and enrollment passes, one at a time.
    assert_eq!(fake.take_most_in_flight(), 1);

    // Six orgs more, three at a time. Their first collections start within a second (a tenth
    // of a second per org of the config); each takes 1.2 s (a token and a page): some three
    // overlap, whatever the offsets.
    fake.set_latency(Duration::from_millis(600));
    supervisor.apply(&Config::parse(&yaml(3, 10)).unwrap());
    wait_all_up(&state, 10).await;
    assert_eq!(fake.take_most_in_flight(), 3);
    supervisor.stop();
}

/// A config of `names`, every org collecting from `fake`.
fn orgs_config(dir: &Path, fake: &FakeZoho, names: &[String]) -> PathBuf {
    let orgs: String = names.iter().map(|n| fake.org_yaml(n)).collect();
    let path = dir.join("config.yaml");
    std::fs::write(&path, format!("interval: 1m\norgs:\n{orgs}")).unwrap();
    path
}

/// The binary serving `config` on 127.0.0.1:0 with `flags`.
fn exporter(config: &Path, flags: &[&str]) -> Exporter {
    let mut command = Command::new(BINARY);
    command
        .args(["--config.file", config.to_str().unwrap()])
        .args(["--web.listen-address", "127.0.0.1:0"])
        .args(flags);
    Exporter::spawn(command)
}

async fn get(exporter: &Exporter, path: &str) -> (u16, String) {
    let response = exporter
        .http
        .get(format!("{}{path}", exporter.base))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The orgs `/sd` lists, checking each group's shape on the way.
async fn discovered(exporter: &Exporter) -> BTreeSet<String> {
    let (status, body) = get(exporter, "/sd").await;
    assert_eq!(status, 200, "{body}");
    let host = exporter.base.trim_start_matches("http://");
    let groups: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    groups
        .iter()
        .map(|group| {
            let org = group["labels"]["__param_org"].as_str().unwrap().to_owned();
            assert_eq!(group["targets"], serde_json::json!([host]));
            assert_eq!(group["labels"]["__metrics_path__"], "/metrics");
            assert_eq!(group["labels"]["instance"], format!("{host}/{org}"));
            org
        })
        .collect()
}

/// The orgs with a `zoho_crm_up` series in a scrape.
fn scraped_orgs(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("zoho_crm_up{org=\""))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

async fn wait_ready(exporter: &Exporter) {
    for _ in 0..200 {
        if get(exporter, "/-/ready").await.0 == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not ready within 10 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_shards_partition_the_orgs_exactly_and_keep_it_on_reload() {
    let fake = FakeZoho::start(generated_cadences(3)).await.unwrap();
    let dir = temp_dir("shards");
    let names: Vec<String> = (0..12).map(|n| format!("org-{n}")).collect();
    let config = orgs_config(dir.path(), &fake, &names);
    let shards: Vec<Exporter> = (0..2)
        .map(|n| exporter(&config, &["--shard", &n.to_string(), "--total-shards", "2"]))
        .collect();
    let mut seen = BTreeSet::new();
    for (ordinal, shard) in shards.iter().enumerate() {
        wait_ready(shard).await;
        let orgs = discovered(shard).await;
        assert!(!orgs.is_empty(), "shard {ordinal} holds some of 12 orgs");
        let text = shard.metrics().await;
        assert_eq!(
            scraped_orgs(&text),
            orgs,
            "shard {ordinal} collects what it lists"
        );
        assert_eq!(
            value(&text, "zoho_crm_exporter_shard_ordinal"),
            Some(ordinal as f64)
        );
        assert_eq!(value(&text, "zoho_crm_exporter_total_shards"), Some(2.0));
        assert!(
            seen.is_disjoint(&orgs),
            "an org in two shards: {seen:?} {orgs:?}"
        );
        seen.extend(orgs);
    }
    assert_eq!(seen, names.iter().cloned().collect::<BTreeSet<_>>());

    // A reloaded config is sharded the same way: "acme" (FNV-1a 64 0x0724d383f4f6de0f, odd)
    // joins shard 1 only.
    let mut more = names.clone();
    more.push("acme".to_owned());
    orgs_config(dir.path(), &fake, &more);
    for shard in &shards {
        let reload = shard.http.post(format!("{}/-/reload", shard.base)).send();
        assert_eq!(reload.await.unwrap().status(), 200);
    }
    assert!(!discovered(&shards[0]).await.contains("acme"));
    assert!(discovered(&shards[1]).await.contains("acme"));
    shards[1]
        .wait_for("acme collected by shard 1", |t| {
            value(t, "zoho_crm_up{org=\"acme\"}") == Some(1.0)
        })
        .await;
    assert_eq!(
        value(&shards[0].metrics().await, "zoho_crm_up{org=\"acme\"}"),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shard_without_orgs_starts_is_ready_and_serves() {
    let fake = FakeZoho::start(generated_cadences(1)).await.unwrap();
    let dir = temp_dir("empty-shard");
    // "acme" belongs to shard 1 of 2.
    let config = orgs_config(dir.path(), &fake, &["acme".to_owned()]);
    let shard = exporter(&config, &["--shard", "0", "--total-shards", "2"]);
    shard
        .wait_for_log(&["no org of the config belongs to this shard"])
        .await;
    assert_eq!(get(&shard, "/-/ready").await, (200, "Ready\n".to_owned()));
    assert_eq!(get(&shard, "/sd").await, (200, "[]".to_owned()));
    let text = shard.metrics().await;
    assert!(scraped_orgs(&text).is_empty(), "{text}");
    assert_eq!(value(&text, "zoho_crm_exporter_shard_ordinal"), Some(0.0));
}

#[test]
fn bad_sharding_flags_name_the_flag_and_the_value() {
    let dir = temp_dir("shard-flags");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "orgs:\n  - {name: acme, client_id: i, client_secret: s, refresh_token: r}\n",
    )
    .unwrap();
    let check = |flags: &[&str]| {
        let mut args = vec!["--config.check", "--config.file", config.to_str().unwrap()];
        args.extend_from_slice(flags);
        run(&args, &[])
    };
    let (code, _, log) = check(&["--shard", "2", "--total-shards", "2"]);
    assert_eq!(code, 1);
    assert!(
        log.contains("--shard: 2 is out of range for --total-shards 2"),
        "{log}"
    );
    let (code, _, log) = check(&["--total-shards", "0"]);
    assert_eq!(code, 1);
    assert!(log.contains("--total-shards: 0 is not allowed"), "{log}");
    let (code, _, log) = check(&["--shard", "first"]);
    assert_eq!(code, 2, "clap's usage error");
    assert!(
        log.contains("--shard") && log.contains("\"first\" is neither"),
        "{log}"
    );
    let (code, out, _) = check(&["--shard", "1", "--total-shards", "2"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("shard 1 of 2: 1 org(s) of the config"),
        "{out}"
    );
}

/// `--shard auto` reads this machine's hostname: a StatefulSet-style name gives its ordinal,
/// any other name is refused naming it. (Which names give which ordinal is tested on strings
/// in the crate; this checks the flag is wired to the hostname.)
#[test]
fn shard_auto_takes_the_ordinal_from_the_hostname() {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .expect("a hostname");
    let dir = temp_dir("shard-auto");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "orgs:\n  - {name: acme, client_id: i, client_secret: s, refresh_token: r}\n",
    )
    .unwrap();
    let ordinal = hostname
        .split('.')
        .next()
        .and_then(|first| first.rsplit_once('-'))
        .and_then(|(_, n)| {
            n.parse::<u64>()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))
        });
    let total = ordinal.map_or(1, |n| n + 1).to_string();
    let args = [
        "--config.check",
        "--config.file",
        config.to_str().unwrap(),
        "--shard",
        "auto",
        "--total-shards",
        &total,
    ];
    let (code, out, log) = run(&args, &[]);
    match ordinal {
        Some(n) => {
            assert_eq!(code, 0, "{log}");
            assert!(
                out.contains(&format!("shard {n} of {total}")) || n == 0,
                "{out}"
            );
        }
        None => {
            assert_eq!(code, 1);
            assert!(
                log.contains(&format!("--shard auto: hostname \"{hostname}\"")),
                "{log}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Many orgs behind one address (`FakeZoho::start_many`), as Zoho's hosts serve a data center's
// orgs: each org told apart by its refresh token and access tokens.

/// Two cadences of org `org`, with ids and names of that org alone.
fn cadences_of_org(org: u64) -> Vec<serde_json::Value> {
    (0..2)
        .map(|k| {
            fake_zoho::cadence(
                org * 10 + k,
                &format!("Org {org} cadence {k}"),
                "Leads",
                true,
            )
        })
        .collect()
}

/// The access token `fake`'s token endpoint issues for `refresh_token`, or its error answer.
async fn token_for(
    http: &reqwest::Client,
    fake: &FakeZoho,
    refresh_token: &str,
) -> serde_json::Value {
    http.post(format!("{}/oauth/v2/token", fake.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", fake_zoho::CLIENT_ID),
            ("client_secret", fake_zoho::CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|body| serde_json::from_str(&body).unwrap())
        .unwrap()
}

/// The status and body of a cadences page asked with `token` (no `Authorization` when `None`).
async fn page_with(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = http.get(format!("{url}/crm/v8/settings/automation/cadences"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Zoho-oauthtoken {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

fn names(page: &serde_json::Value) -> Vec<&str> {
    page["cadences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn orgs_behind_one_address_each_get_their_own_cadences_and_tokens() {
    let http = test_http_client();
    let fakes = FakeZoho::start_many(2, Vec::new()).await.unwrap();
    let [a, b] = &fakes[..] else { unreachable!() };
    a.set_cadences(cadences_of_org(0));
    b.set_cadences(cadences_of_org(1));
    assert_eq!(a.url(), b.url());
    assert_ne!(a.refresh_token(), b.refresh_token());
    for fake in [a, b] {
        assert!(fake
            .org_yaml("x")
            .contains(&format!("refresh_token: \"{}\"", fake.refresh_token())));
    }

    let token_a = token_for(&http, a, a.refresh_token()).await;
    let token_b = token_for(&http, b, b.refresh_token()).await;
    assert_eq!(token_a["api_domain"], a.url());
    let (token_a, token_b) = (
        token_a["access_token"].as_str().unwrap(),
        token_b["access_token"].as_str().unwrap(),
    );
    assert_ne!(token_a, token_b);
    let (status, page) = page_with(&http, &a.url(), Some(token_a)).await;
    assert_eq!(
        (status, names(&page)),
        (200, vec!["Org 0 cadence 0", "Org 0 cadence 1"])
    );
    let (status, page) = page_with(&http, &a.url(), Some(token_b)).await;
    assert_eq!(
        (status, names(&page)),
        (200, vec!["Org 1 cadence 0", "Org 1 cadence 1"])
    );
    assert_eq!((a.calls(Route::Token), b.calls(Route::Token)), (1, 1));
    assert_eq!((a.calls(Route::Cadences), b.calls(Route::Cadences)), (1, 1));

    // A's second token presented as B's (the org's number in its text changed): B issued one
    // token only, so it is not B's.
    let second_a = token_for(&http, a, a.refresh_token()).await;
    let forged = second_a["access_token"]
        .as_str()
        .unwrap()
        .replacen("-0-", "-1-", 1);
    assert!(forged.starts_with("1000.fakeaccesstoken-1-"), "{forged}");
    let (status, page) = page_with(&http, &a.url(), Some(&forged)).await;
    assert_eq!(
        (status, page["code"].as_str()),
        (401, Some("INVALID_TOKEN"))
    );
    assert_eq!(b.calls(Route::Cadences), 2, "B answered it");
    // Each org's tokens are its own state: killing A's leaves B's working.
    a.expire_tokens();
    assert_eq!(page_with(&http, &a.url(), Some(token_a)).await.0, 401);
    assert_eq!(page_with(&http, &a.url(), Some(token_b)).await.0, 200);
    // And so is its refresh token.
    b.set_revoked(true);
    assert_eq!(
        token_for(&http, b, b.refresh_token()).await["error"],
        "invalid_code"
    );
    assert!(token_for(&http, a, a.refresh_token()).await["access_token"].is_string());

    // Credentials of no org: Zoho's answers to unknown ones, counted by no org.
    let calls = |route| a.calls(route) + b.calls(route);
    let (tokens, pages) = (calls(Route::Token), calls(Route::Cadences));
    assert_eq!(
        token_for(&http, a, "1000.no-such-refresh-token").await,
        serde_json::json!({ "error": "invalid_code" })
    );
    for token in [
        Some("1000.fakeaccesstoken-2-00000001"),
        Some("not-a-token"),
        None,
    ] {
        let (status, page) = page_with(&http, &a.url(), token).await;
        assert_eq!(
            (status, page["code"].as_str()),
            (401, Some("INVALID_TOKEN")),
            "{token:?}"
        );
    }
    assert_eq!(
        (calls(Route::Token), calls(Route::Cadences)),
        (tokens, pages)
    );

    // The listener stops once, when the last org's handle goes.
    let addr = a.addr();
    let mut fakes = fakes;
    drop(fakes.remove(0));
    let (status, _) = page_with(&test_http_client(), &fakes[0].url(), Some(token_b)).await;
    assert_eq!(status, 200);
    drop(fakes);
    let mut refused = false;
    for _ in 0..1_000 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "{addr} still accepts connections");
}

#[tokio::test]
async fn the_exporter_collects_orgs_behind_one_address_each_with_its_own_cadences() {
    let fakes = FakeZoho::start_many(3, Vec::new()).await.unwrap();
    for (org, fake) in fakes.iter().enumerate() {
        fake.set_cadences(cadences_of_org(org as u64));
    }
    let config = config_for(&fakes.iter().collect::<Vec<_>>(), "");
    let (state, orgs) = collectors(&config);
    for org in &orgs {
        org.collect_once().await.expect("collection succeeds");
    }
    let text = scrape(&state);
    for (org, fake) in fakes.iter().enumerate() {
        let expected: BTreeSet<String> = fake
            .cadences()
            .iter()
            .map(|c| {
                format!(
                    r#"id="{}",name="{}""#,
                    c["id"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                )
            })
            .collect();
        let prefix = format!(r#"zoho_crm_cadence_active{{org="org{org}","#);
        let exported: BTreeSet<String> = samples(&text)
            .into_keys()
            .filter_map(|series| {
                let labels = series.strip_prefix(&prefix)?;
                Some(labels.split(",module=").next().unwrap().to_owned())
            })
            .collect();
        assert_eq!(exported, expected, "org{org}:\n{text}");
        // One token call per org: each org's refresh token reached that org.
        assert_eq!(fake.calls(Route::Token), 1, "org{org}");
        assert_eq!(
            value(&text, &format!(r#"zoho_crm_up{{org="org{org}"}}"#)),
            Some(1.0)
        );
    }
}
