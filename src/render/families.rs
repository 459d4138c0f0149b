//! The cadence families: what the cadence part of the exposition says about an org's current
//! snapshot, its expectations' verdict and its last complete side passes. One function per
//! family, listed in the order they appear ([`families`]); each org's part is encoded family by
//! family (`render::parts`), and a scrape joins every org's rows of a family under one header.
//!
//! The enrolled records and executed follow-ups come from their own passes, joined here with
//! each org's current snapshot: a cadence gone from the snapshot has no series, whatever an older
//! pass said about it.

use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::cadence::{Cadence, Status};
use crate::domain::expectations::CheckedSnapshot;
use crate::domain::snapshot::ModuleTotals;
use crate::metrics::labels::label_set;
use crate::metrics::rows::encode_rows;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use std::collections::BTreeMap;
use std::fmt::Result;
use std::sync::Arc;

/// One org's share of the cadence part.
#[derive(Debug, Clone)]
pub(crate) struct OrgView {
    pub(crate) name: Arc<str>,
    pub(crate) checked: Arc<CheckedSnapshot>,
    pub(crate) enrollment: Option<Arc<Enrollment>>,
    pub(crate) follow_ups_executed: Option<Arc<FollowUpsExecuted>>,
}

impl OrgView {
    fn cadences(&self) -> &[Cadence] {
        self.checked.snapshot.cadences()
    }
}

label_set! {
    struct ModuleStatusLabels<'a> { org: &'a str, module: &'a str, status: &'a Status }
}
label_set! {
    struct ModuleChannelLabels<'a> { org: &'a str, module: &'a str, channel: &'a str }
}
label_set! {
    struct ModuleLabels<'a> { org: &'a str, module: &'a str }
}
label_set! {
    struct ExpectationLabels<'a> { org: &'a str, expectation: &'a str }
}
label_set! {
    /// The labels of every per-cadence family.
    struct CadenceLabels<'a> { org: &'a str, id: &'a str, name: &'a str, module: &'a str }
}
label_set! {
    struct CadenceChannelLabels<'a> {
        org: &'a str, id: &'a str, name: &'a str, module: &'a str, channel: &'a str,
    }
}
label_set! {
    struct CadenceInfoLabels<'a> {
        org: &'a str,
        id: &'a str,
        name: &'a str,
        module: &'a str,
        status: &'a Status,
        enrollment: &'a str,
        custom_view: &'a str,
        created_by: &'a str,
        modified_by: &'a str,
    }
}

/// The `status` label: the lifecycle as Zoho names it.
impl EncodeLabelValue for &Status {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result {
        use std::fmt::Write as _;
        encoder.write_str(self.as_str())
    }
}

impl<'a> CadenceLabels<'a> {
    fn of(org: &'a str, c: &'a Cadence) -> Self {
        CadenceLabels {
            org,
            id: &c.id,
            name: &c.name,
            module: &c.module,
        }
    }

    fn with_channel(self, channel: &'a str) -> CadenceChannelLabels<'a> {
        let CadenceLabels {
            org,
            id,
            name,
            module,
        } = self;
        CadenceChannelLabels {
            org,
            id,
            name,
            module,
            channel,
        }
    }
}

const FROM_LAST_COLLECTION: &str = "(from the org's last complete collection)";
const FROM_LAST_ENROLLMENT: &str =
    "(from the org's last complete enrollment pass, for the cadences of its last complete collection)";
const FROM_LAST_ANALYTICS: &str =
    "(from the org's last complete analytics pass, for the cadences of its last complete collection)";

/// One cadence family, written for the orgs given (one org when an org's part is encoded).
pub(crate) type CadenceFamily = fn(&mut DescriptorEncoder, &[OrgView]) -> Result;

/// The cadence families in the order they appear. The first [`ALWAYS`] are exported even when
/// per-cadence metrics are off: the module totals, the expectations (about cadences users
/// named, which the alerts need) and the enrolled records per module.
const FAMILIES: [CadenceFamily; 15] = [
    cadences_per_module,
    follow_ups_per_module,
    expectation_matches,
    expected_active,
    enrolled_per_module,
    cadence_info,
    |e, orgs| cadence_flag(e, orgs, FLAGS[0]),
    |e, orgs| cadence_flag(e, orgs, FLAGS[1]),
    cadence_follow_ups,
    |e, orgs| cadence_time(e, orgs, TIMES[0]),
    |e, orgs| cadence_time(e, orgs, TIMES[1]),
    |e, orgs| cadence_time(e, orgs, TIMES[2]),
    |e, orgs| cadence_time(e, orgs, TIMES[3]),
    cadence_enrolled_records,
    cadence_follow_ups_executed,
];

/// How many of [`FAMILIES`] are exported whatever `per_cadence_metrics` says.
const ALWAYS: usize = 5;

/// The families exported, in order.
pub(crate) fn families(per_cadence_metrics: bool) -> &'static [CadenceFamily] {
    if per_cadence_metrics {
        &FAMILIES
    } else {
        &FAMILIES[..ALWAYS]
    }
}

