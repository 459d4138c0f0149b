//! Unit tests of the config: defaults, and errors that name the field and the value.

use super::raw::{parse_byte_size, relative_to};
use super::*;

fn err(text: &str) -> String {
    Config::parse(text).unwrap_err().to_string()
}

const ORG: &str = "orgs:\n  - name: acme\n    client_id: id\n    client_secret: s3cr3t\n    refresh_token: r3fr3sh\n";

#[test]
fn defaults() {
    let config = Config::parse(ORG).unwrap();
    assert_eq!(config.interval, DEFAULT_INTERVAL);
    assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    assert!(config.per_cadence_metrics);
    let org = &config.orgs[0];
    assert_eq!(org.data_center, DataCenter::Us);
    assert_eq!(org.api_version, ApiVersion::V8);
    assert_eq!(org.accounts_url, "https://accounts.zoho.com");
    assert_eq!(org.api_domain, None);
    assert!(config.enrollment.enabled);
    assert!(!config.analytics.enabled);
}

#[test]
fn unknown_keys_are_named() {
    assert!(err(&format!("intervall: 5m\n{ORG}")).contains("unknown field `intervall`"));
    let e = err(&format!("{ORG}    colour: blue\n"));
    assert!(
        e.contains("unknown field `colour`") && e.contains("orgs[0]"),
        "{e}"
    );
}

#[test]
fn bad_values_name_field_and_value() {
    let e = err(&format!("interval: 5 minutes please\n{ORG}"));
    assert!(
        e.starts_with("interval: invalid duration \"5 minutes please\""),
        "{e}"
    );
    let e = err(&format!("interval: 500ms\n{ORG}"));
    assert!(e.starts_with("interval: 500ms is below"), "{e}");
    let e = err(&format!("{ORG}    data_center: mars\n"));
    assert!(
        e.starts_with("orgs[0].data_center: unknown data center \"mars\""),
        "{e}"
    );
    let e = err(&format!("{ORG}    api_version: v6\n"));
    assert!(
        e.starts_with("orgs[0].api_version: unsupported API version \"v6\""),
        "{e}"
    );
    let e = err(&format!("{ORG}    accounts_url: ftp://x\n"));
    assert!(
        e.starts_with("orgs[0].accounts_url: invalid URL \"ftp://x\""),
        "{e}"
    );
    let e = err(&format!(
        "{ORG}  - name: acme\n    client_id: a\n    client_secret: b\n    refresh_token: c\n"
    ));
    assert!(e.starts_with("orgs[1].name: \"acme\" is used"), "{e}");
    let e = err("orgs: []\n");
    assert!(e.starts_with("orgs: at least one org"), "{e}");
}

#[test]
fn secrets_never_in_errors() {
    let e = err("orgs:\n  - name: a\n    client_id: id\n    client_secret: s3cr3t\n    client_secret_file: /x\n    refresh_token: r3fr3sh\n");
    assert!(e.contains("not both") && !e.contains("s3cr3t"), "{e}");
    let config = Config::parse(ORG).unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("r3fr3sh"),
        "{debug}"
    );
}

#[test]
fn secrets_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "from-file\n").unwrap();
    let text = format!(
        "orgs:\n  - name: a\n    client_id: id\n    client_secret_file: {}\n    refresh_token: t\n",
        dir.path().join("secret").display()
    );
    let config = Config::parse(&text).unwrap();
    assert_eq!(config.orgs[0].client_secret.expose(), "from-file");
    let missing = text.replace("secret\n", "missing\n");
    let e = err(&missing);
    assert!(
        e.starts_with("orgs[0].client_secret_file: cannot read"),
        "{e}"
    );
}

#[test]
fn relative_secret_files_are_taken_from_the_config_files_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/secret"), "beside-the-config\n").unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        "orgs:\n  - name: a\n    client_id: id\n    client_secret_file: secrets/secret\n    refresh_token: t\n",
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.orgs[0].client_secret.expose(), "beside-the-config");
    assert_eq!(relative_to(dir, "/abs/x"), PathBuf::from("/abs/x"));
    assert_eq!(relative_to(Path::new(""), "x"), PathBuf::from("x"));
}

#[test]
fn environment_org() {
    let env = |key: &str| match key {
        "ZOHO_CLIENT_ID" => Some("1000.X".to_owned()),
        "ZOHO_CLIENT_SECRET" => Some("s".to_owned()),
        "ZOHO_REFRESH_TOKEN" => Some("r".to_owned()),
        "ZOHO_DATA_CENTER" => Some("eu".to_owned()),
        _ => None,
    };
    let config = Config::from_env(env).unwrap();
    assert_eq!(config.orgs[0].name, "default");
    assert_eq!(config.orgs[0].accounts_url, "https://accounts.zoho.eu");
    let e = Config::from_env(|_| None).unwrap_err().to_string();
    assert!(e.starts_with("ZOHO_CLIENT_ID: is not set"), "{e}");
}

