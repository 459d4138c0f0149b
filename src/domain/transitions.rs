//! What changed between two complete snapshots of one org: the deactivation and deletion
//! counters and log lines.

use crate::domain::cadence::{Cadence, Status};
use crate::domain::snapshot::OrgSnapshot;
use std::collections::BTreeMap;

/// A change seen between two complete snapshots of one org.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition<'a> {
    Deactivated(&'a Cadence),
    Deleted(&'a Cadence),
}

/// Cadences active before and not active now, and cadences gone since `before`.
///
/// A cadence that became a draft is not a deactivation: Zoho's specification defines a draft as
/// "not yet published", so such a cadence was taken back to unpublished (or replaced) rather
/// than switched off; an expectation that requires it active still reports it.
pub(crate) fn transitions<'a>(
    before: &'a OrgSnapshot,
    after: &'a OrgSnapshot,
) -> Vec<Transition<'a>> {
    let now: BTreeMap<&str, &Cadence> = after.cadences().iter().map(|c| (&*c.id, c)).collect();
    let mut found = Vec::new();
    for old in before.cadences() {
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
    use crate::domain::cadence::tests::{cadence, other};
    use std::time::SystemTime;

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
