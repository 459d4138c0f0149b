//! The markup of the pages, as maud templates: every text is escaped by construction, and the
//! only raw text is the stylesheet below. Links are relative, so the pages work behind a proxy
//! that serves the exporter under a path prefix.

use crate::domain::history::{Change, LastError, MAX_CHANGES};
use crate::support::build::VERSION;
use crate::web::status_page::model::{
    unix_time, Attention, CadenceStatus, Located, OrgState, OrgView,
};
use crate::web::status_page::table::{Column, TablePage, TableQuery};
use crate::web::status_page::{ago, duration, encode_component, format_time, until};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::time::SystemTime;

/// The whole stylesheet, inline (the Content-Security-Policy allows inline styles and nothing
/// else).
const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.5em 0 .4em}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.n{text-align:right}.up{color:#060}.down,.bad{color:#a00;font-weight:600}.muted{color:#666}\
#summary{font-size:1.1em;font-weight:600}tr.attention{background:#fff0f0}nav a,.filters a{margin-right:.6em}\
.filters a.on{font-weight:700;text-decoration:none;color:#222}";

const PRODUCT: &str = "Zoho CRM Cadences Exporter";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

/// `/`: the summary, what needs attention, and every org.
pub(crate) fn index(
    orgs: &[OrgView],
    attention: &[Attention],
    summary: &str,
    metrics: &str,
    now: SystemTime,
) -> Markup {
    layout(
        &format!("{summary} \u{2014} {PRODUCT}"),
        html! {
            h1 { (PRODUCT) }
            p #summary { (summary) }
            nav {
                a href=(metrics) { "Metrics" }
                a href="./-/ready" { "Readiness" }
                span.muted { "version " (VERSION) }
            }
            h2 #attention { "Needs attention" }
            (attention_table(attention, true, now))
            h2 #orgs { "Orgs" }
            table #org-table {
                thead { tr {
                    th { "Org" } th { "State" } th { "Last success" } th { "Next collection" }
                    th { "Active" } th { "Inactive" } th { "Draft" } th { "Enrolled records" }
                    th { "Token expires" } th { "Last error" }
                } }
                tbody {
                    @for org in orgs {
                        tr {
                            td { a href=(format!("orgs/{}", encode_component(&org.name))) { (org.name) } }
                            (state_cell(org))
                            td { (time_and_age(org.status.health.last_success, now)) }
                            td { (next_collection(org, now)) }
                            @match org.counts() {
                                Some(counts) => {
                                    @for n in counts { td.n { (n) } }
                                }
                                None => { td.muted colspan="3" { (no_data(org)) } }
                            }
                            td.n { (optional(org.status.enrolled_records())) }
                            td { @match org.token_expiry {
                                Some(at) => { (format_time(at)) " " span.muted { "(" (until(now, at)) ")" } }
                                None => { span.muted { "no token cached" } }
                            } }
                            td { (last_error(org, now)) }
                        }
                    }
                }
            }
        },
    )
}

/// `/orgs/<name>`: the org's state, what needs attention there, and its cadences.
pub(crate) fn org_page(
    org: &OrgView,
    attention: &[Attention],
    table: &TablePage,
    query: &TableQuery,
    modules: &[&str],
    metrics: &str,
    now: SystemTime,
) -> Markup {
    let counts = org.counts();
    let needing = attention.iter().filter(|a| a.is_cadence()).count();
    let title = format!(
        "{}: {}, {needing} {} attention \u{2014} {PRODUCT}",
        org.name,
        state_word(org.state()),
        if needing == 1 {
            "cadence needs"
        } else {
            "cadences need"
        }
    );
    html! {
        (layout(&title, html! {
            nav { a href="../" { "All orgs" } a href=(metrics) { "Metrics" } }
            h1 { "Org " (org.name) }
            table #org-state {
                tr { th { "State" } (state_cell(org)) }
                tr { th { "Last success" } td { (time_and_age(org.status.health.last_success, now)) } }
                tr { th { "Next collection" } td { (next_collection(org, now)) } }
                tr { th { "Cadences" } td #counts { @match counts {
                    Some([active, inactive, draft]) => {
                        (active) " active, " (inactive) " inactive, " (draft) " draft"
                    }
                    None => { span.muted { (no_data(org)) } }
                } } }
                tr { th { "Enrolled records" } td { (optional(org.status.enrolled_records())) } }
                tr { th { "Last error" } td { (last_error(org, now)) } }
            }
            h2 #attention { "Needs attention" }
            (attention_table(attention, false, now))
            h2 #cadences { "Cadences" }
            @if org.snapshot().is_some() {
                (filters(query, modules))
                p #matching { (table.matching) " cadences match; page " (table.page) " of " (table.pages) }
                (cadence_table(org, table, query, now))
                (pager(query, table))
            } @else {
                p.muted { (no_data(org)) }
            }
            h2 #expectations { "Expectations" }
            (expectations(org))
            h2 #changes { "Switched off or deleted since the exporter started" }
            (changes(org, now))
        }))
    }
}

