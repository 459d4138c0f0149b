//! Expectations: which cadences must be active (or inactive), and how the snapshot measures up.
//!
//! An expectation selects cadences by name glob or id, optionally within one org and one module,
//! and states the `active` value they must have. [`evaluate`] applies all expectations to one
//! org's cadences. A [`CheckedSnapshot`] keeps a snapshot with that verdict, computed once when
//! the snapshot arrives (and again only when a reload changes the expectations); the encoder
//! turns it into `zoho_crm_cadence_expected_active` and `zoho_crm_expectation_matches`, and the
//! alert rules compare those with the real state.

use crate::domain::cadence::Cadence;
use crate::domain::snapshot::OrgSnapshot;
use globset::{Glob, GlobMatcher};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expectation {
    pub(crate) name: String,
    pub(crate) org: Option<String>,
    pub(crate) module: Option<String>,
    pub(crate) selector: ExpectationSelector,
    pub(crate) active: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ExpectationSelector {
    NameGlob {
        pattern: String,
        matcher: GlobMatcher,
    },
    Id(String),
}

impl PartialEq for ExpectationSelector {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::NameGlob { pattern: a, .. }, Self::NameGlob { pattern: b, .. }) => a == b,
            (Self::Id(a), Self::Id(b)) => a == b,
            _ => false,
        }
    }
}

impl ExpectationSelector {
    pub(crate) fn name_glob(pattern: &str) -> Result<Self, globset::Error> {
        let matcher = Glob::new(pattern)?.compile_matcher();
        Ok(Self::NameGlob {
            pattern: pattern.to_owned(),
            matcher,
        })
    }
}

impl Expectation {
    pub(crate) fn matches(&self, org: &str, cadence: &Cadence) -> bool {
        if self.org.as_deref().is_some_and(|o| o != org) {
            return false;
        }
        if self
            .module
            .as_deref()
            .is_some_and(|m| m != &*cadence.module)
        {
            return false;
        }
        match &self.selector {
            ExpectationSelector::NameGlob { matcher, .. } => matcher.is_match(&*cadence.name),
            ExpectationSelector::Id(id) => **id == *cadence.id,
        }
    }

    /// Whether the two surely select the same cadences but require different states: such a
    /// pair is refused when the config is loaded. Overlaps that depend on the data (two
    /// different globs matching one name) are found by [`evaluate`] instead.
    pub(crate) fn conflicts_with(&self, other: &Expectation) -> bool {
        let scopes_overlap = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.active != other.active
            && self.selector == other.selector
            && scopes_overlap(&self.org, &other.org)
            && scopes_overlap(&self.module, &other.module)
    }
}

/// What the expectations say about one org's cadences.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Evaluation {
    /// For each cadence index of the snapshot, the state required of it, if any expectation
    /// matched it without conflict.
    pub(crate) expected_active: Vec<Option<bool>>,
    /// For each expectation that applies to this org: its name and how many cadences it matched.
    pub(crate) matches: Vec<(String, u64)>,
    /// Cadences (indices) that expectations with different `active` values both matched.
    pub(crate) conflicts: Vec<usize>,
}

/// A snapshot and the expectations' verdict on it, kept together from the moment the snapshot
/// is published: the verdict is computed once, not at every encoding.
#[derive(Debug)]
pub(crate) struct CheckedSnapshot {
    pub(crate) snapshot: Arc<OrgSnapshot>,
    /// The expectations the verdict is about, to tell whether a reload changed them.
    pub(crate) expectations: Arc<Vec<Expectation>>,
    pub(crate) evaluation: Evaluation,
}

impl CheckedSnapshot {
    pub(crate) fn new(
        org: &str,
        snapshot: Arc<OrgSnapshot>,
        expectations: &Arc<Vec<Expectation>>,
    ) -> CheckedSnapshot {
        let evaluation = evaluate(expectations, org, snapshot.cadences());
        CheckedSnapshot {
            snapshot,
            expectations: expectations.clone(),
            evaluation,
        }
    }

    /// Whether the verdict is about `expectations` (the same list, not merely an equal one).
    pub(crate) fn is_about(&self, expectations: &Arc<Vec<Expectation>>) -> bool {
        Arc::ptr_eq(&self.expectations, expectations)
    }
}

