//! Support shared by the integration tests: a fake Zoho, orgs wired against it, and a small
//! exposition parser. Each test builds its own state; nothing is global.
#![allow(dead_code)] // each test binary uses a different part

use fake_zoho::FakeZoho;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use zoho_cadences_exporter::{Config, Format, Org, SharedState, ZohoLimits};

/// Limits with the production counts but waits short enough for real-time tests.
pub fn fast_limits() -> ZohoLimits {
    ZohoLimits {
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        token_backoff_base: Duration::from_millis(300),
        token_backoff_cap: Duration::from_secs(2),
        ..ZohoLimits::default()
    }
}

/// A config with one org per fake, named org0, org1, …, plus `extra` top-level YAML.
pub fn config_for(fakes: &[&FakeZoho], extra: &str) -> Config {
    let mut yaml = format!("{extra}\norgs:\n");
    for (i, fake) in fakes.iter().enumerate() {
        yaml.push_str(&fake.org_yaml(&format!("org{i}")));
    }
    Config::parse(&yaml).unwrap_or_else(|e| panic!("test config: {e}\n{yaml}"))
}

/// Each org of `config` wired as the exporter wires it, sharing one state, with [`fast_limits`].
pub fn collectors(config: &Config) -> (SharedState, Vec<Org>) {
    let state = SharedState::new(config);
    let orgs = Org::wire_all(config, &state, fast_limits());
    (state, orgs)
}

/// One fake, one org wired against it.
pub async fn single(cadences: Vec<serde_json::Value>, extra: &str) -> (FakeZoho, SharedState, Org) {
    let fake = FakeZoho::start(cadences).await.expect("fake Zoho starts");
    let config = config_for(&[&fake], extra);
    let (state, mut collectors) = collectors(&config);
    (fake, state, collectors.remove(0))
}

/// One of Zoho's example answers from its OpenAPI specification, as saved in
/// `tests/fixtures/zoho/spec/` (e.g. `getCadences/response-200-successfullist.json`).
pub fn spec(path: &str) -> serde_json::Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zoho/spec")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The whole text-format exposition, as a scrape would see it.
pub fn scrape(state: &SharedState) -> String {
    String::from_utf8(state.scrape_body(Format::Text, false)).expect("UTF-8")
}

/// Samples of a text exposition: `name{labels}` to value.
pub fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            (
                series.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            )
        })
        .collect()
}

/// The value of one series, e.g. `zoho_crm_up{org="org0"}`.
pub fn value(exposition: &str, series: &str) -> Option<f64> {
    samples(exposition).get(series).copied()
}

/// Sum of every sample of `name` whose labels contain all of `labels` (`key="value"` pairs).
pub fn sum(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    samples(exposition)
        .iter()
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series.as_str(), ""));
            metric == name && labels.iter().all(|l| rest.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Series of `name` present in the exposition.
pub fn count_series(exposition: &str, name: &str) -> usize {
    samples(exposition)
        .keys()
        .filter(|series| series.split_once('{').map_or(series.as_str(), |(m, _)| m) == name)
        .count()
}

/// Runs promtool's own exposition linter on text-format output.
pub fn promtool_check_metrics(exposition: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An HTTP client for talking to a running exporter.
pub fn test_http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The built binary, for tests that run it as a process.
pub const BINARY: &str = env!("CARGO_BIN_EXE_zoho-cadences-exporter");

/// A fresh directory for one test, named after it, removed when the test ends.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("zce-{name}-"))
        .tempdir()
        .unwrap()
}

/// Runs the binary to completion with the Zoho credentials cleared from the environment and
/// `env` set; returns the exit code, stdout, and the log (stderr) with logfmt's `\"` read back
/// as `"`, so tests can look for messages that quote values.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = std::process::Command::new(BINARY);
    command
        .args(args)
        .env_remove("ZOHO_CLIENT_ID")
        .env_remove("ZOHO_CLIENT_SECRET")
        .env_remove("ZOHO_REFRESH_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).replace("\\\"", "\""),
    )
}

/// The exporter as a child process at `--log.level debug`, listening on 127.0.0.1:0, with its
/// address read from its log and every log line kept.
pub struct Exporter {
    child: std::process::Child,
    pub base: String,
    pub http: reqwest::Client,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    pub fn start(config: &std::path::Path) -> Exporter {
        let mut command = std::process::Command::new(BINARY);
        command.args([
            "--config.file",
            config.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
            "--log.level",
            "debug",
        ]);
        Exporter::spawn(command)
    }

    /// Runs `command` (the binary with its flags, logging in logfmt) and waits for the first
    /// address it listens on.
    pub fn spawn(mut command: std::process::Command) -> Exporter {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let address = loop {
            let line = lines
                .next()
                .expect("the exporter logs its address")
                .unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split(" address=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep reading the log so the child never blocks on a full pipe.
        let sink = log.clone();
        let log_reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Exporter {
            child,
            base: format!("http://{address}"),
            http: test_http_client(),
            log,
            log_reader: Some(log_reader),
        }
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Polls until `condition` holds on the metrics text, for at most 10 s.
    pub async fn wait_for(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            let text = self.metrics().await;
            if condition(&text) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the log until a line contains every one of `parts`, for at most 10 s.
    pub async fn wait_for_log(&self, parts: &[&str]) -> String {
        let started = std::time::Instant::now();
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return line.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no log line with {parts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, for at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(started.elapsed() < limit, "did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After the process exited: its whole log and what it wrote to stdout.
    pub fn output(&mut self) -> (String, String) {
        use std::io::Read;
        if let Some(reader) = self.log_reader.take() {
            reader.join().unwrap();
        }
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut stdout).unwrap();
        }
        (self.log.lock().unwrap().join("\n"), stdout)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `.rs` file under `dir`, in path order.
pub fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
