//! What changed between two complete snapshots of one org: the deactivation and deletion
//! counters and log lines.

use crate::domain::cadence::Cadence;
use crate::domain::snapshot::OrgSnapshot;
use std::collections::BTreeMap;

/// A change seen between two complete snapshots of one org.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition<'a> {
    Deactivated(&'a Cadence),
    Deleted(&'a Cadence),
}

/// Cadences active before and inactive now, and cadences gone since `before`.
pub(crate) fn transitions<'a>(
    before: &'a OrgSnapshot,
    after: &'a OrgSnapshot,
) -> Vec<Transition<'a>> {
    let now: BTreeMap<&str, &Cadence> = after.cadences().iter().map(|c| (&*c.id, c)).collect();
    let mut found = Vec::new();
    for old in before.cadences() {
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
    use crate::domain::cadence::tests::cadence;
    use std::time::SystemTime;

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