/// The page for an org that is not configured, and for a bad query.
pub(crate) fn problem(heading: &str, message: &str) -> Markup {
    layout(
        &format!("{heading} \u{2014} {PRODUCT}"),
        html! {
            nav { a href="../" { "All orgs" } }
            h1 { (heading) }
            p #problem { (message) }
        },
    )
}

fn state_word(state: OrgState) -> &'static str {
    match state {
        OrgState::Waiting => "waiting for the first collection",
        OrgState::Up => "up",
        OrgState::Down => "down",
    }
}

fn state_cell(org: &OrgView) -> Markup {
    let state = org.state();
    html! {
        td.state.up[state == OrgState::Up].down[state == OrgState::Down] { (state_word(state)) }
    }
}

fn no_data(org: &OrgView) -> &'static str {
    match org.state() {
        OrgState::Waiting => "no data yet: the first collection is under way",
        _ => "no data yet: no collection has succeeded",
    }
}

fn optional(value: Option<u64>) -> Markup {
    match value {
        Some(n) => html! { (n) },
        None => html! { span.muted { "\u{2013}" } },
    }
}

fn time_and_age(time: Option<SystemTime>, now: SystemTime) -> Markup {
    match time {
        Some(at) => html! { (format_time(at)) " " span.muted { "(" (ago(now, at)) ")" } },
        None => html! { span.muted { "never" } },
    }
}

fn next_collection(org: &OrgView, now: SystemTime) -> Markup {
    match org.status.next_collection {
        Some(at) if at > now => {
            html! { (format_time(at)) " " span.muted { "(" (until(now, at)) ")" } }
        }
        Some(_) => html! { "now" },
        None if !org.status.health.attempted => html! { "under way" },
        None => html! { span.muted { "\u{2013}" } },
    }
}

fn error_text(error: &LastError, now: SystemTime) -> Markup {
    html! {
        (format_time(error.at)) " " span.muted { "(" (ago(now, error.at)) ")" } ": "
        "step " strong.step { (error.step) } " against " code { (error.host) } ": " (error.message)
    }
}

fn last_error(org: &OrgView, now: SystemTime) -> Markup {
    match &org.status.last_error {
        Some(error) => html! {
            span.last-error.bad[!error.resolved] { (error_text(error, now)) }
            @if error.resolved { " " span.muted { "(succeeded since)" } }
        },
        None => html! { span.muted { "none" } },
    }
}

/// A link to a cadence on its org's page (the page of the default view that holds it).
fn cadence_href(org_prefix: &str, at: &Located) -> String {
    let page = OrgView::page_of(at.index);
    let query = if page > 1 {
        format!("?page={page}")
    } else {
        String::new()
    };
    format!("{org_prefix}{query}#c-{}", encode_component(&at.cadence.id))
}

fn zoho_time(seconds: Option<f64>) -> Markup {
    match seconds {
        Some(s) => html! { (format_time(unix_time(s))) },
        None => html! { span.muted { "\u{2013}" } },
    }
}

fn attention_table(rows: &[Attention], with_org: bool, now: SystemTime) -> Markup {
    if rows.is_empty() {
        return html! { p #attention-none { "Nothing needs attention." } };
    }
    html! {
        table #attention-table {
            thead { tr {
                th { "What" } @if with_org { th { "Org" } } th { "Cadence or expectation" } th { "Details" }
            } }
            tbody { @for row in rows { (attention_row(row, with_org, now)) } }
        }
    }
}