#[test]
fn byte_sizes() {
    assert_eq!(parse_byte_size("16MiB"), Some(16 << 20));
    assert_eq!(parse_byte_size("2048"), Some(2048));
    assert_eq!(parse_byte_size("1 GiB"), Some(1 << 30));
    assert_eq!(parse_byte_size("lots"), None);
    let config = Config::parse(&format!("max_response_bytes: 1MiB\n{ORG}")).unwrap();
    assert_eq!(config.max_response_bytes, 1 << 20);
}

#[test]
fn duration_errors_give_the_reason_and_the_forms_that_work() {
    // What humantime-serde could not say (see `raw`): humantime's reason and an example.
    let e = err(&format!("timeout: 5 fortnights\n{ORG}"));
    assert!(
        e.starts_with("timeout: invalid duration \"5 fortnights\" (")
            && e.contains("unknown time unit")
            && e.ends_with("; use e.g. 30s, 5m, 1h"),
        "{e}"
    );
    let e = err(&format!("analytics: {{window: 0s}}\n{ORG}"));
    assert!(
        e.starts_with("analytics.window: 0s is below the minimum of 1s"),
        "{e}"
    );
}

#[test]
fn side_passes_run_where_the_config_and_the_api_version_allow() {
    let config = Config::parse(
        "orgs:\n  - {name: a, client_id: i, client_secret: s, refresh_token: r}\n  - {name: b, client_id: i, client_secret: s, refresh_token: r, api_version: v7}\n",
    )
    .unwrap();
    let (v8, v7) = (&config.orgs[0], &config.orgs[1]);
    assert!(v8.api_version.has_cadence_activity());
    assert!(!v7.api_version.has_cadence_activity());
    assert!(
        config.enrollment_for(v8).is_some(),
        "enrollment is on by default"
    );
    assert!(
        config.enrollment_for(v7).is_none(),
        "v7 has no records_count"
    );
    assert!(
        config.analytics_for(v8).is_none(),
        "analytics is off by default"
    );

    let on = Config::parse(&format!("analytics: {{enabled: true}}\n{ORG}")).unwrap();
    assert!(on.analytics_for(&on.orgs[0]).is_some());
    let per_cadence_off = Config::parse(&format!(
        "per_cadence_metrics: false\nanalytics: {{enabled: true}}\n{ORG}"
    ))
    .unwrap();
    assert!(
        per_cadence_off
            .analytics_for(&per_cadence_off.orgs[0])
            .is_none(),
        "its only metric is per cadence"
    );
}

#[test]
fn deadlines_are_the_interval_but_at_least_two_timeouts() {
    let config = Config::parse(&format!(
        "interval: 10s\ntimeout: 30s\nenrollment: {{interval: 15m}}\n{ORG}"
    ))
    .unwrap();
    assert_eq!(config.deadline(config.interval), Duration::from_secs(60));
    assert_eq!(
        config.deadline(config.enrollment.interval),
        Duration::from_secs(900)
    );
}

/// The README's configuration example parses as documented (moved here from the docs tests:
/// what it checks are the config's own fields).
#[test]
fn the_readme_configuration_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut text = yaml.to_owned();
    for file in [
        "/run/secrets/acme/client_secret",
        "/run/secrets/acme/refresh_token",
    ] {
        let local = dir.path().join(file.rsplit('/').next().unwrap());
        std::fs::write(&local, "value\n").unwrap();
        text = text.replace(file, local.to_str().unwrap());
    }
    let config = Config::parse(&text).unwrap_or_else(|e| panic!("README example: {e}"));
    assert_eq!(config.orgs[0].name, "acme");
    assert_eq!(config.expectations[0].name, "onboarding-must-run");
    assert_eq!(config.max_response_bytes, 16 << 20);
    assert!(config.enrollment.enabled && !config.analytics.enabled);
}

#[test]
fn max_concurrent_collections_is_at_least_one() {
    let config = Config::parse(ORG).unwrap();
    assert_eq!(config.max_concurrent_collections, 8);
    let config = Config::parse(&format!("max_concurrent_collections: 2\n{ORG}")).unwrap();
    assert_eq!(config.max_concurrent_collections, 2);
    for bad in ["0", "-3"] {
        let err = Config::parse(&format!("max_concurrent_collections: {bad}\n{ORG}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("max_concurrent_collections: {bad} is below the minimum of 1")
        );
    }
}
