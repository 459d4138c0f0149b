//! A cadence as the exporter keeps it: only what the metrics show, with the texts that repeat
//! across an org's cadences shared ([`Interner`]).

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// The follow-up channels every module reports, even at zero, so dashboards see stable series.
pub(crate) const BASE_CHANNELS: [&str; 3] = ["email", "call", "task"];

/// The module label for a cadence whose module Zoho did not send.
pub(crate) const UNKNOWN_MODULE: &str = "unknown";

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
    /// `other` (see [`crate::domain::snapshot::OrgSnapshot::build`]).
    Other(Arc<str>),
}

impl Status {
    /// The statuses every module reports, even at zero, so dashboards see stable series.
    pub(crate) const DOCUMENTED: [Status; 3] = [Status::Active, Status::Inactive, Status::Draft];

    pub fn as_str(&self) -> &str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Draft => "draft",
            Status::Other(status) => status,
        }
    }
}

/// A cadence, reduced to what the metrics show.
///
/// Kept lean because an org's snapshot lives as long as the process (10,000 cadences must fit a
/// few MiB): text that repeats across cadences (module, enrollment type, custom view, users,
/// channels) is one shared [`Arc<str>`] per collection ([`Interner`]), as are the follow-up
/// counts (cadences of an org mostly have the same few step plans), and the rest is boxed to
/// its exact length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cadence {
    pub(crate) id: Box<str>,
    pub(crate) name: Box<str>,
    pub(crate) module: Arc<str>,
    pub(crate) status: Status,
    pub(crate) published: bool,
    /// Zoho's `type`: "Custom view" or "Manual enrollment", as sent.
    pub(crate) enrollment: Arc<str>,
    pub(crate) custom_view: Arc<str>,
    pub(crate) created_by: Arc<str>,
    pub(crate) modified_by: Arc<str>,
    /// Follow-ups per channel, in channel order (`email_follow_up_count` -> `email`).
    pub(crate) follow_ups: FollowUps,
    pub(crate) created: MaybeSeconds,
    pub(crate) modified: MaybeSeconds,
    pub(crate) end: MaybeSeconds,
    pub(crate) execution_interval: MaybeSeconds,
}

/// A time (Unix seconds) or a duration (seconds) that Zoho may leave out, in 8 bytes where
/// `Option<f64>` takes 16: over a cadence's four, 3 MiB at 100,000 cadences. NaN stands for
/// none; Zoho's times and durations are read from text into finite numbers, never NaN.
#[derive(Clone, Copy)]
pub(crate) struct MaybeSeconds(f64);

impl MaybeSeconds {
    pub(crate) const NONE: MaybeSeconds = MaybeSeconds(f64::NAN);

    pub(crate) fn get(self) -> Option<f64> {
        Some(self.0).filter(|seconds| !seconds.is_nan())
    }
}

impl From<Option<f64>> for MaybeSeconds {
    fn from(seconds: Option<f64>) -> MaybeSeconds {
        MaybeSeconds(seconds.unwrap_or(f64::NAN))
    }
}

impl Default for MaybeSeconds {
    fn default() -> MaybeSeconds {
        MaybeSeconds::NONE
    }
}

impl PartialEq for MaybeSeconds {
    fn eq(&self, other: &MaybeSeconds) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for MaybeSeconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// A cadence's follow-ups per channel, in channel order: shared by the cadences of a collection
/// that have the same ([`Interner::follow_ups`]).
pub(crate) type FollowUps = Arc<[(Arc<str>, u64)]>;

/// One shared copy of each distinct text of a collection: thousands of cadences name the same
/// few modules, users, views and channels. Likewise the follow-up counts: at 100 cadences an
/// org has a few dozen plans at most, and a copy per cadence was 7 MiB at 100,000 cadences.
#[derive(Debug, Default)]
pub struct Interner {
    texts: HashSet<Arc<str>>,
    follow_ups: HashSet<FollowUps>,
}

impl Cadence {
    /// Whether the cadence is active: Zoho's status `active`, and nothing else.
    pub(crate) fn active(&self) -> bool {
        self.status == Status::Active
    }
}

impl Interner {
    pub(crate) fn intern(&mut self, text: &str) -> Arc<str> {
        shared_copy(&mut self.texts, text)
    }

    /// The shared copy of these follow-up counts.
    pub(crate) fn follow_ups(&mut self, counts: Vec<(Arc<str>, u64)>) -> FollowUps {
        shared_copy(&mut self.follow_ups, counts)
    }
}

/// The copy of `value` kept in `kept`, added on first sight.
fn shared_copy<T, V>(kept: &mut HashSet<Arc<T>>, value: V) -> Arc<T>
where
    T: ?Sized + Eq + Hash,
    V: Borrow<T> + Into<Arc<T>>,
{
    if let Some(shared) = kept.get(value.borrow()) {
        return shared.clone();
    }
    let shared: Arc<T> = value.into();
    kept.insert(shared.clone());
    shared
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A cadence with email and WhatsApp follow-ups, for the tests of what is built from them.
    pub(crate) fn cadence(id: &str, module: &str, status: Status) -> Cadence {
        Cadence {
            id: id.into(),
            name: format!("c{id}").into(),
            module: module.into(),
            status,
            follow_ups: [("email".into(), 2), ("whatsapp".into(), 1)].into(),
            ..Cadence::default()
        }
    }

    /// A status the specification does not list.
    pub(crate) fn other(status: &str) -> Status {
        Status::Other(status.into())
    }

    #[test]
    fn a_cadence_is_kept_small() {
        // 100,000 cadences live as long as the process: 224 bytes each before the times were
        // packed, plus a follow-up slice each before those were shared.
        assert!(std::mem::size_of::<Cadence>() <= 192);
        let mut texts = Interner::default();
        let plan = |texts: &mut Interner, email| {
            let counts = vec![(texts.intern("email"), email), (texts.intern("call"), 1)];
            texts.follow_ups(counts)
        };
        let (a, b, c) = (
            plan(&mut texts, 2),
            plan(&mut texts, 2),
            plan(&mut texts, 3),
        );
        assert!(Arc::ptr_eq(&a, &b), "the same plan, one copy");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c[0], ("email".into(), 3));
    }

    #[test]
    fn seconds_left_out_read_as_none() {
        for seconds in [None, Some(0.0), Some(-1.5), Some(1.7e9)] {
            assert_eq!(MaybeSeconds::from(seconds).get(), seconds);
        }
        assert_eq!(MaybeSeconds::default(), MaybeSeconds::from(None));
        assert_ne!(MaybeSeconds::from(Some(0.0)), MaybeSeconds::NONE);
    }
}