pub(crate) fn evaluate(
    expectations: &[Expectation],
    org: &str,
    cadences: &[Cadence],
) -> Evaluation {
    let applicable: Vec<&Expectation> = expectations
        .iter()
        .filter(|e| e.org.as_deref().is_none_or(|o| o == org))
        .collect();
    let mut evaluation = Evaluation {
        expected_active: vec![None; cadences.len()],
        matches: applicable.iter().map(|e| (e.name.clone(), 0)).collect(),
        conflicts: Vec::new(),
    };
    if applicable.is_empty() {
        return evaluation;
    }
    for (index, cadence) in cadences.iter().enumerate() {
        let mut required: Option<bool> = None;
        let mut conflict = false;
        for (slot, expectation) in applicable.iter().enumerate() {
            if expectation.matches(org, cadence) {
                evaluation.matches[slot].1 += 1;
                match required {
                    Some(state) if state != expectation.active => conflict = true,
                    _ => required = Some(expectation.active),
                }
            }
        }
        if conflict {
            evaluation.conflicts.push(index);
        } else {
            evaluation.expected_active[index] = required;
        }
    }
    evaluation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence(id: &str, name: &str, module: &str) -> Cadence {
        Cadence {
            id: id.into(),
            name: name.into(),
            module: module.into(),
            ..Cadence::default()
        }
    }

    fn glob(name: &str, pattern: &str, active: bool) -> Expectation {
        Expectation {
            name: name.to_owned(),
            org: None,
            module: None,
            selector: ExpectationSelector::name_glob(pattern).unwrap(),
            active,
        }
    }

    #[test]
    fn glob_id_org_and_module_filters() {
        let cadences = vec![
            cadence("1", "Onboarding EMEA", "Contacts"),
            cadence("2", "Onboarding US", "Leads"),
            cadence("3", "Renewal", "Deals"),
        ];
        let mut by_module = glob("onboarding-contacts", "Onboarding*", true);
        by_module.module = Some("Contacts".to_owned());
        let mut other_org = glob("elsewhere", "*", false);
        other_org.org = Some("other".to_owned());
        let by_id = Expectation {
            selector: ExpectationSelector::Id("3".to_owned()),
            ..glob("renewal-off", "x", false)
        };
        let evaluation = evaluate(&[by_module, other_org, by_id], "acme", &cadences);
        assert_eq!(
            evaluation.expected_active,
            vec![Some(true), None, Some(false)]
        );
        assert_eq!(
            evaluation.matches,
            vec![
                ("onboarding-contacts".to_owned(), 1),
                ("renewal-off".to_owned(), 1)
            ]
        );
        assert!(evaluation.conflicts.is_empty());
    }

    #[test]
    fn a_renamed_cadence_no_longer_matches() {
        let expectations = [glob("must-run", "Onboarding*", true)];
        let before = evaluate(
            &expectations,
            "acme",
            &[cadence("1", "Onboarding", "Leads")],
        );
        assert_eq!(before.matches[0].1, 1);
        let after = evaluate(&expectations, "acme", &[cadence("1", "Welcome", "Leads")]);
        assert_eq!(after.matches[0].1, 0);
        assert_eq!(after.expected_active, vec![None]);
    }

    #[test]
    fn data_dependent_conflicts_are_reported() {
        let expectations = [glob("on", "Onboarding*", true), glob("off", "*EMEA", false)];
        let evaluation = evaluate(
            &expectations,
            "acme",
            &[cadence("1", "Onboarding EMEA", "Leads")],
        );
        assert_eq!(evaluation.conflicts, vec![0]);
        assert_eq!(evaluation.expected_active, vec![None]);
    }

    #[test]
    fn static_conflicts() {
        let on = glob("on", "Onboarding*", true);
        let off = glob("off", "Onboarding*", false);
        assert!(on.conflicts_with(&off));
        let mut other_module = off.clone();
        other_module.module = Some("Deals".to_owned());
        let mut on_contacts = on.clone();
        on_contacts.module = Some("Contacts".to_owned());
        assert!(!on_contacts.conflicts_with(&other_module));
        assert!(!on.conflicts_with(&glob("also-on", "Onboarding*", true)));
    }
}