/// Every cadence of every org, with its org's name.
fn every_cadence(orgs: &[OrgView]) -> impl Iterator<Item = (&OrgView, &Cadence)> {
    orgs.iter()
        .flat_map(|org| org.cadences().iter().map(move |c| (org, c)))
}

/// Every module of every org, with its totals.
fn every_module(orgs: &[OrgView]) -> impl Iterator<Item = (&str, &str, &ModuleTotals)> {
    orgs.iter().flat_map(|org| {
        let modules = org.checked.snapshot.modules().iter();
        modules.map(|(module, totals)| (&*org.name, &**module, totals))
    })
}

fn cadences_per_module(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = every_module(orgs).flat_map(|(org, module, totals)| {
        totals.statuses.iter().map(move |(status, n)| {
            let labels = ModuleStatusLabels {
                org,
                module,
                status,
            };
            (labels, ConstGauge::new(*n as i64))
        })
    });
    let help = format!("Cadences per module and status {FROM_LAST_COLLECTION}.");
    encode_rows(encoder, "zoho_crm_cadences", &help, None, rows)
}

fn follow_ups_per_module(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = every_module(orgs).flat_map(|(org, module, totals)| {
        totals.follow_ups.iter().map(move |(channel, n)| {
            let labels = ModuleChannelLabels {
                org,
                module,
                channel,
            };
            (labels, ConstGauge::new(*n as i64))
        })
    });
    let help = format!(
        "Follow-ups configured across the module's cadences, by channel {FROM_LAST_COLLECTION}."
    );
    encode_rows(encoder, "zoho_crm_follow_ups", &help, None, rows)
}

fn expectation_matches(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = orgs.iter().flat_map(|org| {
        org.checked.evaluation.matches.iter().map(|(name, n)| {
            let labels = ExpectationLabels {
                org: &org.name,
                expectation: name,
            };
            (labels, ConstGauge::new(*n as i64))
        })
    });
    let help = format!("Cadences the expectation matched {FROM_LAST_COLLECTION}; 0 means the cadence is gone or renamed.");
    encode_rows(encoder, "zoho_crm_expectation_matches", &help, None, rows)
}

fn expected_active(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = orgs.iter().flat_map(|org| {
        let expected = &org.checked.evaluation.expected_active;
        org.cadences()
            .iter()
            .zip(expected)
            .filter_map(|(cadence, expected)| {
                expected.map(|e| {
                    (
                        CadenceLabels::of(&org.name, cadence),
                        ConstGauge::new(i64::from(e)),
                    )
                })
            })
    });
    let help = format!("The state an expectation requires of the cadence: 1 active, 0 inactive {FROM_LAST_COLLECTION}.");
    encode_rows(
        encoder,
        "zoho_crm_cadence_expected_active",
        &help,
        None,
        rows,
    )
}

fn enrolled_per_module(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let per_org: Vec<(&str, BTreeMap<&str, u64>)> = orgs
        .iter()
        .filter_map(|org| {
            let mut modules: BTreeMap<&str, u64> = BTreeMap::new();
            for (cadence, n) in org.enrollment.as_ref()?.counted(org.cadences()) {
                *modules.entry(&cadence.module).or_default() += n;
            }
            Some((&*org.name, modules))
        })
        .collect();
    let rows = per_org.iter().flat_map(|(org, modules)| {
        modules
            .iter()
            .map(|(module, n)| (ModuleLabels { org, module }, ConstGauge::new(*n as i64)))
    });
    let help = format!("Records enrolled in the module's cadences {FROM_LAST_ENROLLMENT}.");
    encode_rows(encoder, "zoho_crm_enrolled_records", &help, None, rows)
}

fn cadence_info(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = every_cadence(orgs).map(|(org, c)| {
        let labels = CadenceInfoLabels {
            org: &org.name,
            id: &c.id,
            name: &c.name,
            module: &c.module,
            status: &c.status,
            enrollment: &c.enrollment,
            custom_view: &c.custom_view,
            created_by: &c.created_by,
            modified_by: &c.modified_by,
        };
        (labels, ConstGauge::new(1))
    });
    let help = format!("Descriptive labels of each cadence; value 1 {FROM_LAST_COLLECTION}.");
    encode_rows(encoder, "zoho_crm_cadence_info", &help, None, rows)
}

