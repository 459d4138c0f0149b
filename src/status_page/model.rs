//! What the pages show, computed from the shared state apart from any markup: each org's
//! state and counts, the list of what needs attention, and one org's cadence table (filtered,
//! sorted, paged).

use crate::expectations::{evaluate, Evaluation, Expectation};
use crate::history::{Change, InactiveSince, LastError, Pass};
use crate::snapshot::{Cadence, OrgSnapshot, Status};
use crate::state::OrgStatus;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

/// Rows per page of an org's cadence table: a page of 200 renders in about a millisecond, and
/// an org of 10,000 cadences is 50 pages.
pub const PAGE_SIZE: usize = 200;

/// A cadence's status as the pages name, count and filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CadenceStatus {
    Active,
    Inactive,
    Draft,
}

impl CadenceStatus {
    pub const ALL: [CadenceStatus; 3] = [
        CadenceStatus::Active,
        CadenceStatus::Inactive,
        CadenceStatus::Draft,
    ];

    /// The one place that classifies a cadence for the pages: the counts, the filter and the
    /// table follow it.
    pub fn of(cadence: &Cadence) -> CadenceStatus {
        match cadence.status {
            Status::Active => CadenceStatus::Active,
            Status::Draft => CadenceStatus::Draft,
            // A status Zoho's specification does not list is not running: the pages count it
            // with the inactive ones (the metrics keep its own label value).
            Status::Inactive | Status::Other(_) => CadenceStatus::Inactive,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CadenceStatus::Active => "active",
            CadenceStatus::Inactive => "inactive",
            CadenceStatus::Draft => "draft",
        }
    }

    pub fn parse(text: &str) -> Option<CadenceStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Cadences per status, in [`CadenceStatus::ALL`] order.
pub fn count_by_status(statuses: impl IntoIterator<Item = CadenceStatus>) -> [u64; 3] {
    let mut counts = [0; 3];
    for status in statuses {
        counts[status as usize] += 1;
    }
    counts
}

/// One org as the pages see it: its status and the expectations evaluated on its snapshot.
pub struct OrgView {
    pub name: String,
    pub status: OrgStatus,
    /// The expectations that apply to this org, in config order.
    pub expectations: Vec<Expectation>,
    /// `None` until the org has a snapshot.
    pub evaluation: Option<Evaluation>,
    pub token_expiry: Option<SystemTime>,
}

impl OrgView {
    pub fn new(
        name: String,
        status: OrgStatus,
        expectations: &[Expectation],
        token_expiry: Option<f64>,
    ) -> OrgView {
        let applicable: Vec<Expectation> = expectations
            .iter()
            .filter(|e| e.org.as_deref().is_none_or(|o| o == name))
            .cloned()
            .collect();
        let evaluation = status
            .snapshot
            .as_ref()
            .map(|s| evaluate(&applicable, &name, &s.cadences));
        OrgView {
            name,
            status,
            expectations: applicable,
            evaluation,
            token_expiry: token_expiry.map(unix_time),
        }
    }

    pub fn snapshot(&self) -> Option<&OrgSnapshot> {
        self.status.snapshot.as_deref()
    }

    pub fn state(&self) -> OrgState {
        match (self.status.attempted, self.status.up) {
            (false, _) => OrgState::Waiting,
            (true, true) => OrgState::Up,
            (true, false) => OrgState::Down,
        }
    }

    /// Cadences per status, or `None` before the first complete collection.
    pub fn counts(&self) -> Option<[u64; 3]> {
        self.snapshot()
            .map(|s| count_by_status(s.cadences.iter().map(CadenceStatus::of)))
    }

    /// The state an expectation requires of the cadence at `index` of the snapshot.
    pub fn expected(&self, index: usize) -> Option<bool> {
        self.evaluation
            .as_ref()
            .and_then(|e| e.expected_active.get(index).copied().flatten())
    }

    pub fn enrolled(&self, cadence: &Cadence) -> Option<u64> {
        self.status
            .enrollment
            .as_ref()
            .map(|e| e.counts.get(&*cadence.id).copied().unwrap_or(0))
    }

    /// Follow-ups the cadence executed per channel, when analytics is on and has a result.
    pub fn executed(&self, cadence: &Cadence) -> Option<&BTreeMap<String, u64>> {
        self.status
            .follow_ups_executed
            .as_ref()
            .and_then(|f| f.per_cadence.get(&*cadence.id))
    }

    /// Whether a pass of the failed kind succeeded after the last error.
    pub fn error_resolved(&self, error: &LastError) -> bool {
        let later = |time: Option<SystemTime>| time.is_some_and(|t| t > error.at);
        match error.pass {
            Pass::Collection => later(self.status.last_success),
            Pass::Enrollment => later(self.status.enrollment.as_ref().and_then(|e| e.completed_at)),
            Pass::Analytics => later(
                self.status
                    .follow_ups_executed
                    .as_ref()
                    .and_then(|f| f.completed_at),
            ),
        }
    }

