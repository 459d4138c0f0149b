//! The demo org's data: Zoho's two sample cadences plus generated ones across Leads, Contacts,
//! Deals and Vendors (some inactive, one a draft not yet published ([`DRAFT_NAME`]), one with
//! WhatsApp steps, one with an end date, some stale), and one cadence ([`FLAPPING_NAME`]) that is
//! switched off within the first minute ([`FLAPPING_FIRST_OFF`]) and then on and off again every
//! [`FLAPPING_PERIOD`], which the exporter's demo expectation requires to be active: the status
//! page lists it at once, and alerts fire and resolve.
//!
//! Enrolled counts swing gently over time; [`IDLE_NAME`] is active with nobody enrolled and
//! [`STALLED_NAME`] has records enrolled but executed no follow-ups in the window, so both
//! `ZohoCadenceIdle` conditions have something to show. The exporter's side of the demo (the
//! org, its intervals and expectations) is the exporter's `app::demo`.

use crate::FakeZoho;
use serde_json::{json, Value};
use std::time::Duration;

pub const FLAPPING_NAME: &str = "Demo Flapping Follow-up";
pub const FLAPPING_ID: &str = "3652397000099990001";
/// How long the flapping cadence stays in each state: longer than the alert rules' default
/// `for: 10m` and `keep_firing_for: 10m`, so that with the shipped rules
/// `ZohoCadenceUnexpectedlyInactive` goes pending, fires, and resolves in each cycle.
pub const FLAPPING_PERIOD: Duration = Duration::from_secs(12 * 60);
/// When the flapping cadence is first switched off: after the demo's first collections have
/// seen it active (so the switch is a deactivation), and within the first minute, so that a
/// newcomer watching the status page sees it.
pub const FLAPPING_FIRST_OFF: Duration = Duration::from_secs(40);
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
    let mut cadences = crate::sample_cadences();
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
        cadences.push(crate::cadence(n as u64 + 1, name, module, active));
    }
    cadences.push(crate::draft(named.len() as u64 + 1, DRAFT_NAME, "Leads"));
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
    let mut flapping = crate::cadence(99, FLAPPING_NAME, "Leads", true);
    flapping["id"] = json!(FLAPPING_ID);
    cadences.push(flapping);
    cadences
}

/// Starts the simulated demo org on a loopback ephemeral port: its cadences, the flapping one,
/// rate-limit headers, enrolled records and executed follow-ups.
pub async fn start() -> std::io::Result<FakeZoho> {
    let cadences = demo_cadences();
    let fake = FakeZoho::start(cadences.clone()).await?;
    fake.set_flapping(FLAPPING_ID, FLAPPING_PERIOD, FLAPPING_FIRST_OFF);
    fake.set_rate_limit_headers(true);
    seed_activity(&fake, &cadences);
    Ok(fake)
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
