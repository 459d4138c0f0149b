//! One org's complete picture of its cadences, built from every page of one collection.
//!
//! A snapshot is immutable and shared behind `Arc`: a collection builds a new one and swaps it in
//! only when every page was read, so a scrape sees either the previous complete state or the new
//! complete state, never a mix. [`transitions`] compares two snapshots for the deactivation and
//! deletion counters.

use crate::zoho::model::{parse_zoho_time, RawCadence};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

/// The follow-up channels every module reports, even at zero, so dashboards see stable series.
pub const BASE_CHANNELS: [&str; 3] = ["email", "call", "task"];

/// The module label for a cadence whose module Zoho did not send.
pub const UNKNOWN: &str = "unknown";

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
    pub active: bool,
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
    pub fn from_raw(raw: RawCadence, texts: &mut Interner) -> Cadence {
        let mut label = |r: &Option<crate::zoho::model::NamedRef>| {
            texts.intern(r.as_ref().and_then(|r| r.label()).unwrap_or_default())
        };
        let custom_view = label(&raw.custom_view);
        let created_by = label(&raw.created_by);
        let modified_by = label(&raw.modified_by);
        // `active` is the documented boolean; `status` is what real answers fill reliably.
        let active = raw.active.or(raw.status).map(|b| b.0).unwrap_or(false);
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
            active,
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
    pub active: u64,
    pub inactive: u64,
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

    pub fn active_count(&self) -> u64 {
        self.modules.values().map(|m| m.active).sum()
    }

    pub fn inactive_count(&self) -> u64 {
        self.modules.values().map(|m| m.inactive).sum()
    }
}

/// A change seen between two complete snapshots of one org.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition<'a> {
    Deactivated(&'a Cadence),
    Deleted(&'a Cadence),
}

/// Cadences active before and inactive now, and cadences gone since `before`.
pub fn transitions<'a>(before: &'a OrgSnapshot, after: &'a OrgSnapshot) -> Vec<Transition<'a>> {
    let now: BTreeMap<&str, &Cadence> = after.cadences.iter().map(|c| (&*c.id, c)).collect();
    let mut found = Vec::new();
    for old in &before.cadences {
        match now.get(&*old.id) {
            None => found.push(Transition::Deleted(old)),
            Some(new) if old.active && !new.active => found.push(Transition::Deactivated(new)),
            Some(_) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence(id: &str, module: &str, active: bool) -> Cadence {
        Cadence {
            id: id.into(),
            name: format!("c{id}").into(),
            module: module.into(),
            active,
            follow_ups: [("email".into(), 2), ("whatsapp".into(), 1)].into(),
            ..Cadence::default()
        }
    }

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

    #[test]
    fn deactivations_and_deletions() {
        let before = OrgSnapshot::build(
            vec![
                cadence("1", "Leads", true),
                cadence("2", "Leads", true),
                cadence("3", "Deals", false),
            ],
            SystemTime::UNIX_EPOCH,
        );
        let after = OrgSnapshot::build(
            vec![cadence("1", "Leads", false), cadence("3", "Deals", true)],
            SystemTime::UNIX_EPOCH,
        );
        let found = transitions(&before, &after);
        assert_eq!(found.len(), 2);
        assert!(matches!(found[0], Transition::Deactivated(c) if &*c.id == "1"));
        assert!(matches!(found[1], Transition::Deleted(c) if &*c.id == "2"));
    }
}
