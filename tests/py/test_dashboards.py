"""Static checks of the Grafana dashboards in dashboards/: valid and portable JSON, stable uids,
variables, panel layout, documented panels, links between the two dashboards, and PromQL that
parses (promtool) and only uses metrics and labels the exporter exposes or Prometheus builds in."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import DASHBOARDS, REPO, Query, all_panels, substitute

OVERVIEW = "zoho-cadences-overview"
CADENCE = "zoho-cadences-cadence"
TITLES = {OVERVIEW: "Zoho CRM Cadences / Overview", CADENCE: "Zoho CRM Cadences / Cadence"}

# The exporter's metrics as the interface lists them, with the labels each carries besides the
# target labels job and instance Prometheus adds.
CADENCE_LABELS = {"org", "id", "name", "module"}
METRICS = {
    "zoho_crm_cadences": {"org", "module", "status"},
    "zoho_crm_follow_ups": {"org", "module", "channel"},
    "zoho_crm_cadence_info": CADENCE_LABELS | {"status", "enrollment", "custom_view", "created_by", "modified_by"},
    "zoho_crm_cadence_active": CADENCE_LABELS,
    "zoho_crm_cadence_published": CADENCE_LABELS,
    "zoho_crm_cadence_follow_ups": CADENCE_LABELS | {"channel"},
    "zoho_crm_cadence_created_timestamp_seconds": CADENCE_LABELS,
    "zoho_crm_cadence_modified_timestamp_seconds": CADENCE_LABELS,
    "zoho_crm_cadence_end_timestamp_seconds": CADENCE_LABELS,
    "zoho_crm_cadence_execution_interval_seconds": CADENCE_LABELS,
    "zoho_crm_cadence_expected_active": CADENCE_LABELS,
    "zoho_crm_expectation_matches": {"org", "expectation"},
    "zoho_crm_cadence_deactivations_total": {"org", "module"},
    "zoho_crm_cadence_deletions_total": {"org", "module"},
    "zoho_crm_cadence_enrolled_records": CADENCE_LABELS,
    "zoho_crm_enrolled_records": {"org", "module"},
    "zoho_crm_cadence_follow_ups_executed": CADENCE_LABELS | {"channel"},
    "zoho_crm_up": {"org"},
    "zoho_crm_collections_total": {"org"},
    "zoho_crm_collection_failures_total": {"org"},
    "zoho_crm_collection_duration_seconds": {"org"},
    "zoho_crm_last_success_timestamp_seconds": {"org"},
    "zoho_crm_api_requests_total": {"org", "endpoint", "status_code"},
    "zoho_crm_api_errors_total": {"org", "endpoint", "error"},
    "zoho_crm_api_request_duration_seconds_bucket": {"org", "endpoint", "le"},
    "zoho_crm_api_request_duration_seconds_sum": {"org", "endpoint"},
    "zoho_crm_api_request_duration_seconds_count": {"org", "endpoint"},
    "zoho_crm_oauth_token_expiry_timestamp_seconds": {"org"},
    "zoho_crm_credentials_last_read_successful": {"org"},
    "zoho_crm_api_rate_limit_remaining": {"org", "window"},
    "zoho_crm_api_rate_limit_limit": {"org", "window"},
    "zoho_crm_config_last_reload_successful": set(),
    "zoho_crm_config_last_reload_success_timestamp_seconds": set(),
    "zoho_crm_exporter_build_info": {"version", "revision", "branch", "rustversion"},
    "process_cpu_seconds_total": set(),
    "process_resident_memory_bytes": set(),
    "process_virtual_memory_bytes": set(),
    "process_open_fds": set(),
    "process_max_fds": set(),
    "process_start_time_seconds": set(),
    # Built into Prometheus. ALERTS carries the alert's own labels, which the rule files define.
    "up": set(),
    "ALERTS": None,
}
TARGET_LABELS = {"job", "instance"}

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right",
            "inf", "nan", "atan2"}
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"")
IDENT = re.compile(r"[A-Za-z_:][\w:]*")


def promql(q: Query) -> str:
    """The PromQL of a query: Grafana's variable functions unwrapped."""
    expr = q.expr
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr, re.S)
    if m:
        return m.group(1)
    m = re.fullmatch(r"query_result\((.*)\)", expr, re.S)
    if m:
        return m.group(1)
    return expr