/// One family with one gauge per cadence that has a `value`, labelled with the cadence.
fn per_cadence<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    orgs: &[OrgView],
    (name, help, unit): (&str, &str, Option<&Unit>),
    value: impl Fn(&Cadence) -> Option<M>,
) -> Result {
    let rows = every_cadence(orgs)
        .filter_map(|(org, c)| value(c).map(|v| (CadenceLabels::of(&org.name, c), v)));
    let help = format!("{help} {FROM_LAST_COLLECTION}.");
    encode_rows(encoder, name, &help, unit, rows)
}

type Flag = (&'static str, &'static str, fn(&Cadence) -> bool);

/// `zoho_crm_cadence_active` and `zoho_crm_cadence_published`: one 0/1 gauge per cadence each.
const FLAGS: [Flag; 2] = [
    (
        "zoho_crm_cadence_active",
        "1 when the cadence is active, 0 when it is switched off",
        |c| c.active(),
    ),
    (
        "zoho_crm_cadence_published",
        "1 when the cadence is published",
        |c| c.published,
    ),
];

fn cadence_flag(encoder: &mut DescriptorEncoder, orgs: &[OrgView], flag: Flag) -> Result {
    let (name, help, flag) = flag;
    per_cadence(encoder, orgs, (name, help, None), |c| {
        Some(ConstGauge::new(i64::from(flag(c))))
    })
}

fn cadence_follow_ups(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = every_cadence(orgs).flat_map(|(org, c)| {
        c.follow_ups.iter().map(move |(channel, n)| {
            let labels = CadenceLabels::of(&org.name, c).with_channel(channel);
            (labels, ConstGauge::new(*n as i64))
        })
    });
    let help = format!("Follow-ups configured in the cadence, by channel {FROM_LAST_COLLECTION}.");
    encode_rows(encoder, "zoho_crm_cadence_follow_ups", &help, None, rows)
}

type Time = (&'static str, &'static str, fn(&Cadence) -> Option<f64>);

/// The times of each cadence, in seconds; a cadence without one has no series.
const TIMES: [Time; 4] = [
    (
        "zoho_crm_cadence_created_timestamp",
        "When the cadence was created, as Unix time",
        |c| c.created.get(),
    ),
    (
        "zoho_crm_cadence_modified_timestamp",
        "When the cadence was last modified, as Unix time; staleness is time() minus this",
        |c| c.modified.get(),
    ),
    (
        "zoho_crm_cadence_end_timestamp",
        "When the cadence ends, as Unix time; only for cadences with an end date",
        |c| c.end.get(),
    ),
    (
        "zoho_crm_cadence_execution_interval",
        "How often the cadence executes; only when Zoho states it",
        |c| c.execution_interval.get(),
    ),
];

fn cadence_time(encoder: &mut DescriptorEncoder, orgs: &[OrgView], time: Time) -> Result {
    let (name, help, value) = time;
    per_cadence(encoder, orgs, (name, help, Some(&Unit::Seconds)), |c| {
        value(c).map(ConstGauge::new)
    })
}

fn cadence_enrolled_records(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = orgs.iter().flat_map(|org| {
        let counted = org
            .enrollment
            .iter()
            .flat_map(|e| e.counted(org.cadences()));
        counted.map(|(c, n)| (CadenceLabels::of(&org.name, c), ConstGauge::new(n as i64)))
    });
    let help = format!("Records enrolled in the cadence {FROM_LAST_ENROLLMENT}.");
    encode_rows(
        encoder,
        "zoho_crm_cadence_enrolled_records",
        &help,
        None,
        rows,
    )
}

fn cadence_follow_ups_executed(encoder: &mut DescriptorEncoder, orgs: &[OrgView]) -> Result {
    let rows = every_cadence(orgs).flat_map(|(org, c)| {
        let channels = org
            .follow_ups_executed
            .as_ref()
            .and_then(|f| f.per_cadence.get(&*c.id));
        channels.into_iter().flatten().map(move |(channel, n)| {
            let labels = CadenceLabels::of(&org.name, c).with_channel(channel);
            (labels, ConstGauge::new(*n as i64))
        })
    });
    let help = format!("Follow-ups the active cadence executed over the configured analytics window, by channel {FROM_LAST_ANALYTICS}.");
    encode_rows(
        encoder,
        "zoho_crm_cadence_follow_ups_executed",
        &help,
        None,
        rows,
    )
}
