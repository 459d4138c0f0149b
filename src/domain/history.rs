//! What happened to one org since the exporter started: cadences switched off or deleted (who
//! and when, as Zoho tells), since when each inactive cadence has been seen inactive, and the
//! last failed step of a collection or pass. The status page reads it; the metrics do not.
//!
//! Kept in memory only and bounded: at most [`MAX_CHANGES`] changes per org (the oldest are
//! forgotten first), and one entry per cadence inactive in the current snapshot.

use crate::domain::snapshot::OrgSnapshot;
use crate::domain::transitions::Transition;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

/// Changes kept per org: enough for a page to show what happened lately, small enough that an
/// org whose cadences flap for months costs a few KiB.
pub(crate) const MAX_CHANGES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Deactivated,
    Deleted,
}

impl ChangeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deactivated => "deactivated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// A cadence switched off or deleted between two complete snapshots.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub(crate) kind: ChangeKind,
    pub(crate) id: Box<str>,
    pub(crate) name: Box<str>,
    pub(crate) module: Arc<str>,
    /// Zoho's `modified_by` and `modified_time` (Unix seconds) as last seen: for a deletion,
    /// those of the last snapshot that still had the cadence.
    pub(crate) modified_by: Arc<str>,
    pub(crate) modified: Option<f64>,
    /// When the collection that saw the change completed.
    pub(crate) seen_at: SystemTime,
}

/// Since when a cadence has been seen inactive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct InactiveSince {
    pub(crate) at: SystemTime,
    /// Already inactive in the first snapshot of the org: inactive for at least this long.
    pub(crate) from_first_snapshot: bool,
}

/// The org's history as the collections saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OrgHistory {
    /// Oldest first.
    changes: VecDeque<Change>,
    inactive_since: HashMap<Box<str>, InactiveSince>,
    snapshots: u64,
}

impl OrgHistory {
    /// Takes in a new complete snapshot and the transitions from the previous one.
    pub(crate) fn record(&mut self, transitions: &[Transition<'_>], snapshot: &OrgSnapshot) {
        let first = self.snapshots == 0;
        self.snapshots += 1;
        for transition in transitions {
            let (kind, cadence) = match transition {
                Transition::Deactivated(c) => (ChangeKind::Deactivated, *c),
                Transition::Deleted(c) => (ChangeKind::Deleted, *c),
            };
            if self.changes.len() == MAX_CHANGES {
                self.changes.pop_front();
            }
            self.changes.push_back(Change {
                kind,
                id: cadence.id.clone(),
                name: cadence.name.clone(),
                module: cadence.module.clone(),
                modified_by: cadence.modified_by.clone(),
                modified: cadence.modified.get(),
                seen_at: snapshot.collected_at(),
            });
        }
        let mut since = std::mem::take(&mut self.inactive_since);
        self.inactive_since = snapshot
            .cadences()
            .iter()
            .filter(|c| !c.active())
            .map(|c| {
                let seen = since.remove(&c.id).unwrap_or(InactiveSince {
                    at: snapshot.collected_at(),
                    from_first_snapshot: first,
                });
                (c.id.clone(), seen)
            })
            .collect();
    }

    /// Changes seen since the exporter started, newest first (at most [`MAX_CHANGES`]).
    pub(crate) fn changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().rev()
    }

    /// Since when the cadence with `id` has been seen inactive; `None` when it is active or
    /// unknown.
    pub(crate) fn inactive_since(&self, id: &str) -> Option<InactiveSince> {
        self.inactive_since.get(id).copied()
    }
}

/// The part of a collection or pass that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Getting an access token from the accounts server.
    Token,
    /// Reading page N of the cadence list.
    Page(u32),
    RecordsCount,
    Analytics,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Token => f.write_str("token"),
            Step::Page(n) => write!(f, "page {n}"),
            Step::RecordsCount => f.write_str("records_count"),
            Step::Analytics => f.write_str("analytics"),
        }
    }
}

