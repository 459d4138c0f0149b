//! `--demo`: the exporter on an embedded simulated org, no Zoho account needed.
//!
//! The demo starts [`FakeZoho`] on a loopback ephemeral port and points an org named `demo` at
//! it, so everything from the OAuth refresh to paging runs the production code path over real
//! HTTP. The org holds Zoho's two sample cadences plus generated ones across Leads, Contacts,
//! Deals and Vendors (some inactive, one with WhatsApp steps, one with an end date, some stale),
//! and one cadence that is switched off and on again every few minutes, which the demo's
//! expectation `demo-flapping-must-run` requires to be active, so alerts fire and resolve.

use crate::config::{ApiVersion, Config, OrgConfig};
use crate::expectations::{Expectation, ExpectationSelector};
use crate::fake_zoho::{self, FakeZoho};
use crate::secret::Secret;
use crate::zoho::datacenter::DataCenter;
use serde_json::{json, Value};
use std::time::Duration;

pub const DEMO_ORG: &str = "demo";
pub const FLAPPING_NAME: &str = "Demo Flapping Follow-up";
pub const FLAPPING_ID: &str = "3652397000099990001";
pub const FLAPPING_EXPECTATION: &str = "demo-flapping-must-run";
/// How long the flapping cadence stays in each state.
pub const FLAPPING_PERIOD: Duration = Duration::from_secs(180);
/// The demo collects often so that changes show quickly.
pub const DEMO_INTERVAL: Duration = Duration::from_secs(15);

/// The demo org's cadences.
pub fn demo_cadences() -> Vec<Value> {
    let mut cadences = fake_zoho::sample_cadences();
    let named = [
        ("Onboarding Welcome", "Contacts", true),
        ("Onboarding Day 3 Check-in", "Contacts", true),
        ("Webinar Follow-up", "Leads", true),
        ("Trade Show Leads 2025", "Leads", false),
        ("Inbound Demo Request", "Leads", true),
        ("Cold Outreach EMEA", "Leads", true),
        ("Renewal Reminder", "Deals", true),
        ("Stalled Deal Nudge", "Deals", false),
        ("Upsell Quarterly", "Deals", true),
        ("Vendor Onboarding", "Vendors", true),
        ("Vendor Contract Renewal", "Vendors", false),
    ];
    for (n, (name, module, active)) in named.into_iter().enumerate() {
        cadences.push(fake_zoho::cadence(n as u64 + 1, name, module, active));
    }
    // WhatsApp steps, as newer editions add.
    if let Some(c) = cadences
        .iter_mut()
        .find(|c| c["name"] == "Inbound Demo Request")
    {
        c["summary"]["whatsapp_follow_up_count"] = json!(2);
    }
    // An end date, and a cadence nobody touched for a long time.
    if let Some(c) = cadences
        .iter_mut()
        .find(|c| c["name"] == "Trade Show Leads 2025")
    {
        c["execution_details"]["end_date"] = json!("2025-11-30");
        c["modified_time"] = json!("2025-01-15T09:12:44-0700");
    }
    let mut flapping = fake_zoho::cadence(99, FLAPPING_NAME, "Leads", true);
    flapping["id"] = json!(FLAPPING_ID);
    cadences.push(flapping);
    cadences
}

/// Starts the simulated org and returns it with the config that points at it.
pub async fn start() -> std::io::Result<(FakeZoho, Config)> {
    let fake = FakeZoho::start(demo_cadences()).await?;
    fake.set_flapping(FLAPPING_ID, FLAPPING_PERIOD);
    fake.set_rate_limit_headers(true);
    let config = config_for(&fake);
    Ok((fake, config))
}

fn config_for(fake: &FakeZoho) -> Config {
    Config {
        interval: DEMO_INTERVAL,
        timeout: Duration::from_secs(10),
        per_cadence_metrics: true,
        max_response_bytes: crate::config::DEFAULT_MAX_RESPONSE_BYTES,
        orgs: vec![OrgConfig {
            name: DEMO_ORG.to_owned(),
            data_center: DataCenter::Us,
            client_id: fake_zoho::CLIENT_ID.to_owned(),
            client_secret: Secret::new(fake_zoho::CLIENT_SECRET),
            refresh_token: Secret::new(fake_zoho::REFRESH_TOKEN),
            api_version: ApiVersion::V8,
            accounts_url: fake.url(),
            api_domain: Some(fake.url()),
        }],
        expectations: vec![
            Expectation {
                name: FLAPPING_EXPECTATION.to_owned(),
                org: None,
                module: None,
                selector: ExpectationSelector::name_glob("Demo Flapping*").expect("valid glob"),
                active: true,
            },
            Expectation {
                name: "onboarding-must-run".to_owned(),
                org: Some(DEMO_ORG.to_owned()),
                module: Some("Contacts".to_owned()),
                selector: ExpectationSelector::name_glob("Onboarding*").expect("valid glob"),
                active: true,
            },
            Expectation {
                name: "trade-show-stays-off".to_owned(),
                org: None,
                module: Some("Leads".to_owned()),
                selector: ExpectationSelector::name_glob("Trade Show*").expect("valid glob"),
                active: false,
            },
        ],
        enrollment: Default::default(),
        analytics: Default::default(),
    }
}
