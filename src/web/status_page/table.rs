//! One org's cadence table on `/orgs/<name>`: its columns, the query that sorts, filters and
//! pages it, and the page of rows the query selects.

use crate::domain::cadence::Cadence;
use crate::web::status_page::encode_component;
use crate::web::status_page::model::{CadenceStatus, Located, OrgView};
use std::cmp::Ordering;

/// Rows per page of an org's cadence table: a page of 200 renders in about a millisecond, and
/// an org of 10,000 cadences is 50 pages.
pub const PAGE_SIZE: usize = 200;

/// The columns of an org's cadence table, each sortable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
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
    pub(crate) const ALL: [Column; 10] = [
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
    pub(crate) fn key(self) -> &'static str {
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

    pub(crate) fn title(self) -> &'static str {
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
pub(crate) struct TableQuery {
    pub(crate) sort: Column,
    pub(crate) descending: bool,
    pub(crate) module: Option<String>,
    pub(crate) status: Option<CadenceStatus>,
    /// 1-based.
    pub(crate) page: usize,
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
    pub(crate) fn parse(params: &[(String, String)]) -> Result<TableQuery, String> {
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
    pub(crate) fn href(&self) -> String {
        let mut parts = Vec::new();
        if self.sort != Column::Module || self.descending {
            parts.push(format!("sort={}", self.sort.key()));
            if self.descending {
                parts.push("order=desc".to_owned());
            }
        }
        if let Some(module) = &self.module {
            parts.push(format!("module={}", encode_component(module)));
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
    pub(crate) fn sorted_by(&self, column: Column) -> TableQuery {
        TableQuery {
            sort: column,
            descending: self.sort == column && !self.descending,
            page: 1,
            ..self.clone()
        }
    }
}

/// One page of an org's table.
pub(crate) struct TablePage<'a> {
    pub(crate) rows: Vec<Located<'a>>,
    /// Cadences that pass the filters, on every page.
    pub(crate) matching: usize,
    pub(crate) page: usize,
    pub(crate) pages: usize,
}

/// A sort key, computed once per cadence rather than at every comparison.
#[derive(PartialEq, PartialOrd)]
enum Key<'a> {
    Text(&'a str),
    Number(Option<f64>),
}

/// The cadences of `org` that pass the query's filters, sorted, and the requested page of
/// them. Ties keep the snapshot's order (module, name, id), so pages are stable.
pub(crate) fn table<'a>(org: &'a OrgView, query: &TableQuery) -> TablePage<'a> {
    let Some(snapshot) = org.snapshot() else {
        return TablePage {
            rows: Vec::new(),
            matching: 0,
            page: 1,
            pages: 1,
        };
    };
    let mut keyed: Vec<(Key<'a>, usize)> = snapshot
        .cadences()
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
            cadence: &snapshot.cadences()[index],
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
        Column::End => Key::Number(c.end.get()),
        Column::Modified => Key::Number(c.modified.get()),
        Column::ModifiedBy => Key::Text(&c.modified_by),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
