//! `--demo`: the exporter on an embedded simulated org, no Zoho account needed.
//!
//! The demo starts [`FakeZoho`] on a loopback ephemeral port and points an org named `demo` at
//! it, so everything from the OAuth refresh to paging runs the production code path over real
//! HTTP. The org holds Zoho's two sample cadences plus generated ones across Leads, Contacts,
//! Deals and Vendors (some inactive, one a draft not yet published ([`DRAFT_NAME`]), one with
//! WhatsApp steps, one with an end date, some stale), and one cadence that is switched off within
//! the first minute ([`FLAPPING_FIRST_OFF`]) and then on and off again every [`FLAPPING_PERIOD`],
//! which the demo's expectation `demo-flapping-must-run` requires to be active: the status page
//! lists it at once, and alerts fire and resolve.
//!
//! The demo also runs the enrollment and analytics loops, on short intervals ([`DEMO_ENROLLMENT`],
//! [`DEMO_ANALYTICS`]) because its API calls cost nothing. Enrolled counts swing gently over time;
//! [`IDLE_NAME`] is active with nobody enrolled and [`STALLED_NAME`] has records enrolled but
//! executed no follow-ups in the window, so both `ZohoCadenceIdle` conditions have something to
//! show.

use crate::config::{AnalyticsConfig, ApiVersion, Config, EnrollmentConfig, OrgConfig};
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
/// How long the flapping cadence stays in each state: longer than the alert rules' default
/// `for: 10m` and `keep_firing_for: 10m`, so that with the shipped rules
/// `ZohoCadenceUnexpectedlyInactive` goes pending, fires, and resolves in each cycle.
pub const FLAPPING_PERIOD: Duration = Duration::from_secs(12 * 60);
/// When the flapping cadence is first switched off: after the demo's first collections have
/// seen it active (so the switch is a deactivation), and within the first minute, so that a
/// newcomer watching the status page sees it.
pub const FLAPPING_FIRST_OFF: Duration = Duration::from_secs(40);
/// The demo collects often so that changes show quickly.
pub const DEMO_INTERVAL: Duration = Duration::from_secs(15);
/// Enrollment and analytics are both on in the demo, with short intervals.
pub const DEMO_ENROLLMENT: EnrollmentConfig = EnrollmentConfig {
    enabled: true,
    interval: Duration::from_secs(30),
};
pub const DEMO_ANALYTICS: AnalyticsConfig = AnalyticsConfig {
    enabled: true,
    interval: Duration::from_secs(60),
    window: Duration::from_secs(86_400),
};
/// An active demo cadence nobody is enrolled in.
pub const IDLE_NAME: &str = "Upsell Quarterly";
/// A demo cadence that is a draft (Zoho's status `draft`: not yet published).
pub const DRAFT_NAME: &str = "Partner Referral Program";
/// An active demo cadence with records enrolled whose follow-ups stopped going out.
pub const STALLED_NAME: &str = "Cold Outreach EMEA";
/// How long the enrolled counts take for one swing.
pub const ENROLLMENT_WAVE: Duration = Duration::from_secs(20 * 60);

/// Records enrolled per demo cadence, by name; cadences not listed have none.
const ENROLLED: [(&str, u64); 11] = [
    ("CadenceTest1", 37),
    ("Onboarding Welcome", 412),
    ("Onboarding Day 3 Check-in", 268),
    ("Webinar Follow-up", 1_137),
    ("Trade Show Leads 2025", 54),
    ("Inbound Demo Request", 89),
    (STALLED_NAME, 623),
    ("Renewal Reminder", 145),
    ("Vendor Onboarding", 12),
    (FLAPPING_NAME, 74),
    (IDLE_NAME, 0),
];

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
    cadences.push(fake_zoho::draft(
        named.len() as u64 + 1,
        DRAFT_NAME,
        "Leads",
    ));
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
    let cadences = demo_cadences();
    let fake = FakeZoho::start(cadences.clone()).await?;
    fake.set_flapping(FLAPPING_ID, FLAPPING_PERIOD, FLAPPING_FIRST_OFF);
    fake.set_rate_limit_headers(true);
    seed_activity(&fake, &cadences);
    let config = config_for(&fake);
    Ok((fake, config))
}

/// Gives the demo cadences their enrolled records and executed follow-ups: an active cadence
/// with records enrolled executed, over the window, about one follow-up per eight records and
/// configured step of each channel; [`STALLED_NAME`] executed none.
fn seed_activity(fake: &FakeZoho, cadences: &[Value]) {
    for cadence in cadences {
        let (Some(id), Some(name)) = (cadence["id"].as_str(), cadence["name"].as_str()) else {
            continue;
        };
        let enrolled = ENROLLED
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, count)| *count);
        fake.set_enrolled(id, enrolled);
        let Some(summary) = cadence["summary"].as_object() else {
            continue;
        };
        for (key, steps) in summary {
            let Some(channel) = key.strip_suffix("_follow_up_count") else {
                continue;
            };
            let steps = steps.as_u64().unwrap_or(0);
            let executed = if name == STALLED_NAME {
                0
            } else {
                enrolled * steps / 8
            };
            fake.set_executed(id, channel, executed);
        }
    }
    fake.set_enrollment_wave(ENROLLMENT_WAVE);
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
            credential_files: Default::default(),
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
        enrollment: DEMO_ENROLLMENT,
        analytics: DEMO_ANALYTICS,
    }
}