fn attention_row(row: &Attention, with_org: bool, now: SystemTime) -> Markup {
    let org = match row {
        Attention::OrgDown { org }
        | Attention::UnexpectedlyInactive { org, .. }
        | Attention::ExpectationMatchesNothing { org, .. }
        | Attention::Changed { org, .. } => org,
    };
    // From `/` an org's page is `orgs/<name>`; on the org's own page, links stay on it.
    let prefix = if with_org {
        format!("orgs/{}", encode_component(&org.name))
    } else {
        String::new()
    };
    let org_link = &prefix; // shown only on `/`
    html! {
        tr.attention-row {
            @match row {
                Attention::OrgDown { .. } => {
                    td.bad { "org down" }
                    @if with_org { td { a href=(org_link) { (org.name) } } }
                    td.muted { "\u{2013}" }
                    td {
                        "last success: " (time_and_age(org.status.health.last_success, now))
                        @if let Some(error) = &org.status.last_error { "; last error: " (error_text(error, now)) }
                    }
                }
                Attention::UnexpectedlyInactive { at, since, .. } => {
                    td.bad { "unexpectedly inactive" }
                    @if with_org { td { a href=(org_link) { (org.name) } } }
                    td { a href=(cadence_href(&prefix, at)) { (at.cadence.name) } " " span.muted { "(" (at.cadence.module) ")" } }
                    td {
                        "an expectation requires it to be active; it is " (CadenceStatus::of(at.cadence).as_str())
                        @match since {
                            Some(since) if since.from_first_snapshot => {
                                " for at least " (duration(now, since.at)) " (already when first collected)"
                            }
                            Some(since) => { " for " (duration(now, since.at)) " (since " (format_time(since.at)) ")" }
                            None => {}
                        }
                        "; last modified " (zoho_time(at.cadence.modified.get())) " by " (at.cadence.modified_by)
                    }
                }
                Attention::ExpectationMatchesNothing { expectation, .. } => {
                    td.bad { "expectation matches nothing" }
                    @if with_org { td { a href=(org_link) { (org.name) } } }
                    td { a href=(format!("{prefix}#expectations")) { (expectation.name) } }
                    td { "no cadence of this org matches it: renamed, deleted or moved to another module?" }
                }
                Attention::Changed { change, at, .. } => {
                    td.bad { (change.kind.as_str()) " since start" }
                    @if with_org { td { a href=(org_link) { (org.name) } } }
                    td { @match at {
                        Some(at) => { a href=(cadence_href(&prefix, at)) { (change.name) } }
                        None => { a href=(format!("{prefix}#changes")) { (change.name) } }
                    } " " span.muted { "(" (change.module) ")" } }
                    td { (change_details(change, now)) }
                }
            }
        }
    }
}

fn change_details(change: &Change, now: SystemTime) -> Markup {
    html! {
        "seen " (format_time(change.seen_at)) " " span.muted { "(" (ago(now, change.seen_at)) ")" }
        "; modified_by " strong.modified-by { (change.modified_by) }
        ", modified_time " span.modified-time { (zoho_time(change.modified)) }
    }
}

fn filters(query: &TableQuery, modules: &[&str]) -> Markup {
    let module_link = |module: Option<&str>| TableQuery {
        module: module.map(str::to_owned),
        page: 1,
        ..query.clone()
    };
    let status_link = |status: Option<CadenceStatus>| TableQuery {
        status,
        page: 1,
        ..query.clone()
    };
    html! {
        p.filters #module-filter {
            "Module: "
            a.on[query.module.is_none()] href=(module_link(None).href()) { "all" }
            @for module in modules {
                a.on[query.module.as_deref() == Some(*module)] href=(module_link(Some(module)).href()) { (module) }
            }
        }
        p.filters #status-filter {
            "Status: "
            a.on[query.status.is_none()] href=(status_link(None).href()) { "all" }
            @for status in CadenceStatus::ALL {
                a.on[query.status == Some(status)] href=(status_link(Some(status)).href()) { (status.as_str()) }
            }
        }
    }
}

