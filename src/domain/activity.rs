//! What cadences did beyond their settings, from the enrollment and analytics passes: records
//! enrolled per cadence (`records_count`) and follow-ups executed per active cadence
//! (`analytics`).
//!
//! Results are keyed by cadence id and joined with the org's current snapshot when shown, so a
//! cadence deleted since the pass loses its series with the next snapshot, not the next pass.

use crate::domain::cadence::Cadence;
use std::collections::BTreeMap;

/// Records enrolled per cadence, from one complete `records_count` pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Enrollment {
    /// Cadence id to the number of records enrolled in it.
    pub(crate) counts: BTreeMap<String, u64>,
}

impl Enrollment {
    /// The cadences of `cadences` this pass counted, with their enrolled records, in the order
    /// of `cadences`: the one join of a pass with a snapshot.
    pub(crate) fn counted<'a>(
        &'a self,
        cadences: &'a [Cadence],
    ) -> impl Iterator<Item = (&'a Cadence, u64)> + 'a {
        cadences
            .iter()
            .filter_map(|c| self.counts.get(&*c.id).map(|n| (c, *n)))
    }
}

/// Follow-ups executed per active cadence and channel over a window, from one complete
/// `analytics` pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FollowUpsExecuted {
    /// Cadence id to channel (`email`, `call`, `task`, `whatsapp`, ...) to follow-ups executed.
    pub(crate) per_cadence: BTreeMap<String, BTreeMap<String, u64>>,
}
