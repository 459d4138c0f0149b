//! One org's complete picture of its cadences, built from every page of one collection.
//!
//! A snapshot is immutable and shared behind `Arc`: a collection builds a new one and swaps it in
//! only when every page was read, so a scrape sees either the previous complete state or the new
//! complete state, never a mix. [`transitions`] compares two snapshots for the deactivation and
//! deletion counters.

use crate::telemetry::{MAX_LABEL_VALUES, OVERFLOW_LABEL};
use crate::zoho::client::is_label_safe;
use crate::zoho::model::{parse_zoho_time, CadenceStatus, RawCadence};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

/// The follow-up channels every module reports, even at zero, so dashboards see stable series.
pub const BASE_CHANNELS: [&str; 3] = ["email", "call", "task"];

/// The module label for a cadence whose module Zoho did not send.
pub const UNKNOWN: &str = "unknown";

/// A cadence's lifecycle (Zoho's `status`), the `status` label. Ordered as exported: the three
/// statuses of Zoho's specification first, then any other, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Published and enrolling records.
    Active,
    /// Published but deactivated.
    #[default]
    Inactive,
    /// Not yet published: it never ran.
    Draft,
    /// A status the specification does not list, as Zoho sent it: a short plain value, or
    /// `other` (see [`OrgSnapshot::build`]).
    Other(Arc<str>),
}

impl Status {
    /// The statuses every module reports, even at zero, so dashboards see stable series.
    pub const DOCUMENTED: [Status; 3] = [Status::Active, Status::Inactive, Status::Draft];

    pub fn as_str(&self) -> &str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Draft => "draft",
            Status::Other(status) => status,
        }
    }
}

/// Distinct statuses besides the documented three that one org's label may take; the rest are
/// exported as `other` (the per-org cap of every label whose values Zoho chooses).
const MAX_OTHER_STATUSES: usize = MAX_LABEL_VALUES - Status::DOCUMENTED.len() - 1;

/// A cadence, reduced to what the metrics show.
///
/// Kept lean because an org's snapshot lives as long as the process (10,000 cadences must fit a
/// few MiB): text that repeats across cadences (module, enrollment type, custom view, users,
/// channels) is one shared [`Arc<str>`] per collection ([`Interner`]), the rest is boxed to its
/// exact length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cadence {
    pub id: Box<str>,
    pub name: Box<str>,
    pub module: Arc<str>,
    pub status: Status,
    pub published: bool,
    /// Zoho's `type`: "Custom view" or "Manual enrollment", as sent.
    pub enrollment: Arc<str>,
    pub custom_view: Arc<str>,
    pub created_by: Arc<str>,
    pub modified_by: Arc<str>,
    /// Follow-ups per channel, in channel order (`email_follow_up_count` -> `email`).
    pub follow_ups: Box<[(Arc<str>, u64)]>,
    pub created: Option<f64>,
    pub modified: Option<f64>,
    pub end: Option<f64>,
    pub execution_interval: Option<f64>,
}

/// One shared copy of each distinct text of a collection: thousands of cadences name the same
/// few modules, users, views and channels.
#[derive(Debug, Default)]
pub struct Interner {
    texts: HashSet<Arc<str>>,
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.texts.insert(shared.clone());
        shared
    }

    /// The cadences of one page, reduced, sharing this collection's texts.
    pub fn cadences(&mut self, raws: Vec<RawCadence>) -> impl Iterator<Item = Cadence> + '_ {
        raws.into_iter().map(|raw| Cadence::from_raw(raw, self))
    }
}

impl Cadence {
    /// Whether the cadence is active: Zoho's status `active`, and nothing else.
    pub fn active(&self) -> bool {
        self.status == Status::Active
    }