fn cadence_table(org: &OrgView, table: &TablePage, query: &TableQuery, now: SystemTime) -> Markup {
    let analytics = org.status.follow_ups_executed.is_some();
    let columns: Vec<Column> = Column::ALL
        .into_iter()
        .filter(|c| analytics || *c != Column::Executed)
        .collect();
    html! {
        table #cadence-table {
            thead { tr {
                @for column in &columns {
                    th { a href=(query.sorted_by(*column).href()) { (column.title()) }
                        @if query.sort == *column { (if query.descending { " \u{25bc}" } else { " \u{25b2}" }) } }
                }
            } }
            tbody {
                @for at in &table.rows {
                    (cadence_row(org, at, analytics, now))
                }
            }
        }
    }
}

fn cadence_row(org: &OrgView, at: &Located, analytics: bool, now: SystemTime) -> Markup {
    let c = at.cadence;
    let status = CadenceStatus::of(c);
    let expected = org.expected(at.index);
    let wrong = expected.is_some_and(|e| e != (status == CadenceStatus::Active));
    html! {
        tr.cadence.attention[wrong] id=(format!("c-{}", c.id)) {
            td.name { (c.name) }
            td { (c.module) }
            td.status.bad[wrong] {
                (status.as_str())
                @if let Some(since) = org.status.history.inactive_since(&c.id) {
                    @if wrong { " " span.muted { "(" (duration(now, since.at)) ")" } }
                }
            }
            td { @match expected { Some(true) => "active", Some(false) => "inactive", None => span.muted { "\u{2013}" } } }
            td { (channels(c.follow_ups.iter().map(|(ch, n)| (&**ch, *n)))) }
            td.n { (optional(org.enrolled(c))) }
            @if analytics {
                td { @match org.executed(c) {
                    Some(executed) => (channels(executed.iter().map(|(ch, n)| (ch.as_str(), *n)))),
                    None => span.muted { "\u{2013}" },
                } }
            }
            td { @match c.end.get() { Some(end) => { (format_time(unix_time(end)).get(..10).unwrap_or_default()) } None => span.muted { "\u{2013}" } } }
            td { (zoho_time(c.modified.get())) }
            td { (c.modified_by) }
        }
    }
}

fn channels<'a>(counts: impl Iterator<Item = (&'a str, u64)>) -> Markup {
    let text: Vec<String> = counts.map(|(ch, n)| format!("{ch} {n}")).collect();
    html! { (text.join(", ")) }
}

fn pager(query: &TableQuery, table: &TablePage) -> Markup {
    let to = |page| {
        TableQuery {
            page,
            ..query.clone()
        }
        .href()
    };
    html! {
        p.pager #pager {
            @if table.page > 1 {
                a rel="prev" href=(to(table.page - 1)) { "\u{2039} previous" } " "
            }
            "page " (table.page) " of " (table.pages)
            @if table.page < table.pages {
                " " a rel="next" href=(to(table.page + 1)) { "next \u{203a}" }
            }
        }
    }
}

fn expectations(org: &OrgView) -> Markup {
    let Some(evaluation) = org.evaluation() else {
        return html! { p.muted { (no_data(org)) } };
    };
    if org.expectations.is_empty() {
        return html! { p.muted { "No expectation applies to this org." } };
    }
    html! {
        table #expectation-table {
            thead { tr { th { "Expectation" } th { "Requires" } th { "Cadences matched" } } }
            tbody {
                @for (expectation, (_, matched)) in org.expectations.iter().zip(&evaluation.matches) {
                    tr {
                        td { (expectation.name) }
                        td { (if expectation.active { "active" } else { "inactive" }) }
                        td.n.bad[*matched == 0] { (matched) }
                    }
                }
            }
        }
    }
}

fn changes(org: &OrgView, now: SystemTime) -> Markup {
    let changes: Vec<&Change> = org.status.history.changes().collect();
    if changes.is_empty() {
        return html! { p.muted { "None seen." } };
    }
    html! {
        table #change-table {
            thead { tr { th { "Change" } th { "Cadence" } th { "Module" } th { "Details" } } }
            tbody {
                @for change in changes {
                    tr {
                        td { (change.kind.as_str()) }
                        td { (change.name) }
                        td { (change.module) }
                        td { (change_details(change, now)) }
                    }
                }
            }
        }
        p.muted { "The last " (MAX_CHANGES) " changes are kept." }
    }
}