def metric_names(expr: str) -> set[str]:
    s = STRING.sub('""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = GROUPING.sub(" ", s)
    names = set()
    for m in IDENT.finditer(s):
        before = s[m.start() - 1] if m.start() else " "
        after = s[m.end():].lstrip()
        if before.isdigit() or before == "." or after.startswith("(") or m.group(0) in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def matcher_labels(expr: str) -> list[tuple[str, set[str]]]:
    return [(m.group(1), set(MATCHER.findall(m.group(2)))) for m in SELECTOR.finditer(expr)]


def grouping_labels(expr: str) -> set[str]:
    s = STRING.sub('""', expr)
    labels = set()
    for m in GROUPING.finditer(s):
        labels |= {label.strip() for label in m.group(2).split(",") if label.strip()}
    return labels


def walk(node, path="$"):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def test_generated_files_are_up_to_date():
    """The JSON and the docs' panel reference come from dashboards/build.py."""
    r = subprocess.run([sys.executable, str(DASHBOARDS / "build.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_files_are_the_two_dashboards_with_stable_uids(dashboards):
    files = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert files == ["zoho-cadences-cadence.json", "zoho-cadences-overview.json"]
    for path in DASHBOARDS.glob("*.json"):
        d = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"{d['uid']}.json", "the file is named after its uid"
    assert set(dashboards) == {OVERVIEW, CADENCE}
    for uid, d in dashboards.items():
        assert d["title"] == TITLES[uid]
        assert len(uid) <= 40 and re.fullmatch(r"[a-z0-9-]+", uid)
        assert d["schemaVersion"] >= 39
        assert "zoho-crm-cadences" in d["tags"]
        assert d.get("id") is None, "no instance-specific numeric id"


def test_no_hard_coded_datasource(dashboards):
    for uid, d in dashboards.items():
        assert "__inputs" not in d and "__requires" not in d
        for path, key, value in walk(d):
            if key == "datasource":
                assert value in ({"type": "prometheus", "uid": "${datasource}"}, "${datasource}"), f"{uid} {path}: {value}"
            if key == "uid" and path != "$":
                assert value == "${datasource}", f"{uid} {path}: hard-coded uid {value}"


def test_variables(dashboards):
    for uid, d in dashboards.items():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        ds = variables["datasource"]
        assert ds["type"] == "datasource" and ds["query"] == "prometheus"
        for name in ("job", "org", "module"):
            v = variables[name]
            assert v["type"] == "query" and v["query"].startswith("label_values(")
            assert v["multi"] and v["includeAll"] and v["allValue"] == ".*", f"{uid} ${name}"
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        # Variables refer only to variables defined before them (Grafana resolves in order).
        seen = set()
        for v in d["templating"]["list"]:
            for m in re.finditer(r"\$(\w+)", json.dumps(v.get("query", ""))):
                assert m.group(1) in seen, f"{uid} ${v['name']} uses ${m.group(1)} before it is defined"
            seen.add(v["name"])
    cadence = {v["name"]: v for v in dashboards[CADENCE]["templating"]["list"]}["cadence"]
    assert cadence["query"].startswith("query_result(zoho_crm_cadence_active{")
    assert not cadence["multi"] and not cadence["includeAll"]


def grafana_regex(regex: str) -> re.Pattern:
    """Grafana's /.../ variable regex (JavaScript named groups) as a Python pattern."""
    assert regex.startswith("/") and regex.endswith("/")
    return re.compile(regex[1:-1].replace("(?<", "(?P<"))


def query_result_line(labels: dict[str, str], value: str = "1") -> str:
    """A line as Grafana's Prometheus query_result() lists it: labels in Prometheus' (sorted) order."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"zoho_crm_cadence_active{{{inner}}} {value} 1700000000000"


@pytest.mark.parametrize("name", ["CadenceTest1", "Onboarding, step 2 (id=5)", "name"])
def test_cadence_variable_lists_names_and_passes_ids(dashboards, name):
    cadence = {v["name"]: v for v in dashboards[CADENCE]["templating"]["list"]}["cadence"]
    line = query_result_line({"id": "3652397000017949001", "instance": "h:10263", "job": "zoho-cadences-exporter",
                              "module": "Contacts", "name": name, "org": "demo"})
    m = grafana_regex(cadence["regex"]).search(line)
    assert m and m.group("value") == "3652397000017949001" and m.group("text") == name


def test_panel_ids_unique_and_grid_not_overlapping(dashboards):
    for uid, d in dashboards.items():
        panels = list(all_panels(d))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{uid}: duplicate panel ids"
        cells = {}
        for p in panels:
            g = p["gridPos"]
            assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, f"{uid} {p['title']}"
            for x, y in itertools.product(range(g["x"], g["x"] + g["w"]), range(g["y"], g["y"] + g["h"])):
                assert (x, y) not in cells, f"{uid}: {p['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = p["title"]


def test_every_panel_is_described_and_queries_prometheus(dashboards):
    for uid, d in dashboards.items():
        for p in all_panels(d):
            if p["type"] == "row":
                continue
            assert len(p.get("description", "")) > 40 and "When it looks wrong:" in p["description"], f"{uid} {p['title']}"
            assert p["targets"], f"{uid} {p['title']} has no query"
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs))


def test_panels_documented(dashboards):
    docs = (REPO / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for uid, d in dashboards.items():
        assert f"### {d['title']}" in docs
        for p in all_panels(d):
            if p["type"] != "row":
                assert f"- **{p['title']}**" in docs, f"{p['title']} is not in docs/dashboards.md"


def test_required_panels_present(dashboards):
    """The panels the issue asks for, found by the metric each must query."""
    exprs = {uid: " ".join(t["expr"] for p in all_panels(d) for t in p.get("targets", [])) for uid, d in dashboards.items()}
    for needle in ['zoho_crm_cadences{', "zoho_crm_follow_ups{", "time() - zoho_crm_cadence_modified_timestamp_seconds",
                   "resets(zoho_crm_cadence_active", "zoho_crm_cadence_expected_active", "zoho_crm_expectation_matches",
                   'ALERTS{alertname=~"ZohoCadence.*"', "zoho_crm_up", "zoho_crm_last_success_timestamp_seconds",
                   "zoho_crm_collection_duration_seconds", "zoho_crm_api_requests_total", "zoho_crm_api_errors_total",
                   "zoho_crm_api_request_duration_seconds_bucket", "zoho_crm_oauth_token_expiry_timestamp_seconds",
                   "zoho_crm_cadence_enrolled_records", "zoho_crm_enrolled_records", "zoho_crm_cadence_follow_ups_executed"]:
        assert needle in exprs[OVERVIEW], needle
    annotations = [a["expr"] for a in dashboards[OVERVIEW]["annotations"]["list"]]
    assert any(a.startswith("resets(zoho_crm_cadence_active") for a in annotations)
    for needle in ['id="$cadence"', "zoho_crm_cadence_active", "zoho_crm_cadence_follow_ups", "zoho_crm_cadence_created_timestamp_seconds"]:
        assert needle in exprs[CADENCE], needle


def test_queries_use_only_exposed_metrics_and_labels(queries):
    for q in queries:
        expr = promql(q)
        names = metric_names(expr)
        assert names, f"{q}: no metric found in {expr!r}"
        unknown = names - METRICS.keys()
        assert not unknown, f"{q}: unknown metrics {unknown}"
        available = set(TARGET_LABELS)
        for name in names:
            available |= METRICS[name] or {"alertname", "alertstate", "severity", *CADENCE_LABELS}
        for metric, labels in matcher_labels(expr):
            if metric in METRICS and METRICS[metric] is not None:
                wrong = labels - METRICS[metric] - TARGET_LABELS
                assert not wrong, f"{q}: {metric} has no label {wrong}"
        wrong = grouping_labels(expr) - available
        assert not wrong, f"{q}: grouping by labels no metric has: {wrong}"


def test_metric_name_extraction():
    assert metric_names('sum by (module) (rate(a_total{org=~"$org", x="b{c}"}[$__rate_interval])) / on (org) b') == {"a_total", "b"}
    assert metric_names("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 1e3") == {"h_bucket"}
    assert metric_names('count(ALERTS{alertname=~"Z.*"}) or vector(0)') == {"ALERTS"}


def test_links_between_the_dashboards(dashboards):
    for uid, d in dashboards.items():
        other = dashboards[CADENCE if uid == OVERVIEW else OVERVIEW]
        reach = False
        for link in d["links"]:
            if link["type"] == "dashboards" and set(link["tags"]) <= set(other["tags"]):
                reach = True
                assert link["includeVars"] and link["keepTime"]
            if link["type"] == "link" and other["uid"] in link["url"]:
                reach = True
        assert reach, f"{uid} does not link to {other['uid']}"
    # Rows of the overview's cadence tables open the Cadence dashboard for that cadence.
    urls = [v for _, k, v in walk(dashboards[OVERVIEW]) if k == "url" and v]
    assert any(f"/d/{CADENCE}/" in u and "var-cadence=${__data.fields.id}" in u for u in urls)
    assert "var-org=${__data.fields.org}" in urls[0]


# Values the static parse check gives the variables: anything syntactically like Grafana's.
STATIC_VALUES = {"datasource": "", "job": ".*", "org": "(demo|acme)", "module": ".*", "cadence": "1",
                 "__range": "1h", "__rate_interval": "1m", "__interval": "15s"}


def test_every_query_parses(queries, tmp_path):
    """promtool parses each expression (variables substituted) as a recording rule."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package prometheus; scripts/test installs it)"
    rules = [{"record": f"dashboard:query_{i}:test", "expr": substitute(promql(q), STATIC_VALUES)} for i, q in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