    pub fn from_raw(raw: RawCadence, texts: &mut Interner) -> Cadence {
        let mut label = |r: &Option<crate::zoho::model::NamedRef>| {
            texts.intern(r.as_ref().and_then(|r| r.label()).unwrap_or_default())
        };
        let custom_view = label(&raw.custom_view);
        let created_by = label(&raw.created_by);
        let modified_by = label(&raw.modified_by);
        // The specification's lifecycle is `status`; the boolean `active` says only whether a
        // cadence runs, so it decides only when `status` is absent.
        let status = match raw.status {
            Some(CadenceStatus::Active) => Status::Active,
            Some(CadenceStatus::Inactive) => Status::Inactive,
            Some(CadenceStatus::Draft) => Status::Draft,
            Some(CadenceStatus::Other(status)) if is_label_safe(&status) => {
                Status::Other(texts.intern(&status))
            }
            Some(CadenceStatus::Other(_)) => Status::Other(texts.intern(OVERFLOW_LABEL)),
            None if raw.active.is_some_and(|a| a.0) => Status::Active,
            None => Status::Inactive,
        };
        let mut follow_ups: Vec<(Arc<str>, u64)> = raw
            .summary
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, count)| {
                key.strip_suffix("_follow_up_count")
                    .filter(|channel| !channel.is_empty())
                    .map(|channel| (texts.intern(channel), count.0))
            })
            .collect();
        follow_ups.sort();
        let execution = raw.execution_details.unwrap_or_default();
        let module = raw
            .module
            .as_ref()
            .and_then(|m| m.label())
            .filter(|m| !m.is_empty())
            .unwrap_or(UNKNOWN);
        Cadence {
            name: raw.name.unwrap_or_default().into_boxed_str(),
            module: texts.intern(module),
            status,
            published: raw.published.map(|b| b.0).unwrap_or(false),
            enrollment: texts.intern(raw.enrollment.as_deref().unwrap_or_default()),
            custom_view,
            created_by,
            modified_by,
            follow_ups: follow_ups.into_boxed_slice(),
            created: raw.created_time.as_deref().and_then(parse_zoho_time),
            modified: raw.modified_time.as_deref().and_then(parse_zoho_time),
            end: execution.end_date.as_deref().and_then(parse_zoho_time),
            execution_interval: execution.execute_every.as_ref().and_then(|e| e.seconds()),
            id: raw.id.0.into_boxed_str(),
        }
    }
}

/// Per-module totals for the aggregate metrics. Keyed by the cadences' own shared texts, so
/// totalling thousands of cadences allocates nothing per cadence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleTotals {
    /// Cadences per status: the documented three always, then every other status seen.
    pub statuses: BTreeMap<Status, u64>,
    pub follow_ups: BTreeMap<Arc<str>, u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgSnapshot {
    /// Sorted by module, name and id, one entry per id.
    pub cadences: Vec<Cadence>,
    pub modules: BTreeMap<Arc<str>, ModuleTotals>,
    pub collected_at: SystemTime,
}

impl OrgSnapshot {
    /// Builds a snapshot from every cadence of one collection. A cadence id seen twice (the list
    /// changed between two pages) is kept once, the later sighting winning. Statuses beyond the
    /// documented three take at most [`MAX_OTHER_STATUSES`] values, the first by name; the rest
    /// are `other`, as telemetry caps Zoho's error codes.
    pub fn build(mut cadences: Vec<Cadence>, collected_at: SystemTime) -> OrgSnapshot {
        // In place, without a second collection: reversed, a stable sort by id puts each id's
        // later sighting first, and dedup keeps the first of each run.
        cadences.reverse();
        cadences.sort_by(|a, b| a.id.cmp(&b.id));
        cadences.dedup_by(|later_in_run, kept| later_in_run.id == kept.id);
        cadences
            .sort_unstable_by(|a, b| (&a.module, &a.name, &a.id).cmp(&(&b.module, &b.name, &b.id)));
        // The snapshot lives until the next collection: it keeps only what it uses.
        cadences.shrink_to_fit();
        cap_other_statuses(&mut cadences);

        let channels: BTreeSet<&str> = BASE_CHANNELS
            .into_iter()
            .chain(
                cadences
                    .iter()
                    .flat_map(|c| c.follow_ups.iter().map(|(ch, _)| &**ch)),
            )
            .collect();
        let mut modules: BTreeMap<Arc<str>, ModuleTotals> = BTreeMap::new();
        for cadence in &cadences {
            let totals = modules
                .entry(cadence.module.clone())
                .or_insert_with(|| ModuleTotals {
                    statuses: Status::DOCUMENTED.map(|status| (status, 0)).into(),
                    follow_ups: channels.iter().map(|ch| (Arc::from(*ch), 0)).collect(),
                });
            match totals.statuses.get_mut(&cadence.status) {
                Some(n) => *n += 1,
                None => {
                    totals.statuses.insert(cadence.status.clone(), 1);
                }
            }
            for (channel, count) in &cadence.follow_ups {
                *totals.follow_ups.entry(channel.clone()).or_default() += count;
            }
        }
        OrgSnapshot {
            cadences,
            modules,
            collected_at,
        }
    }

