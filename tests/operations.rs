//! Running the exporter as a service, as Prometheus' own exporters are run: several listen
//! addresses, systemd socket activation, `--version` and build info, start-up errors in the
//! chosen log format, the status page behind a path-prefixing proxy, credentials rotated on disk
//! without a reload, config paths relative to the config file.

mod common;

use common::*;
use fake_zoho::{generated_cadences, FakeZoho, Route, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A config file for one org collecting from `fake`.
fn fake_config(dir: &Path, fake: &FakeZoho) -> PathBuf {
    write_config(
        dir,
        &format!("interval: 1m\norgs:\n{}", fake.org_yaml("acme")),
    )
}

/// Waits until the log holds `count` lines containing every one of `parts`, for at most 10 s.
async fn log_lines(exporter: &Exporter, parts: &[&str], count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let lines: Vec<String> = exporter
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .cloned()
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fewer than {count} log lines with {parts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of `key=` in a logfmt line.
fn logfmt_field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(&format!(" {key}="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

async fn get(exporter: &Exporter, address: &str, path: &str) -> (u16, String) {
    let response = exporter
        .http
        .get(format!("http://{address}{path}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// Listening.

#[tokio::test(flavor = "multi_thread")]
async fn every_listen_address_answers() {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    let dir = temp_dir("two-addresses");
    let dir = dir.path();
    let config = fake_config(dir, &fake);
    let mut command = Command::new(BINARY);
    command.args([
        "--config.file",
        config.to_str().unwrap(),
        "--web.listen-address",
        "127.0.0.1:0",
        "--web.listen-address",
        "127.0.0.1:0",
    ]);
    let exporter = Exporter::spawn(command);
    let lines = log_lines(&exporter, &["msg=listening", "address="], 2).await;
    let addresses: Vec<&str> = lines.iter().map(|l| logfmt_field(l, "address")).collect();
    assert_ne!(addresses[0], addresses[1], "two sockets, two ports");
    for address in addresses {
        let (status, body) = get(&exporter, address, "/metrics").await;
        assert_eq!(status, 200, "{address}");
        assert!(body.contains("zoho_crm_exporter_build_info"), "{address}");
        assert_eq!(get(&exporter, address, "/-/healthy").await.0, 200);
    }
}

/// The binary started the way systemd starts a socket-activated service: `socket` as file
/// descriptor 3, `LISTEN_FDS=1` and `LISTEN_PID` the service's own process id (a shell sets it
/// to its `$$` and then execs the exporter, which keeps the id).
fn socket_activated(socket: std::os::fd::RawFd, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new("sh");
    command
        .args(["-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\"", BINARY])
        .args(args)
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES");
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) run.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(socket, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_activation_serves_the_socket_systemd_passes() {
    use std::os::fd::AsRawFd;
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    let dir = temp_dir("socket-activation");
    let dir = dir.path();
    let config = fake_config(dir, &fake);
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap().to_string();
    let command = socket_activated(
        socket.as_raw_fd(),
        &[
            "--config.file",
            config.to_str().unwrap(),
            "--web.systemd-socket",
            // Ignored with --web.systemd-socket, as in exporter-toolkit.
            "--web.listen-address",
            "127.0.0.1:1",
        ],
    );
    let exporter = Exporter::spawn(command);
    // Only the exporter holds the socket now.
    drop(socket);
    assert_eq!(exporter.base, format!("http://{address}"));
    let (status, body) = get(&exporter, &address, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("zoho_crm_exporter_build_info"));
    let ready = exporter
        .wait_for("the org collected", |t| {
            value(t, r#"zoho_crm_up{org="acme"}"#) == Some(1.0)
        })
        .await;
    assert_eq!(count_series(&ready, "zoho_crm_cadence_active"), 2);
}

#[test]
fn socket_activation_refuses_sockets_that_are_missing_not_ours_or_not_tcp() {
    use std::os::fd::AsRawFd;
    let demo = ["--demo", "--web.systemd-socket"];
    let (code, _, log) = run(&demo, &[]);
    assert_eq!(code, 1);
    assert!(
        log.contains("msg=\"cannot serve --web.systemd-socket\"")
            && log.contains("no sockets were passed (LISTEN_PID and LISTEN_FDS are not set)"),
        "{log}"
    );
    let (code, _, log) = run(&demo, &[("LISTEN_PID", "1"), ("LISTEN_FDS", "1")]);
    assert_eq!(code, 1);
    assert!(
        log.contains("the sockets were passed to another process (LISTEN_PID is \"1\""),
        "{log}"
    );

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = socket_activated(udp.as_raw_fd(), &demo).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("file descriptor 3 is not a stream socket; only listening TCP sockets"),
        "{log}"
    );
    let unbound = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let connected = std::net::TcpStream::connect(unbound.local_addr().unwrap()).unwrap();
    let out = socket_activated(connected.as_raw_fd(), &demo)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("file descriptor 3 is not listening"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// Version and build info.

#[test]
fn version_is_printed_in_the_layout_of_the_prometheus_tools() {
    for flag in ["--version", "-V"] {
        let (code, stdout, log) = run(&[flag], &[]);
        assert_eq!(code, 0, "{log}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{stdout}");
        assert_eq!(
            lines[0],
            format!(
                "zoho-cadences-exporter, version {} (branch: {}, revision: {})",
                zoho_cadences_exporter::VERSION,
                zoho_cadences_exporter::BRANCH,
                zoho_cadences_exporter::REVISION
            )
        );
        // Values start in column 21, as in prometheus/common's version template.
        let date = lines[1].strip_prefix("  build date:       ").unwrap();
        let shape: String = date
            .chars()
            .map(|c| if c.is_ascii_digit() { 'N' } else { c })
            .collect();
        assert_eq!(shape, "NNNNNNNN-NN:NN:NN", "{date}");
        let rustc = lines[2].strip_prefix("  rustc version:    ").unwrap();
        assert_eq!(rustc, zoho_cadences_exporter::RUST_VERSION);
        assert!(
            rustc.split('.').count() == 3 && rustc.starts_with("1."),
            "{rustc}"
        );
        assert_eq!(
            lines[3],
            format!(
                "  platform:         {}/{}",
                std::env::consts::OS,
                std::env::consts::ARCH
            )
        );
    }
}

#[test]
fn build_info_names_version_revision_branch_and_rust_version() {
    let config = zoho_cadences_exporter::Config::parse(
        "orgs:\n  - name: acme\n    client_id: a\n    client_secret: b\n    refresh_token: c\n",
    )
    .unwrap();
    let state = zoho_cadences_exporter::SharedState::new(&config);
    let series = format!(
        r#"zoho_crm_exporter_build_info{{version="{}",revision="{}",branch="{}",rustversion="{}"}}"#,
        zoho_cadences_exporter::VERSION,
        zoho_cadences_exporter::REVISION,
        zoho_cadences_exporter::BRANCH,
        zoho_cadences_exporter::RUST_VERSION,
    );
    assert_eq!(value(&scrape(&state), &series), Some(1.0));
}

// ---------------------------------------------------------------------------------------------
// Behind a path-prefixing proxy.

/// A reverse proxy on 127.0.0.1 that serves `upstream` under `/prefix/`: it strips the prefix
/// before passing a GET on, and answers 404 to any path outside it, as an ingress would.
async fn prefix_proxy(upstream: String) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let Some(rest) = uri.path().strip_prefix("/prefix/") else {
                return (StatusCode::NOT_FOUND, "outside /prefix/\n").into_response();
            };
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let answer = client
                .get(format!("{upstream}/{rest}{query}"))
                .send()
                .await
                .unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let content_type = answer
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let body = answer.bytes().await.unwrap();
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

/// Every `href`, `src` and `action` attribute value of an HTML page, entities decoded.
fn links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in ["href=", "src=", "action="] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let value = rest[1..].split(quote).next().unwrap();
            links.push(value.replace("&amp;", "&"));
        }
    }
    links
}

#[tokio::test(flavor = "multi_thread")]
async fn every_link_of_the_status_page_works_under_a_path_prefix() {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    let dir = temp_dir("prefix");
    let dir = dir.path();
    let exporter = Exporter::start(&fake_config(dir, &fake));
    // Readiness answers 200 once the org was collected.
    exporter
        .wait_for("the org collected", |t| {
            value(t, r#"zoho_crm_up{org="acme"}"#) == Some(1.0)
        })
        .await;
    let (proxy, _task) = prefix_proxy(exporter.base.clone()).await;
    let proxy_url = reqwest::Url::parse(&proxy).unwrap();
    let root = proxy_url.join("/prefix/").unwrap();

    // Every page reached from `/prefix/` through at most two links (the index, the org pages,
    // and the sorted, filtered and paged views they link), each once; every link on them must
    // stay under the prefix and answer 200. The views of the views are the same pages again.
    const DEPTH: usize = 2;
    let mut pages = vec![(root.clone(), 0)];
    let mut seen = std::collections::BTreeSet::from([root.to_string()]);
    let mut checked = 0;
    while let Some((page, depth)) = pages.pop() {
        let answer = exporter.http.get(page.clone()).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{page}");
        let html = answer
            .headers()
            .get("content-type")
            .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
        let body = answer.text().await.unwrap();
        if !html || depth == DEPTH {
            continue;
        }
        for link in links(&body) {
            let target = page.join(&link).unwrap();
            if target.origin() != proxy_url.origin() {
                continue; // A link to another site is not served by this proxy.
            }
            assert!(
                target.path().starts_with("/prefix/"),
                "{link:?} on {page} leaves the prefix: {target}"
            );
            checked += 1;
            let mut target = target;
            target.set_fragment(None);
            if seen.insert(target.to_string()) {
                assert!(seen.len() < 1000, "more pages than a status page has");
                pages.push((target, depth + 1));
            }
        }
    }
    assert!(
        seen.contains(&root.join("metrics").unwrap().to_string())
            && seen.contains(&root.join("-/ready").unwrap().to_string())
            && seen.contains(&root.join("orgs/acme").unwrap().to_string()),
        "the page links the metrics, readiness and the org's page: {seen:?}"
    );
    assert!(checked >= 2);
}

// ---------------------------------------------------------------------------------------------
// What a first run trips over.

#[test]
fn config_paths_are_relative_to_the_config_file() {
    let dir = temp_dir("relative-paths");
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    for (name, value) in [
        ("client_id", "1000.ID"),
        ("client_secret", "s3cr3t"),
        ("refresh_token", "r3fr3sh"),
    ] {
        std::fs::write(dir.join("secrets").join(name), value).unwrap();
    }
    let yaml = "orgs:\n  - name: acme\n    client_id_file: secrets/client_id\n    client_secret_file: secrets/client_secret\n    refresh_token_file: ./secrets/refresh_token\n";
    let config = write_config(dir, yaml);
    // Run from elsewhere: the paths must not depend on the current directory.
    let check = |config: &Path| {
        Command::new(BINARY)
            .args(["--config.file", config.to_str().unwrap(), "--config.check"])
            .current_dir("/")
            .output()
            .unwrap()
    };
    let out = check(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "config OK: 1 org(s), 0 expectation(s)\n"
    );

    let missing = write_config(dir, &yaml.replace("secrets/client_id", "secrets/nope"));
    let out = check(&missing);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        log.contains(&format!(
            "orgs[0].client_id_file: cannot read {}",
            dir.join("secrets/nope").display()
        )),
        "the error names the resolved path: {log}"
    );
}

#[test]
fn a_bad_listen_address_names_the_value_and_the_expected_form() {
    for (address, why) in [
        ("localhost", "no port"),
        ("10263", "no host part (write :10263 for every interface)"),
        ("::1:10263", "an IPv6 address needs brackets"),
    ] {
        let (code, stdout, log) = run(&["--demo", "--web.listen-address", address], &[]);
        assert_eq!(code, 1, "{log}");
        assert!(stdout.is_empty());
        let line = log.lines().find(|l| l.contains("level=error")).unwrap();
        assert!(
            line.contains("msg=\"invalid --web.listen-address\"")
                && line.contains(&format!("address={address} "))
                && line.contains(why)
                && line.contains("expected HOST:PORT or :PORT"),
            "{line}"
        );
    }
}

#[test]
fn start_up_errors_are_log_lines_in_the_chosen_format() {
    let dir = temp_dir("startup-errors");
    let dir = dir.path();
    let config = write_config(
        dir,
        "orgs:\n  - name: acme\n    client_id: a\n    client_secret: b\n    refresh_token: c\n",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let config_flag = ["--config.file", config.to_str().unwrap()];
    let in_use = [&config_flag[..], &["--web.listen-address", &address]].concat();

    let json = [&in_use[..], &["--log.format", "json"]].concat();
    let (code, stdout, log) = run(&json, &[]);
    assert_eq!(code, 1, "{log}");
    assert!(stdout.is_empty());
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {log}"));
    assert_eq!(error["message"], "cannot listen on --web.listen-address");
    assert_eq!(error["address"], address.as_str());
    assert!(
        error["error"].as_str().unwrap().contains("in use"),
        "{error}"
    );

    let (code, _, log) = run(&in_use, &[]);
    assert_eq!(code, 1);
    assert!(
        log.lines().all(|l| l.starts_with("ts=")),
        "logfmt lines only: {log}"
    );
    assert!(
        log.contains("level=error msg=\"cannot listen on --web.listen-address\""),
        "{log}"
    );

    // A config error too, before anything is served.
    let (code, _, log) = run(
        &[
            "--config.file",
            "/nonexistent/config.yaml",
            "--log.format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 1);
    let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["message"], "config error");
    assert!(line["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot read config file /nonexistent/config.yaml"));
    drop(taken);
}

// ---------------------------------------------------------------------------------------------
// Credentials rotated on disk.

/// A config file for one org named `acme` whose client secret and refresh token are files in
/// `secrets/` beside it (given relative to it), holding what `fake` accepts now.
fn config_with_secret_files(dir: &Path, fake: &FakeZoho) -> PathBuf {
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    rotate(dir, "client_secret", CLIENT_SECRET);
    rotate(dir, "refresh_token", REFRESH_TOKEN);
    let url = fake.url();
    write_config(
        dir,
        &format!(
            "interval: 1s\norgs:\n  - name: acme\n    client_id: \"{CLIENT_ID}\"\n    client_secret_file: secrets/client_secret\n    refresh_token_file: secrets/refresh_token\n    accounts_url: {url}\n    api_domain: {url}\n"
        ),
    )
}

/// Replaces a secret file the way Kubernetes and vault agents do: a new file renamed over it.
fn rotate(dir: &Path, name: &str, value: &str) {
    let path = dir.join("secrets").join(name);
    let new = path.with_extension("new");
    std::fs::write(&new, format!("{value}\n")).unwrap();
    std::fs::rename(new, path).unwrap();
}

fn credentials_read(text: &str) -> Option<f64> {
    value(
        text,
        r#"zoho_crm_credentials_last_read_successful{org="acme"}"#,
    )
}

/// A fake Zoho, and one org collecting from it with [`config_with_secret_files`] in a fresh
/// directory, collected once.
async fn collecting_with_secret_files(
    name: &str,
) -> (
    FakeZoho,
    tempfile::TempDir,
    zoho_cadences_exporter::SharedState,
    zoho_cadences_exporter::Org,
) {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    let dir = temp_dir(name);
    let config =
        zoho_cadences_exporter::Config::load(&config_with_secret_files(dir.path(), &fake)).unwrap();
    let (state, mut collectors) = collectors(&config);
    let collector = collectors.remove(0);
    collector.collect_once().await.unwrap();
    (fake, dir, state, collector)
}

#[tokio::test]
async fn rotated_secret_files_are_used_from_the_next_token_request_without_a_reload() {
    let (fake, dir, state, collector) = collecting_with_secret_files("rotation").await;
    collector.collect_once().await.unwrap();
    assert_eq!(fake.calls(Route::Token), 1, "the access token is cached");
    assert_eq!(credentials_read(&scrape(&state)), Some(1.0));

    // Zoho issues a new refresh token and the old one stops working; the file is rewritten
    // between two collections. The cached access token belongs to the old grant: it is dropped,
    // and the next collection's token request carries the new refresh token.
    fake.set_refresh_token("1000.rotated-refresh-token");
    rotate(dir.path(), "refresh_token", "1000.rotated-refresh-token");
    collector.collect_once().await.unwrap();
    assert_eq!(
        fake.calls(Route::Token),
        2,
        "a token request with the new one"
    );
    let text = scrape(&state);
    assert_eq!(value(&text, r#"zoho_crm_up{org="acme"}"#), Some(1.0));
    assert_eq!(credentials_read(&text), Some(1.0));

    // A new client secret keeps the cached access token, and is sent with the next token
    // request (here after Zoho killed the access token).
    fake.set_client_secret("rotated-client-secret");
    rotate(dir.path(), "client_secret", "rotated-client-secret");
    collector.collect_once().await.unwrap();
    assert_eq!(
        fake.calls(Route::Token),
        2,
        "the access token is still good"
    );
    fake.expire_tokens();
    collector.collect_once().await.unwrap();
    assert_eq!(fake.calls(Route::Token), 3);
    assert_eq!(
        value(&scrape(&state), r#"zoho_crm_up{org="acme"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn an_unreadable_secret_file_keeps_the_last_good_value_and_is_reported() {
    let (fake, dir, state, collector) = collecting_with_secret_files("unreadable").await;
    let token_file = dir.path().join("secrets/refresh_token");

    // Gone, then empty (a writer caught half-way): each time the last good refresh token is
    // what the next token request sends, and the gauge says the read failed.
    std::fs::remove_file(&token_file).unwrap();
    for broken in [false, true] {
        if broken {
            std::fs::write(&token_file, "").unwrap();
        }
        fake.expire_tokens();
        let tokens = fake.calls(Route::Token);
        collector.collect_once().await.unwrap();
        assert_eq!(fake.calls(Route::Token), tokens + 1);
        let text = scrape(&state);
        assert_eq!(value(&text, r#"zoho_crm_up{org="acme"}"#), Some(1.0));
        assert_eq!(credentials_read(&text), Some(0.0), "broken: {broken}");
    }

    rotate(dir.path(), "refresh_token", REFRESH_TOKEN);
    collector.collect_once().await.unwrap();
    assert_eq!(credentials_read(&scrape(&state)), Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_exporter_logs_rotations_and_unreadable_files_without_their_content() {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    let dir = temp_dir("rotation-log");
    let dir = dir.path();
    let exporter = Exporter::start(&config_with_secret_files(dir, &fake));
    exporter
        .wait_for("the first collection", |t| {
            value(t, r#"zoho_crm_up{org="acme"}"#) == Some(1.0)
        })
        .await;

    std::fs::remove_file(dir.join("secrets/refresh_token")).unwrap();
    exporter
        .wait_for("the failed read reported", |t| {
            credentials_read(t) == Some(0.0)
        })
        .await;
    let line = exporter
        .wait_for_log(&["level=warn", "cannot read a credential file"])
        .await;
    assert!(
        line.contains("org=acme")
            && line.contains("key=refresh_token_file")
            && line.contains(&dir.join("secrets/refresh_token").display().to_string()),
        "{line}"
    );

    let rotated = "1000.rotated-and-never-logged";
    fake.set_refresh_token(rotated);
    rotate(dir, "refresh_token", rotated);
    let tokens = fake.calls(Route::Token);
    let text = exporter
        .wait_for("the new refresh token in use", |t| {
            credentials_read(t) == Some(1.0) && fake.calls(Route::Token) > tokens
        })
        .await;
    assert_eq!(value(&text, r#"zoho_crm_up{org="acme"}"#), Some(1.0));
    exporter
        .wait_for_log(&["credential file changed", "key=refresh_token_file"])
        .await;
    exporter
        .wait_for_log(&["refresh token changed: the cached access token is dropped"])
        .await;
    let log = exporter.log.lock().unwrap().join("\n");
    for secret in [rotated, REFRESH_TOKEN, CLIENT_SECRET] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
