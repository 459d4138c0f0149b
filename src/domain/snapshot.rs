//! One org's complete picture of its cadences, built from every page of one collection.
//!
//! A snapshot is immutable and shared behind `Arc`: a collection builds a new one and swaps it in
//! only when every page was read, so a scrape sees either the previous complete state or the new
//! complete state, never a mix.

use crate::domain::cadence::{Cadence, BASE_CHANNELS};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

/// Per-module totals for the aggregate metrics. Keyed by the cadences' own shared texts, so
/// totalling thousands of cadences allocates nothing per cadence.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ModuleTotals {
    pub(crate) active: u64,
    pub(crate) inactive: u64,
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
    /// changed between two pages) is kept once, the later sighting winning.
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
                    follow_ups: channels.iter().map(|ch| (Arc::from(*ch), 0)).collect(),
                    ..ModuleTotals::default()
                });
            if cadence.active {
                totals.active += 1;
            } else {
                totals.inactive += 1;
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

    pub fn active_count(&self) -> u64 {
        self.modules.values().map(|m| m.active).sum()
    }

    pub fn inactive_count(&self) -> u64 {
        self.modules.values().map(|m| m.inactive).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cadence::tests::cadence;

    #[test]
    fn totals_cover_every_channel_for_every_module() {
        let snapshot = OrgSnapshot::build(
            vec![
                cadence("1", "Leads", true),
                cadence("2", "Deals", false),
                cadence("1", "Leads", false),
            ],
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(snapshot.cadences.len(), 2, "duplicate id kept once");
        let leads = &snapshot.modules["Leads"];
        assert_eq!(
            (leads.active, leads.inactive),
            (0, 1),
            "the later sighting wins"
        );
        let channels: Vec<&str> = leads.follow_ups.keys().map(|ch| &**ch).collect();
        assert_eq!(channels, ["call", "email", "task", "whatsapp"]);
        assert_eq!(leads.follow_ups["email"], 2);
        assert_eq!(snapshot.modules["Deals"].follow_ups["task"], 0);
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
                active: *active,
                ..Cadence::default()
            }).collect();
            let snapshot = OrgSnapshot::build(cadences.clone(), SystemTime::UNIX_EPOCH);
            let mut last: BTreeMap<&str, &Cadence> = BTreeMap::new();
            for c in &cadences {
                last.insert(&c.id, c);
            }
            proptest::prop_assert_eq!(snapshot.cadences.len(), last.len());
            proptest::prop_assert_eq!(snapshot.active_count() + snapshot.inactive_count(), last.len() as u64);
            proptest::prop_assert_eq!(snapshot.active_count(), last.values().filter(|c| c.active).count() as u64);
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