    /// Cadences with this status, over every module.
    pub fn count(&self, status: &Status) -> u64 {
        self.modules
            .values()
            .filter_map(|m| m.statuses.get(status))
            .sum()
    }

    pub fn active_count(&self) -> u64 {
        self.count(&Status::Active)
    }

    pub fn inactive_count(&self) -> u64 {
        self.count(&Status::Inactive)
    }

    pub fn draft_count(&self) -> u64 {
        self.count(&Status::Draft)
    }
}

/// Keeps the statuses beyond the documented three to [`MAX_OTHER_STATUSES`] values, the first by
/// name; the others become `other`. One pass over the cadences, and nothing allocated unless Zoho
/// sends statuses the specification does not list.
fn cap_other_statuses(cadences: &mut [Cadence]) {
    let others: BTreeSet<Arc<str>> = cadences
        .iter()
        .filter_map(|c| match &c.status {
            Status::Other(status) => Some(status.clone()),
            _ => None,
        })
        .collect();
    if others.len() <= MAX_OTHER_STATUSES {
        return;
    }
    let kept: HashSet<Arc<str>> = others.into_iter().take(MAX_OTHER_STATUSES).collect();
    let overflow: Arc<str> = Arc::from(OVERFLOW_LABEL);
    for cadence in cadences {
        if matches!(&cadence.status, Status::Other(status) if !kept.contains(status)) {
            cadence.status = Status::Other(overflow.clone());
        }
    }
}