    /// The 1-based page of the default table view that shows the cadence at `index`.
    pub fn page_of(index: usize) -> usize {
        index / PAGE_SIZE + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgState {
    Waiting,
    Up,
    Down,
}

/// Where a cadence of the current snapshot sits: what a link to it needs.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub cadence: &'a Cadence,
    pub index: usize,
}

/// One entry of "Needs attention", most urgent kinds first.
pub enum Attention<'a> {
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
    pub fn is_cadence(&self) -> bool {
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
pub fn attention(orgs: &[OrgView]) -> Vec<Attention<'_>> {
    let mut down = Vec::new();
    let mut inactive = Vec::new();
    let mut unmatched = Vec::new();
    let mut changed = Vec::new();
    for org in orgs {
        if org.state() == OrgState::Down {
            down.push(Attention::OrgDown { org });
        }
        let (Some(snapshot), Some(evaluation)) = (org.snapshot(), &org.evaluation) else {
            continue;
        };
        let mut listed: HashSet<&str> = HashSet::new();
        for (index, cadence) in snapshot.cadences.iter().enumerate() {
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
            .cadences
            .iter()
            .enumerate()
            .map(|(index, c)| (&*c.id, index))
            .collect();
        for change in org.status.history.changes() {
            if !listed.insert(&change.id) {
                continue; // listed above, or a newer change of it is
            }
            let at = by_id.get(&*change.id).map(|&index| Located {
                cadence: &snapshot.cadences[index],
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
pub fn summary(orgs: &[OrgView], attention: &[Attention]) -> String {
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

// ---------------------------------------------------------------------------------------------
// One org's table

/// The columns of an org's cadence table, each sortable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    Module,
    Status,
    Expected,
    FollowUps,
    Enrolled,
    Executed,
    End,
    Modified,
    ModifiedBy,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Name,
        Column::Module,
        Column::Status,
        Column::Expected,
        Column::FollowUps,
        Column::Enrolled,
        Column::Executed,
        Column::End,
        Column::Modified,
        Column::ModifiedBy,
    ];

    /// The name in the `sort` query parameter.
    pub fn key(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Module => "module",
            Column::Status => "status",
            Column::Expected => "expected",
            Column::FollowUps => "follow_ups",
            Column::Enrolled => "enrolled",
            Column::Executed => "executed",
            Column::End => "end",
            Column::Modified => "modified",
            Column::ModifiedBy => "modified_by",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "Name",
            Column::Module => "Module",
            Column::Status => "Status",
            Column::Expected => "Expected",
            Column::FollowUps => "Follow-ups",
            Column::Enrolled => "Enrolled records",
            Column::Executed => "Executed follow-ups",
            Column::End => "End date",
            Column::Modified => "Last modified",
            Column::ModifiedBy => "Modified by",
        }
    }
}

/// What the query of `/orgs/<name>` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuery {
    pub sort: Column,
    pub descending: bool,
    pub module: Option<String>,
    pub status: Option<CadenceStatus>,
    /// 1-based.
    pub page: usize,
}

impl Default for TableQuery {
    /// The snapshot's own order: by module, then name.
    fn default() -> Self {
        TableQuery {
            sort: Column::Module,
            descending: false,
            module: None,
            status: None,
            page: 1,
        }
    }
}

impl TableQuery {
    /// Reads `sort`, `order`, `module`, `status` and `page`; other parameters are ignored. A
    /// bad value is an error naming the parameter, the value and what is allowed.
    pub fn parse(params: &[(String, String)]) -> Result<TableQuery, String> {
        let mut query = TableQuery::default();
        for (name, value) in params {
            match name.as_str() {
                "sort" => {
                    query.sort = Column::ALL
                        .into_iter()
                        .find(|c| c.key() == value)
                        .ok_or_else(|| {
                            let keys: Vec<&str> = Column::ALL.iter().map(|c| c.key()).collect();
                            format!(
                                "sort: unknown column {value:?} (one of {})",
                                keys.join(", ")
                            )
                        })?
                }
                "order" => {
                    query.descending = match value.as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(format!("order: {value:?} is neither asc nor desc")),
                    }
                }
                "module" if !value.is_empty() => query.module = Some(value.clone()),
                "status" if !value.is_empty() => {
                    query.status = Some(CadenceStatus::parse(value).ok_or_else(|| {
                        format!("status: {value:?} is not one of active, inactive, draft")
                    })?)
                }
                "page" => {
                    query.page = value.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                        format!("page: {value:?} is not a page number (1, 2, ...)")
                    })?
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// This query as a query string (`?...`, or `?` alone for the default view).
    pub fn href(&self) -> String {
        let mut parts = Vec::new();
        if self.sort != Column::Module || self.descending {
            parts.push(format!("sort={}", self.sort.key()));
            if self.descending {
                parts.push("order=desc".to_owned());
            }
        }
        if let Some(module) = &self.module {
            parts.push(format!("module={}", super::encode_component(module)));
        }
        if let Some(status) = self.status {
            parts.push(format!("status={}", status.as_str()));
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        format!("?{}", parts.join("&"))
    }

    /// The link of a column header: sorts by it, ascending, or descending when it already
    /// sorts ascending; back to the first page.
    pub fn sorted_by(&self, column: Column) -> TableQuery {
        TableQuery {
            sort: column,
            descending: self.sort == column && !self.descending,
            page: 1,
            ..self.clone()
        }
    }
}

/// One page of an org's table.
pub struct TablePage<'a> {
    pub rows: Vec<Located<'a>>,
    /// Cadences that pass the filters, on every page.
    pub matching: usize,
    pub page: usize,
    pub pages: usize,
}

/// A sort key, computed once per cadence rather than at every comparison.
#[derive(PartialEq, PartialOrd)]
enum Key<'a> {
    Text(&'a str),
    Number(Option<f64>),
}

/// The cadences of `org` that pass the query's filters, sorted, and the requested page of
/// them. Ties keep the snapshot's order (module, name, id), so pages are stable.
pub fn table<'a>(org: &'a OrgView, query: &TableQuery) -> TablePage<'a> {
    let Some(snapshot) = org.snapshot() else {
        return TablePage {
            rows: Vec::new(),
            matching: 0,
            page: 1,
            pages: 1,
        };
    };
    let mut keyed: Vec<(Key<'a>, usize)> = snapshot
        .cadences
        .iter()
        .enumerate()
        .filter(|(_, c)| query.module.as_deref().is_none_or(|m| m == &*c.module))
        .filter(|(_, c)| query.status.is_none_or(|s| s == CadenceStatus::of(c)))
        .map(|(index, c)| (sort_key(org, query.sort, index, c), index))
        .collect();
    keyed.sort_by(|(a, ai), (b, bi)| {
        let by_key = a.partial_cmp(b).unwrap_or(Ordering::Equal);
        let by_key = if query.descending {
            by_key.reverse()
        } else {
            by_key
        };
        by_key.then(ai.cmp(bi))
    });
    let matching = keyed.len();
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.min(pages);
    let rows = keyed
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|(_, index)| Located {
            cadence: &snapshot.cadences[index],
            index,
        })
        .collect();
    TablePage {
        rows,
        matching,
        page,
        pages,
    }
}

fn sort_key<'a>(org: &'a OrgView, column: Column, index: usize, c: &'a Cadence) -> Key<'a> {
    let number = |n: Option<u64>| Key::Number(n.map(|n| n as f64));
    match column {
        Column::Name => Key::Text(&c.name),
        // The snapshot is sorted by module, then name: the index is that order.
        Column::Module => Key::Text(&c.module),
        Column::Status => Key::Number(Some(CadenceStatus::of(c) as u8 as f64)),
        Column::Expected => Key::Number(org.expected(index).map(|b| f64::from(u8::from(b)))),
        Column::FollowUps => number(Some(c.follow_ups.iter().map(|(_, n)| n).sum())),
        Column::Enrolled => number(org.enrolled(c)),
        Column::Executed => number(org.executed(c).map(|m| m.values().sum())),
        Column::End => Key::Number(c.end),
        Column::Modified => Key::Number(c.modified),
        Column::ModifiedBy => Key::Text(&c.modified_by),
    }
}

/// A Unix time in seconds (Zoho's times, the token expiry) as a `SystemTime`.
pub fn unix_time(seconds: f64) -> SystemTime {
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

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn queries_parse_and_round_trip() {
        let query = TableQuery::parse(&params(&[
            ("sort", "enrolled"),
            ("order", "desc"),
            ("module", "Leads & Co"),
            ("status", "inactive"),
            ("page", "3"),
            ("utm_source", "ignored"),
        ]))
        .unwrap();
        assert_eq!(
            query,
            TableQuery {
                sort: Column::Enrolled,
                descending: true,
                module: Some("Leads & Co".to_owned()),
                status: Some(CadenceStatus::Inactive),
                page: 3,
            }
        );
        assert_eq!(
            query.href(),
            "?sort=enrolled&order=desc&module=Leads%20%26%20Co&status=inactive&page=3"
        );
        assert_eq!(TableQuery::default().href(), "?");
        let header = query.sorted_by(Column::Enrolled);
        assert!(!header.descending && header.page == 1);
        assert!(query
            .sorted_by(Column::Name)
            .href()
            .starts_with("?sort=name&module="));
    }

    #[test]
    fn bad_query_values_are_named() {
        for (pair, expected) in [
            (("sort", "colour"), "sort: unknown column \"colour\""),
            (("order", "up"), "order: \"up\""),
            (("status", "paused"), "status: \"paused\""),
            (("page", "0"), "page: \"0\""),
        ] {
            let err = TableQuery::parse(&params(&[pair])).unwrap_err();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
