//! What the pages show, computed from the shared state apart from any markup: each org's
//! state and counts, and the list of what needs attention ([`crate::web::status_page::table`]
//! has one org's cadence table).

use crate::domain::cadence::{Cadence, Status};
use crate::domain::expectations::{Evaluation, Expectation};
use crate::domain::history::{Change, InactiveSince};
use crate::domain::snapshot::OrgSnapshot;
use crate::store::OrgStatus;
use crate::web::status_page::table::PAGE_SIZE;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

/// A cadence's status as the pages name, count and filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CadenceStatus {
    Active,
    Inactive,
    Draft,
}

impl CadenceStatus {
    pub(crate) const ALL: [CadenceStatus; 3] = [
        CadenceStatus::Active,
        CadenceStatus::Inactive,
        CadenceStatus::Draft,
    ];

    /// The one place that classifies a cadence for the pages: the counts, the filter and the
    /// table follow it.
    pub(crate) fn of(cadence: &Cadence) -> CadenceStatus {
        match cadence.status {
            Status::Active => CadenceStatus::Active,
            Status::Draft => CadenceStatus::Draft,
            // A status Zoho's specification does not list is not running: the pages count it
            // with the inactive ones (the metrics keep its own label value).
            Status::Inactive | Status::Other(_) => CadenceStatus::Inactive,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CadenceStatus::Active => "active",
            CadenceStatus::Inactive => "inactive",
            CadenceStatus::Draft => "draft",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<CadenceStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Cadences per status, in [`CadenceStatus::ALL`] order.
pub(crate) fn count_by_status(statuses: impl IntoIterator<Item = CadenceStatus>) -> [u64; 3] {
    let mut counts = [0; 3];
    for status in statuses {
        counts[status as usize] += 1;
    }
    counts
}

/// One org as the pages see it: its status, with the expectations' verdict on its snapshot as
/// the store keeps it (judged once, when the snapshot was published).
pub(crate) struct OrgView {
    pub(crate) name: String,
    pub(crate) status: OrgStatus,
    /// The expectations that apply to this org, in config order (none before a snapshot).
    pub(crate) expectations: Vec<Expectation>,
    pub(crate) token_expiry: Option<SystemTime>,
}

impl OrgView {
    pub(crate) fn new(name: String, status: OrgStatus, token_expiry: Option<f64>) -> OrgView {
        let expectations = status.checked.as_ref().map_or_else(Vec::new, |checked| {
            let applicable = checked.expectations.iter();
            let applicable = applicable.filter(|e| e.org.as_deref().is_none_or(|o| o == name));
            applicable.cloned().collect()
        });
        OrgView {
            name,
            status,
            expectations,
            token_expiry: token_expiry.map(unix_time),
        }
    }

    pub(crate) fn snapshot(&self) -> Option<&OrgSnapshot> {
        self.status.snapshot()
    }

    /// The expectations' verdict on the snapshot; `None` until the org has one.
    pub(crate) fn evaluation(&self) -> Option<&Evaluation> {
        self.status.checked.as_ref().map(|c| &c.evaluation)
    }

    pub(crate) fn state(&self) -> OrgState {
        let health = &self.status.health;
        match (health.attempted, health.up) {
            (false, _) => OrgState::Waiting,
            (true, true) => OrgState::Up,
            (true, false) => OrgState::Down,
        }
    }

    /// Cadences per status, or `None` before the first complete collection.
    pub(crate) fn counts(&self) -> Option<[u64; 3]> {
        self.snapshot()
            .map(|s| count_by_status(s.cadences().iter().map(CadenceStatus::of)))
    }

    /// The state an expectation requires of the cadence at `index` of the snapshot.
    pub(crate) fn expected(&self, index: usize) -> Option<bool> {
        self.evaluation()
            .and_then(|e| e.expected_active.get(index).copied().flatten())
    }

    pub(crate) fn enrolled(&self, cadence: &Cadence) -> Option<u64> {
        self.status
            .enrollment
            .as_ref()
            .map(|e| e.counts.get(&*cadence.id).copied().unwrap_or(0))
    }

    /// Follow-ups the cadence executed per channel, when analytics is on and has a result.
    pub(crate) fn executed(&self, cadence: &Cadence) -> Option<&BTreeMap<String, u64>> {
        self.status
            .follow_ups_executed
            .as_ref()
            .and_then(|f| f.per_cadence.get(&*cadence.id))
    }

    /// The 1-based page of the default table view that shows the cadence at `index`.
    pub(crate) fn page_of(index: usize) -> usize {
        index / PAGE_SIZE + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrgState {
    Waiting,
    Up,
    Down,
}

/// Where a cadence of the current snapshot sits: what a link to it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located<'a> {
    pub(crate) cadence: &'a Cadence,
    pub(crate) index: usize,
}

/// One entry of "Needs attention", most urgent kinds first.
pub(crate) enum Attention<'a> {
    OrgDown {
        org: &'a OrgView,
    },
    /// An expectation requires the cadence to be active and it is not.
    UnexpectedlyInactive {
        org: &'a OrgView,
        at: Located<'a>,
        since: Option<InactiveSince>,
    },
    ExpectationMatchesNothing {
        org: &'a OrgView,
        expectation: &'a Expectation,
    },
    /// Switched off or deleted since the exporter started, and not active again.
    Changed {
        org: &'a OrgView,
        change: &'a Change,
        /// Where it is now, unless deleted.
        at: Option<Located<'a>>,
    },
}

impl Attention<'_> {
    /// Whether this entry is about a cadence (what the summary counts).
    pub(crate) fn is_cadence(&self) -> bool {
        matches!(
            self,
            Attention::UnexpectedlyInactive { .. } | Attention::Changed { .. }
        )
    }
}

/// Everything that needs attention in `orgs`: orgs down, cadences an expectation wants active
/// that are not (longest inactive first), expectations that match no cadence, then cadences
/// switched off or deleted since start that are still off or gone (newest first). A cadence
/// appears once.
pub(crate) fn attention(orgs: &[OrgView]) -> Vec<Attention<'_>> {
    let mut down = Vec::new();
    let mut inactive = Vec::new();
    let mut unmatched = Vec::new();
    let mut changed = Vec::new();
    for org in orgs {
        if org.state() == OrgState::Down {
            down.push(Attention::OrgDown { org });
        }
        let (Some(snapshot), Some(evaluation)) = (org.snapshot(), org.evaluation()) else {
            continue;
        };
        let mut listed: HashSet<&str> = HashSet::new();
        for (index, cadence) in snapshot.cadences().iter().enumerate() {
            if org.expected(index) == Some(true)
                && CadenceStatus::of(cadence) != CadenceStatus::Active
            {
                listed.insert(&cadence.id);
                inactive.push(Attention::UnexpectedlyInactive {
                    org,
                    at: Located { cadence, index },
                    since: org.status.history.inactive_since(&cadence.id),
                });
            }
        }
        for (expectation, (_, matched)) in org.expectations.iter().zip(&evaluation.matches) {
            if *matched == 0 {
                unmatched.push(Attention::ExpectationMatchesNothing { org, expectation });
            }
        }
        let by_id: BTreeMap<&str, usize> = snapshot
            .cadences()
            .iter()
            .enumerate()
            .map(|(index, c)| (&*c.id, index))
            .collect();
        for change in org.status.history.changes() {
            if !listed.insert(&change.id) {
                continue; // listed above, or a newer change of it is
            }
            let at = by_id.get(&*change.id).map(|&index| Located {
                cadence: &snapshot.cadences()[index],
                index,
            });
            // Gone (deleted, or deleted since it was switched off), or still not active.
            if at.is_none_or(|at| !at.cadence.active()) {
                changed.push(Attention::Changed { org, change, at });
            }
        }
    }
    let since = |a: &Attention| match a {
        Attention::UnexpectedlyInactive { since, .. } => since.map(|s| s.at),
        _ => None,
    };
    inactive.sort_by_key(since);
    let seen = |a: &Attention| match a {
        Attention::Changed { change, .. } => Some(change.seen_at),
        _ => None,
    };
    changed.sort_by_key(|a| std::cmp::Reverse(seen(a)));
    down.into_iter()
        .chain(inactive)
        .chain(unmatched)
        .chain(changed)
        .collect()
}

/// The summary line of `/`, which is also its title.
pub(crate) fn summary(orgs: &[OrgView], attention: &[Attention]) -> String {
    let count = |state| orgs.iter().filter(|o| o.state() == state).count();
    let (up, down, waiting) = (
        count(OrgState::Up),
        count(OrgState::Down),
        count(OrgState::Waiting),
    );
    let cadences = attention.iter().filter(|a| a.is_cadence()).count();
    let mut line = format!(
        "{} {}: {up} up, {down} down",
        orgs.len(),
        plural(orgs.len(), "org", "orgs")
    );
    if waiting > 0 {
        line.push_str(&format!(", {waiting} waiting for a first collection"));
    }
    line.push_str(&format!(
        "; {cadences} {} attention",
        plural(cadences, "cadence needs", "cadences need")
    ));
    let unmatched = attention
        .iter()
        .filter(|a| matches!(a, Attention::ExpectationMatchesNothing { .. }))
        .count();
    if unmatched > 0 {
        line.push_str(&format!(
            ", {unmatched} {} nothing",
            plural(unmatched, "expectation matches", "expectations match")
        ));
    }
    line
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A Unix time in seconds (Zoho's times, the token expiry) as a `SystemTime`.
pub(crate) fn unix_time(seconds: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_a_place_for_drafts() {
        use CadenceStatus::*;
        assert_eq!(
            count_by_status([Active, Inactive, Draft, Draft, Active, Active]),
            [3, 1, 2]
        );
        let cadence = |status| Cadence {
            status,
            ..Cadence::default()
        };
        assert_eq!(CadenceStatus::of(&cadence(Status::Active)), Active);
        assert_eq!(CadenceStatus::of(&cadence(Status::Inactive)), Inactive);
        assert_eq!(CadenceStatus::of(&cadence(Status::Draft)), Draft);
        assert_eq!(
            CadenceStatus::of(&cadence(Status::Other("paused".into()))),
            Inactive
        );
        assert_eq!(CadenceStatus::parse("draft"), Some(Draft));
    }
}
