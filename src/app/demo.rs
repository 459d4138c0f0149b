//! `--demo`: the exporter on an embedded simulated org, no Zoho account needed.
//!
//! The simulated Zoho is the `fake-zoho` crate, linked only with the `demo` cargo feature (on by
//! default): a release built with `--no-default-features` carries no fake Zoho, no fake
//! credentials and no fault injection, and its `--demo` says that it was built without the demo.
//!
//! The demo starts the fake on a loopback ephemeral port, seeded with the demo org
//! (`fake_zoho::demo`), and points an org named `demo` at it, so everything from the OAuth
//! refresh to paging runs the production code path over real HTTP. Its expectation
//! `demo-flapping-must-run` requires the cadence the fake switches off and on every few minutes
//! to be active, so alerts fire and resolve. Enrollment and analytics run on short intervals,
//! since the demo's API calls cost nothing.

use crate::config::Config;

/// What `--demo` says in a build without the demo.
pub(crate) const NOT_BUILT: &str = "--demo: this exporter was built without the demo (the cargo feature `demo`, on by default); build it with default features to run the demo, or give --config.file";

/// The demo's simulated Zoho, kept running while the exporter runs.
#[cfg(feature = "demo")]
pub type DemoZoho = fake_zoho::FakeZoho;
/// No simulated Zoho in this build: a type with no values.
#[cfg(not(feature = "demo"))]
pub enum DemoZoho {}

/// Why `--demo` cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulated Zoho did not start (no loopback port to bind).
    #[error("cannot start the demo's simulated Zoho: {0}")]
    Start(std::io::Error),
    /// This build left the demo out.
    #[error("{NOT_BUILT}")]
    NotBuilt,
}

impl DemoError {
    /// Says why, as a log line.
    pub(crate) fn log(&self) {
        match self {
            DemoError::Start(err) => {
                tracing::error!(error = %err, "cannot start the demo's simulated Zoho")
            }
            DemoError::NotBuilt => tracing::error!("{NOT_BUILT}"),
        }
    }
}

/// Starts the simulated org and returns it with the config that points at it; in a build
/// without the demo, [`DemoError::NotBuilt`].
pub async fn start() -> Result<(DemoZoho, Config), DemoError> {
    #[cfg(feature = "demo")]
    {
        let fake = fake_zoho::demo::start().await.map_err(DemoError::Start)?;
        // Where it is, for trying several orgs: a config whose orgs point their accounts_url
        // and api_domain here, with the fake's credentials, collects from it too.
        tracing::info!(url = %fake.url(), "the demo's simulated Zoho is listening");
        let config = with_demo::config_for(&fake);
        Ok((fake, config))
    }
    #[cfg(not(feature = "demo"))]
    {
        Err(DemoError::NotBuilt)
    }
}

#[cfg(feature = "demo")]
mod with_demo {
    use crate::config::{AnalyticsConfig, ApiVersion, Config, EnrollmentConfig, OrgConfig};
    use crate::domain::datacenter::DataCenter;
    use crate::domain::expectations::{Expectation, ExpectationSelector};
    use crate::support::secret::Secret;
    use fake_zoho::FakeZoho;
    use std::time::Duration;

    pub(super) const DEMO_ORG: &str = "demo";
    pub(super) const FLAPPING_EXPECTATION: &str = "demo-flapping-must-run";
    /// The demo collects often so that changes show quickly.
    const DEMO_INTERVAL: Duration = Duration::from_secs(15);
    /// Enrollment and analytics are both on in the demo, with short intervals.
    const DEMO_ENROLLMENT: EnrollmentConfig = EnrollmentConfig {
        enabled: true,
        interval: Duration::from_secs(30),
    };
    const DEMO_ANALYTICS: AnalyticsConfig = AnalyticsConfig {
        enabled: true,
        interval: Duration::from_secs(60),
        window: Duration::from_secs(86_400),
    };

    fn glob(
        name: &str,
        org: Option<&str>,
        module: Option<&str>,
        glob: &str,
        active: bool,
    ) -> Expectation {
        Expectation {
            name: name.to_owned(),
            org: org.map(str::to_owned),
            module: module.map(str::to_owned),
            selector: ExpectationSelector::name_glob(glob).expect("valid glob"),
            active,
        }
    }

    pub(super) fn config_for(fake: &FakeZoho) -> Config {
        Config {
            interval: DEMO_INTERVAL,
            timeout: Duration::from_secs(10),
            per_cadence_metrics: true,
            max_response_bytes: crate::config::DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_collections: crate::config::DEFAULT_MAX_CONCURRENT_COLLECTIONS,
            orgs: vec![OrgConfig {
                name: DEMO_ORG.to_owned(),
                data_center: DataCenter::Us,
                client_id: fake_zoho::CLIENT_ID.to_owned(),
                client_secret: Secret::new(fake_zoho::CLIENT_SECRET),
                refresh_token: Secret::new(fake_zoho::REFRESH_TOKEN),
                api_version: ApiVersion::V8,
                accounts_url: fake.url(),
                api_domain: Some(fake.url()),
                credential_files: Default::default(),
            }],
            expectations: vec![
                glob(FLAPPING_EXPECTATION, None, None, "Demo Flapping*", true),
                glob(
                    "onboarding-must-run",
                    Some(DEMO_ORG),
                    Some("Contacts"),
                    "Onboarding*",
                    true,
                ),
                glob(
                    "trade-show-stays-off",
                    None,
                    Some("Leads"),
                    "Trade Show*",
                    false,
                ),
            ],
            enrollment: DEMO_ENROLLMENT,
            analytics: DEMO_ANALYTICS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_starts_or_says_it_was_left_out() {
        let result = start().await;
        if cfg!(feature = "demo") {
            let config = result.map(|(_zoho, config)| config).unwrap();
            assert_eq!(config.orgs.len(), 1);
            assert_eq!(config.orgs[0].name, "demo");
            let flapping = &config.expectations[0];
            assert_eq!(flapping.name, "demo-flapping-must-run");
            assert!(flapping.active);
        } else {
            let err = result.err().unwrap();
            assert!(matches!(err, DemoError::NotBuilt), "{err}");
            assert_eq!(err.to_string(), NOT_BUILT);
            assert!(NOT_BUILT.contains("built without the demo"));
        }
    }
}
