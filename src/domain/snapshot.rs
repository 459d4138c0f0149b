//! One org's complete picture of its cadences, built from every page of one collection.
//!
//! A snapshot is immutable and shared behind `Arc`: a collection builds a new one and swaps it in
//! only when every page was read, so a scrape sees either the previous complete state or the new
//! complete state, never a mix.

use crate::domain::cadence::{Cadence, Status, BASE_CHANNELS};
use crate::support::label_values::{MAX_LABEL_VALUES, OVERFLOW_LABEL};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

/// Distinct statuses besides the documented three that one org's label may take; the rest are
/// exported as `other` (the per-org cap of every label whose values Zoho chooses).
const MAX_OTHER_STATUSES: usize = MAX_LABEL_VALUES - Status::DOCUMENTED.len() - 1;

/// Per-module totals for the aggregate metrics. Keyed by the cadences' own shared texts, so
/// totalling thousands of cadences allocates nothing per cadence.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ModuleTotals {
    /// Cadences per status: the documented three always, then every other status seen.
    pub(crate) statuses: BTreeMap<Status, u64>,
    pub(crate) follow_ups: BTreeMap<Arc<str>, u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgSnapshot {
    /// Sorted by module, name and id, one entry per id.
    cadences: Vec<Cadence>,
    modules: BTreeMap<Arc<str>, ModuleTotals>,
    collected_at: SystemTime,
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
            for (channel, count) in cadence.follow_ups.iter() {
                *totals.follow_ups.entry(channel.clone()).or_default() += count;
            }
        }
        OrgSnapshot {
            cadences,
            modules,
            collected_at,
        }
    }

    /// Every cadence, sorted by module, name and id, one per id.
    pub fn cadences(&self) -> &[Cadence] {
        &self.cadences
    }

    /// Totals per module, in module order.
    pub(crate) fn modules(&self) -> &BTreeMap<Arc<str>, ModuleTotals> {
        &self.modules
    }

    /// When the collection that read these cadences finished.
    pub(crate) fn collected_at(&self) -> SystemTime {
        self.collected_at
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cadence::tests::{cadence, other};

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

    proptest::proptest! {
        #[test]
        fn snapshots_count_each_id_once_and_stay_sorted(
            entries in proptest::collection::vec((0u8..30, 0usize..4, proptest::prelude::any::<bool>()), 0..80)
        ) {
            const MODULES: [&str; 4] = ["Leads", "Contacts", "Deals", "Vendors"];
            let cadences: Vec<Cadence> = entries.iter().map(|(id, module, active)| Cadence {
                id: id.to_string().into(),
                name: format!("n{id}").into(),
                module: MODULES[*module].into(),
                status: if *active { Status::Active } else { Status::Inactive },
                ..Cadence::default()
            }).collect();
            let snapshot = OrgSnapshot::build(cadences.clone(), SystemTime::UNIX_EPOCH);
            let mut last: BTreeMap<&str, &Cadence> = BTreeMap::new();
            for c in &cadences {
                last.insert(&c.id, c);
            }
            proptest::prop_assert_eq!(snapshot.cadences.len(), last.len());
            proptest::prop_assert_eq!(snapshot.active_count() + snapshot.inactive_count(), last.len() as u64);
            proptest::prop_assert_eq!(snapshot.active_count(), last.values().filter(|c| c.active()).count() as u64);
            let keys: Vec<_> = snapshot.cadences.iter().map(|c| (&c.module, &c.name, &c.id)).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            proptest::prop_assert_eq!(keys, sorted);
            for cadence in &snapshot.cadences {
                proptest::prop_assert_eq!(&cadence.module, &last[&*cadence.id].module, "the later sighting wins");
            }
        }
    }
}