/// Which loop a failure ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassKind {
    Collection,
    Enrollment,
    Analytics,
}

/// The last failure of an org, as the status page shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LastError {
    pub(crate) at: SystemTime,
    pub(crate) pass: PassKind,
    pub(crate) step: Step,
    /// The host the failed step talks to (accounts server or API domain).
    pub(crate) host: String,
    /// A safe message: never holds a secret.
    pub(crate) message: String,
    /// A later pass of the same kind succeeded.
    pub(crate) resolved: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cadence::{Cadence, Status};
    use crate::domain::transitions::transitions;
    use std::time::Duration;

    fn cadence(id: &str, active: bool) -> Cadence {
        Cadence {
            id: id.into(),
            name: format!("cadence {id}").into(),
            module: "Leads".into(),
            status: if active {
                Status::Active
            } else {
                Status::Inactive
            },
            modified_by: "Pat".into(),
            ..Cadence::default()
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn feed(history: &mut OrgHistory, previous: Option<&OrgSnapshot>, next: &OrgSnapshot) {
        let found = previous.map(|p| transitions(p, next)).unwrap_or_default();
        history.record(&found, next);
    }

    #[test]
    fn inactive_since_is_kept_until_active_or_gone() {
        let mut history = OrgHistory::default();
        let one = OrgSnapshot::build(vec![cadence("1", false), cadence("2", true)], at(100));
        feed(&mut history, None, &one);
        let first = history.inactive_since("1").unwrap();
        assert_eq!(first.at, at(100));
        assert!(first.from_first_snapshot);
        assert_eq!(history.inactive_since("2"), None);

        let two = OrgSnapshot::build(vec![cadence("1", false), cadence("2", false)], at(200));
        feed(&mut history, Some(&one), &two);
        assert_eq!(
            history.inactive_since("1"),
            Some(first),
            "kept across collections"
        );
        let second = history.inactive_since("2").unwrap();
        assert_eq!(second.at, at(200));
        assert!(!second.from_first_snapshot);

        let three = OrgSnapshot::build(vec![cadence("2", true)], at(300));
        feed(&mut history, Some(&two), &three);
        assert_eq!(history.inactive_since("1"), None, "gone");
        assert_eq!(history.inactive_since("2"), None, "active again");
    }

    #[test]
    fn changes_are_newest_first_and_bounded() {
        let mut history = OrgHistory::default();
        let mut previous = OrgSnapshot::build(vec![cadence("x", true)], at(0));
        feed(&mut history, None, &previous);
        // Every second collection switches it off: twice the bound, and some more.
        for n in 1..=(2 * MAX_CHANGES as u64 + 10) {
            let next = OrgSnapshot::build(vec![cadence("x", n % 2 == 0)], at(n));
            feed(&mut history, Some(&previous), &next);
            previous = next;
        }
        let changes: Vec<&Change> = history.changes().collect();
        assert_eq!(changes.len(), MAX_CHANGES);
        assert!(changes.windows(2).all(|w| w[0].seen_at > w[1].seen_at));
        assert_eq!(changes[0].kind, ChangeKind::Deactivated);
        assert_eq!(&*changes[0].modified_by, "Pat");

        let gone = OrgSnapshot::build(vec![], at(1_000));
        feed(&mut history, Some(&previous), &gone);
        let newest = history.changes().next().unwrap();
        assert_eq!(
            (newest.kind, &*newest.id, newest.seen_at),
            (ChangeKind::Deleted, "x", at(1_000))
        );
    }

    #[test]
    fn steps_read_as_the_page_names_them() {
        let named: Vec<String> = [
            Step::Token,
            Step::Page(3),
            Step::RecordsCount,
            Step::Analytics,
        ]
        .iter()
        .map(Step::to_string)
        .collect();
        assert_eq!(named, ["token", "page 3", "records_count", "analytics"]);
    }
}
