//! A cadence as the exporter keeps it: only what the metrics show, with the texts that repeat
//! across an org's cadences shared ([`Interner`]).

use std::collections::HashSet;
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
/// channels) is one shared [`Arc<str>`] per collection ([`Interner`]), the rest is boxed to its
/// exact length.
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
    pub(crate) follow_ups: Box<[(Arc<str>, u64)]>,
    pub(crate) created: Option<f64>,
    pub(crate) modified: Option<f64>,
    pub(crate) end: Option<f64>,
    pub(crate) execution_interval: Option<f64>,
}

/// One shared copy of each distinct text of a collection: thousands of cadences name the same
/// few modules, users, views and channels.
#[derive(Debug, Default)]
pub struct Interner {
    texts: HashSet<Arc<str>>,
}

impl Cadence {
    /// Whether the cadence is active: Zoho's status `active`, and nothing else.
    pub(crate) fn active(&self) -> bool {
        self.status == Status::Active
    }
}

impl Interner {
    pub(crate) fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.texts.insert(shared.clone());
        shared
    }
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
}