/// A change seen between two complete snapshots of one org.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition<'a> {
    Deactivated(&'a Cadence),
    Deleted(&'a Cadence),
}

/// Cadences active before and not active now, and cadences gone since `before`.
///
/// A cadence that became a draft is not a deactivation: Zoho's specification defines a draft as
/// "not yet published", so such a cadence was taken back to unpublished (or replaced) rather
/// than switched off; an expectation that requires it active still reports it.
pub fn transitions<'a>(before: &'a OrgSnapshot, after: &'a OrgSnapshot) -> Vec<Transition<'a>> {
    let now: BTreeMap<&str, &Cadence> = after.cadences.iter().map(|c| (&*c.id, c)).collect();
    let mut found = Vec::new();
    for old in &before.cadences {
        match now.get(&*old.id) {
            None => found.push(Transition::Deleted(old)),
            Some(new) if old.active() && !new.active() && new.status != Status::Draft => {
                found.push(Transition::Deactivated(new))
            }
            Some(_) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence(id: &str, module: &str, status: Status) -> Cadence {
        Cadence {
            id: id.into(),
            name: format!("c{id}").into(),
            module: module.into(),
            status,
            follow_ups: [("email".into(), 2), ("whatsapp".into(), 1)].into(),
            ..Cadence::default()
        }
    }

    fn other(status: &str) -> Status {
        Status::Other(status.into())
    }

    fn statuses(totals: &ModuleTotals) -> Vec<(&str, u64)> {
        totals
            .statuses
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect()
    }

    #[test]
    fn totals_cover_every_channel_and_status_for_every_module() {
        let snapshot = OrgSnapshot::build(
            vec![
                cadence("1", "Leads", Status::Active),
                cadence("2", "Deals", Status::Inactive),
                cadence("1", "Leads", Status::Inactive),
                cadence("4", "Deals", Status::Draft),
                cadence("5", "Deals", other("paused")),
            ],
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(snapshot.cadences.len(), 4, "duplicate id kept once");
        let leads = &snapshot.modules["Leads"];
        assert_eq!(
            statuses(leads),
            [("active", 0), ("inactive", 1), ("draft", 0)],
            "the later sighting wins; every documented status is there"
        );
        assert_eq!(
            statuses(&snapshot.modules["Deals"]),
            [("active", 0), ("inactive", 1), ("draft", 1), ("paused", 1)]
        );
        assert_eq!(
            (
                snapshot.active_count(),
                snapshot.inactive_count(),
                snapshot.draft_count()
            ),
            (0, 2, 1)
        );
        let channels: Vec<&str> = leads.follow_ups.keys().map(|ch| &**ch).collect();
        assert_eq!(channels, ["call", "email", "task", "whatsapp"]);
        assert_eq!(leads.follow_ups["email"], 2);
        assert_eq!(snapshot.modules["Deals"].follow_ups["task"], 0);
    }

    #[test]
    fn statuses_beyond_the_cap_are_other() {
        let cadences = (0..MAX_LABEL_VALUES + 10)
            .map(|n| cadence(&n.to_string(), "Leads", other(&format!("s{n:03}"))))
            .collect();
        let snapshot = OrgSnapshot::build(cadences, SystemTime::UNIX_EPOCH);
        let statuses = &snapshot.modules["Leads"].statuses;
        assert_eq!(statuses.len(), MAX_LABEL_VALUES, "the per-org cap");
        assert_eq!(statuses[&other("s000")], 1, "the first by name are kept");
        assert_eq!(
            statuses[&other(OVERFLOW_LABEL)],
            (MAX_LABEL_VALUES + 10 - MAX_OTHER_STATUSES) as u64
        );
        let labelled: BTreeSet<&str> = snapshot
            .cadences
            .iter()
            .map(|c| c.status.as_str())
            .collect();
        assert_eq!(labelled.len(), MAX_OTHER_STATUSES + 1);
    }

    #[test]
    fn deactivations_and_deletions() {
        let before = OrgSnapshot::build(
            vec![
                cadence("1", "Leads", Status::Active),
                cadence("2", "Leads", Status::Active),
                cadence("3", "Deals", Status::Inactive),
                cadence("4", "Deals", Status::Active),
                cadence("5", "Deals", Status::Draft),
                cadence("6", "Deals", Status::Active),
            ],
            SystemTime::UNIX_EPOCH,
        );
        let after = OrgSnapshot::build(
            vec![
                cadence("1", "Leads", Status::Inactive),
                cadence("3", "Deals", Status::Active),
                cadence("4", "Deals", Status::Draft),
                cadence("5", "Deals", Status::Inactive),
                cadence("6", "Deals", other("paused")),
            ],
            SystemTime::UNIX_EPOCH,
        );
        let mut found: Vec<(&str, &str)> = transitions(&before, &after)
            .into_iter()
            .map(|t| match t {
                Transition::Deactivated(c) => ("deactivated", &*c.id),
                Transition::Deleted(c) => ("deleted", &*c.id),
            })
            .collect();
        found.sort();
        // Active to draft (4) is not a deactivation, nor is a draft that was never active (5);
        // active to a status Zoho may add (6) stops the cadence as inactive does.
        assert_eq!(
            found,
            [("deactivated", "1"), ("deactivated", "6"), ("deleted", "2")]
        );
    }
}
