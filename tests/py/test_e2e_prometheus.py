"""End to end: Debian's Prometheus, configured from examples/prometheus.yml with the project's
alert rules, scrapes the exporter in --demo mode; the target must be up, every rule group healthy,
and every dashboard query (variables substituted) must evaluate without error and return data,
except the few listed in EXCEPTIONS, each with its reason and a check that the reason holds."""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import REPO, Process, Query, free_port, http_get, stop, substitute, wait_until

EXAMPLE = REPO / "examples" / "prometheus.yml"
JOB = "zoho-cadences-exporter"
PROMETHEUS = "/usr/bin/prometheus"
BUDGET_SECONDS = 120  # the whole module, from starting the exporter to the last assertion
OVERVIEW = "zoho-cadences-overview"
CADENCE = "zoho-cadences-cadence"
# Demo cadences the Cadence dashboard is evaluated for: the flapping one the demo's expectation
# guards, one with an end date, and one of Zoho's samples, which no expectation covers.
DEMO_CADENCES = ("Demo Flapping Follow-up", "Trade Show Leads 2025", "CadenceTest1")


# ---------------------------------------------------------------------------------------------
# Fixtures: a deadline for the module, Prometheus scraping the demo exporter
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deadline() -> float:
    return time.monotonic() + BUDGET_SECONDS


def derived_config(example: dict, exporter_port: int) -> dict:
    """examples/prometheus.yml with fast intervals, absolute rule paths and the test's target."""
    config = json.loads(json.dumps(example))
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str((EXAMPLE.parent / r).resolve()) for r in example["rule_files"]]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    job.pop("scrape_interval", None)
    job["scrape_timeout"] = "1s"
    job["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    return config


@pytest.fixture(scope="module")
def prometheus(deadline, demo_exporter: Process, tmp_path_factory) -> Process:
    assert Path(PROMETHEUS).is_file(), "Debian's prometheus is missing: scripts/test installs it (apt-get install prometheus)"
    config = derived_config(yaml.safe_load(EXAMPLE.read_text()), demo_exporter.port)
    yield from run_prometheus(tmp_path_factory.mktemp("prometheus"), config, deadline)


def run_prometheus(home: Path, config: dict, deadline: float):
    """Debian's Prometheus on a free loopback port with `config`, its data in `home`: yields it
    once ready, and stops it after."""
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = home / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    p = Process(proc, f"http://127.0.0.1:{port}", port, log)
    try:
        wait_until(lambda: http_get(p.base_url + "/-/ready")[0] == 200, deadline, "prometheus /-/ready", p)
        yield p
    finally:
        stop(proc)


def api(prom: Process, path: str, **params) -> dict:
    url = f"{prom.base_url}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    status, body = http_get(url, timeout=10)
    assert body, f"no answer from {url} ({status})"
    answer = json.loads(body)
    return answer


# ---------------------------------------------------------------------------------------------
# What the exporter exposes right now (the exceptions' reasons are checked against it)
# ---------------------------------------------------------------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def exporter_series(exporter: Process) -> list[tuple[str, dict[str, str]]]:
    status, body = http_get(exporter.base_url + "/metrics")
    assert status == 200
    out = []
    for line in body.decode().splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(LABEL.findall(m.group(2) or ""))))
    return out


@dataclass
class Context:
    exporter: Process
    prometheus: Process
    values: dict[str, str]

    def exposes(self, metric: str, **labels: str) -> bool:
        return any(n == metric and all(ls.get(k) == v for k, v in labels.items()) for n, ls in exporter_series(self.exporter))

    def prom_sum(self, expr: str) -> float:
        r = api(self.prometheus, "query", query=f"sum({expr})")
        assert r["status"] == "success", r
        return sum(float(s["value"][1]) for s in r["data"]["result"])


# ---------------------------------------------------------------------------------------------
# Queries that may legitimately return nothing against a fresh demo, and why
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exception_:
    dashboard: str
    where: str  # regular expression on Query.where
    reason: str
    holds: Callable[[Context], bool]  # checks, at the time of the empty answer, that the reason is true

    def covers(self, q: Query) -> bool:
        return q.dashboard == self.dashboard and re.fullmatch(self.where, q.where) is not None


NO_DEACTIVATION_YET = (
    "no cadence has gone from on to off since Prometheus started: the demo first switches its flapping cadence "
    "off 40 s after start, and a query evaluated before that (or before Prometheus scraped it) is empty; the "
    "query is the one the table's rows come from"
)
EXCEPTIONS = [
    Exception_(OVERVIEW, r"Cadences deactivated in range \[[AB]\]|annotation Cadence deactivated", NO_DEACTIVATION_YET,
               lambda c: c.prom_sum("resets(zoho_crm_cadence_active[1h])") == 0),
    Exception_(CADENCE, r"annotation Cadence deactivated", NO_DEACTIVATION_YET,
               lambda c: c.prom_sum("resets(zoho_crm_cadence_active[1h])") == 0),
    Exception_(CADENCE, r"annotation Cadence edited",
               "no cadence was edited since Prometheus started: the demo changes only the flapping cadence's state",
               lambda c: c.prom_sum("changes(zoho_crm_cadence_modified_timestamp_seconds[1h])") == 0),
    Exception_(OVERVIEW, r"annotation Exporter restarted",
               "the exporter has not restarted during the test",
               lambda c: c.prom_sum("changes(process_start_time_seconds[1h])") == 0),
    Exception_(OVERVIEW, r"Cadence alerts \[A\]",
               "no ZohoCadence alert is pending or firing yet: in a healthy fresh demo nothing is wrong until the "
               "flapping cadence is first switched off, 40 s after start",
               lambda c: not any(a["labels"]["alertname"].startswith("ZohoCadence")
                                 for a in api(c.prometheus, "alerts")["data"]["alerts"])),
    Exception_(CADENCE, r"Alerts for this cadence \[A\]",
               "no alert is pending or firing for this cadence (see the overview's Cadence alerts)",
               lambda c: not any(a["labels"].get("id") == c.values["cadence"]
                                 for a in api(c.prometheus, "alerts")["data"]["alerts"])),
    Exception_(OVERVIEW, r"Deactivations and deletions per module \[A\]",
               "the exporter exposes a module's deactivation counter once it has seen a deactivation there; none yet",
               lambda c: not c.exposes("zoho_crm_cadence_deactivations_total")),
    Exception_(OVERVIEW, r"Deactivations and deletions per module \[B\]",
               "the exporter exposes a module's deletion counter once it has seen a deletion there; the demo deletes nothing",
               lambda c: not c.exposes("zoho_crm_cadence_deletions_total")),
    Exception_(OVERVIEW, r"API errors by code \[A\]",
               "the demo's simulated Zoho answers every request, so no error counter exists",
               lambda c: not c.exposes("zoho_crm_api_errors_total")),
    Exception_(OVERVIEW, r"Enrolled records per (module|cadence) \[A\]",
               "the demo does not collect enrollment (records_count), so no enrolled-records metric is exposed",
               lambda c: not c.exposes("zoho_crm_enrolled_records") and not c.exposes("zoho_crm_cadence_enrolled_records")),
    Exception_(CADENCE, r"Enrolled records( over time)? \[A\]",
               "the demo does not collect enrollment, so no enrolled-records metric is exposed for this cadence",
               lambda c: not c.exposes("zoho_crm_cadence_enrolled_records", id=c.values["cadence"])),
    Exception_(OVERVIEW, r"Executed follow-ups (by channel|per cadence) \[A\]",
               "analytics collection is off (the default, also in the demo), so no executed follow-ups are exposed",
               lambda c: not c.exposes("zoho_crm_cadence_follow_ups_executed")),
    Exception_(CADENCE, r"Executed follow-ups( by channel| over time)? \[A\]",
               "analytics collection is off (the default, also in the demo), so no executed follow-ups are exposed",
               lambda c: not c.exposes("zoho_crm_cadence_follow_ups_executed", id=c.values["cadence"])),
    Exception_(CADENCE, r"Expected state \[A\]|State history \[B\]",
               "no expectation covers this cadence (the stat then reads “no expectation”)",
               lambda c: not c.exposes("zoho_crm_cadence_expected_active", id=c.values["cadence"])),
    Exception_(CADENCE, r"Ends in \[A\]",
               "this cadence has no end date (the stat then reads “no end date”)",
               lambda c: not c.exposes("zoho_crm_cadence_end_timestamp_seconds", id=c.values["cadence"])),
    Exception_(CADENCE, r"Execution interval \[A\]",
               "Zoho sent no execution interval for this cadence (the stat then reads “not set”)",
               lambda c: not c.exposes("zoho_crm_cadence_execution_interval_seconds", id=c.values["cadence"])),
]


# ---------------------------------------------------------------------------------------------
# Evaluating a dashboard query the way Grafana sends it
# ---------------------------------------------------------------------------------------------

GRAFANA_VARIABLES = {"datasource": "", "__range": "1h", "__rate_interval": "1m", "__interval": "15s"}


def variants(cadence_ids: dict[str, str]) -> list[dict[str, str]]:
    """Variable values: everything selected (All is `.*`), and specific selections formatted as Grafana
    formats multi-value regex variables; the cadence once for each demo cadence."""
    out = []
    for cadence in cadence_ids.values():
        out.append({**GRAFANA_VARIABLES, "job": ".*", "org": ".*", "module": ".*", "cadence": cadence})
        out.append({**GRAFANA_VARIABLES, "job": JOB, "org": "demo", "module": "(Contacts|Leads)", "cadence": cadence})
    return out


def unwrap_variable(expr: str) -> tuple[str, str | None, bool]:
    """(PromQL, label for label_values, whether it is query_result)."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr, re.S)
    if m:
        return m.group(1), m.group(2), False
    m = re.fullmatch(r"query_result\((.*)\)", expr, re.S)
    if m:
        return m.group(1), None, True
    raise AssertionError(f"unsupported variable query {expr!r}")


def evaluate(prom: Process, q: Query, values: dict[str, str], variable: dict | None) -> tuple[str | None, bool]:
    """(error or None, whether data came back)."""
    now = time.time()
    if q.kind == "variable":
        expr, label, listing = unwrap_variable(substitute(q.expr, values))
        r = api(prom, "query", query=expr, time=now)
    else:
        expr = substitute(q.expr, values)
        if q.kind == "instant":
            r = api(prom, "query", query=expr, time=now)
        else:
            step = 60 if q.kind == "annotation" else 2
            r = api(prom, "query_range", query=expr, start=now - 600, end=now, step=step)
    if r.get("status") != "success":
        return f"{r.get('errorType')}: {r.get('error')} in {expr}", False
    if r.get("warnings"):
        return f"warnings {r['warnings']} in {expr}", False
    result = r["data"]["result"]
    if r["data"]["resultType"] == "scalar":
        return None, True
    if q.kind == "variable":
        if label:
            return None, any(label in s["metric"] for s in result)
        return None, bool(grafana_options(result, variable["regex"]))
    return None, bool(result)


def grafana_options(result: list[dict], regex: str) -> list[tuple[str, str]]:
    """The (text, value) options Grafana derives from a query_result() variable."""
    pattern = re.compile(regex[1:-1].replace("(?<", "(?P<"))
    options = []
    for s in result:
        labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
        line = s["metric"].get("__name__", "") + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        line += f" {s['value'][1]} {int(s['value'][0] * 1000)}"
        m = pattern.search(line)
        if m:
            options.append((m.group("text"), m.group("value")))
    return options


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_example_config_is_what_the_readme_promises():
    example = yaml.safe_load(EXAMPLE.read_text())
    (job,) = [j for j in example["scrape_configs"] if j["job_name"] == JOB]
    assert job["static_configs"] == [{"targets": ["localhost:10263"]}]
    assert example["rule_files"] == ["../alerts/*.yml"]
    rule_files = glob.glob(str(EXAMPLE.parent / "../alerts/*.yml"))
    assert rule_files, "examples/prometheus.yml loads no rule file"
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package prometheus)"
    r = subprocess.run([promtool, "check", "config", str(EXAMPLE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_target_is_up(prometheus, deadline):
    def up():
        targets = api(prometheus, "targets", state="active")["data"]["activeTargets"]
        mine = [t for t in targets if t["labels"].get("job") == JOB]
        return mine and all(t["health"] == "up" for t in mine) and mine

    (target,) = wait_until(up, deadline, f"the {JOB} target to be up", prometheus)
    assert target["lastError"] == ""


def test_every_rule_group_is_healthy(prometheus, deadline):
    expected_groups = set()
    for path in glob.glob(str(EXAMPLE.parent / "../alerts/*.yml")):
        expected_groups |= {g["name"] for g in yaml.safe_load(Path(path).read_text())["groups"]}
    assert expected_groups

    def evaluated():
        groups = api(prometheus, "rules")["data"]["groups"]
        for g in groups:
            for rule in g["rules"]:
                assert rule["health"] != "err" and not rule.get("lastError"), f"{g['name']}/{rule['name']}: {rule.get('lastError')}"
        done = all(rule["health"] == "ok" for g in groups for rule in g["rules"])
        return done and groups

    groups = wait_until(evaluated, deadline, "every rule to be evaluated", prometheus)
    assert {g["name"] for g in groups} == expected_groups
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert all(a.startswith("ZohoCadence") for a in alerts) and alerts


def test_every_dashboard_query_returns_data(prometheus, demo_exporter, deadline, queries, dashboards):
    series = exporter_series(demo_exporter)
    cadence_ids = {name: ls["id"] for n, ls in series if n == "zoho_crm_cadence_info" for name in DEMO_CADENCES if ls["name"] == name}
    assert set(cadence_ids) == set(DEMO_CADENCES), f"demo cadences missing from /metrics: {cadence_ids}"
    for e in EXCEPTIONS:
        assert any(e.covers(q) for q in queries), f"exception matches no query: {e.dashboard} {e.where}"
    variables = {(uid, v["name"]): v for uid, d in dashboards.items() for v in d["templating"]["list"]}

    todo = [(q, values) for values in variants(cadence_ids) for q in queries
            if q.dashboard == CADENCE or values["cadence"] == cadence_ids[DEMO_CADENCES[0]]]
    excused: dict[str, str] = {}
    while True:
        pending = []
        for q, values in todo:
            variable = variables.get((q.dashboard, q.where.removeprefix("variable "))) if q.kind == "variable" else None
            error, data = evaluate(prometheus, q, values, variable)
            assert error is None, f"{q}: {error}"
            if data:
                continue
            exception = next((e for e in EXCEPTIONS if e.covers(q)), None)
            if exception and exception.holds(Context(demo_exporter, prometheus, values)):
                excused[str(q)] = exception.reason
                continue
            pending.append((q, values))
        if not pending:
            break
        if time.monotonic() > deadline:
            lines = [f"{q} with {v['job']}/{v['org']}/{v['module']}/{v['cadence']}: {substitute(q.expr, v)}" for q, v in pending]
            raise AssertionError("dashboard queries without data:\n  " + "\n  ".join(lines))
        todo = pending
        time.sleep(1)
    print(f"{len(excused)} queries empty for a listed reason:", *sorted(excused), sep="\n  ")


def test_cadence_variable_lists_the_demo_cadences(prometheus, demo_exporter, deadline, dashboards):
    (variable,) = [v for v in dashboards[CADENCE]["templating"]["list"] if v["name"] == "cadence"]
    ids = {ls["name"]: ls["id"] for n, ls in exporter_series(demo_exporter) if n == "zoho_crm_cadence_active"}
    expr, _, _ = unwrap_variable(substitute(variable["query"], {"job": ".*", "org": ".*", "module": ".*"}))

    def options():
        r = api(prometheus, "query", query=expr)
        found = dict(grafana_options(r["data"]["result"], variable["regex"]))
        return found if len(found) == len(ids) else None

    assert wait_until(options, deadline, "the cadence variable's options", prometheus) == ids


# ---------------------------------------------------------------------------------------------
# Service discovery: one target per org, across two shards (examples/prometheus-sd.yml)
# ---------------------------------------------------------------------------------------------

SD_EXAMPLE = REPO / "examples" / "prometheus-sd.yml"
SD_ORGS = ("acme", "globex", "initech", "umbrella", "hooli")
def fnv1a64(name: str) -> int:
    """The exporter's shard hash (src/support/hash.rs), written again here to pin it."""
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


@pytest.fixture(scope="module")
def demo_zoho_url(demo_exporter: Process, deadline) -> str:
    """The demo's simulated Zoho, which the sharded exporters collect their orgs from."""
    def logged():
        m = re.search(r'url=(http://127\.0\.0\.1:\d+) msg="the demo\'s simulated Zoho is listening"|'
                      r"the demo's simulated Zoho is listening.* url=(http://127\.0\.0\.1:\d+)",
                      demo_exporter.output())
        return m and (m.group(1) or m.group(2))

    return wait_until(logged, deadline, "the demo's simulated Zoho address in its log", demo_exporter)


@pytest.fixture(scope="module")
def shards(exporter_binary, demo_zoho_url, deadline, tmp_path_factory) -> list[Process]:
    """Two exporters, --shard 0 and 1 of --total-shards 2, sharing one config of SD_ORGS."""
    home = tmp_path_factory.mktemp("shards")
    orgs = [{"name": n, "client_id": "1000.FAKECLIENTID", "client_secret": "fake-client-secret-value",
             "refresh_token": "1000.fake-refresh-token-value", "accounts_url": demo_zoho_url,
             "api_domain": demo_zoho_url} for n in SD_ORGS]
    config = home / "config.yml"
    config.write_text(yaml.safe_dump({"interval": "15s", "orgs": orgs}))
    started = []
    try:
        for ordinal in (0, 1):
            port = free_port()
            log = home / f"shard-{ordinal}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [str(exporter_binary), f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                     f"--shard={ordinal}", "--total-shards=2"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            started.append(Process(proc, f"http://127.0.0.1:{port}", port, log))
        for p in started:
            wait_until(lambda: http_get(p.base_url + "/-/ready")[0] == 200, deadline, "shard /-/ready", p)
        yield started
    finally:
        for p in started:
            stop(p.proc)


@pytest.fixture(scope="module")
def prometheus_sd(deadline, shards: list[Process], tmp_path_factory) -> Process:
    """Prometheus from examples/prometheus-sd.yml, its http_sd_configs pointed at both shards."""
    config = yaml.safe_load(SD_EXAMPLE.read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str((SD_EXAMPLE.parent / r).resolve()) for r in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["scrape_timeout"] = "1s"
    (sd,) = job["http_sd_configs"]
    job["http_sd_configs"] = [{**sd, "url": f"{s.base_url}/sd", "refresh_interval": "1s"} for s in shards]
    yield from run_prometheus(tmp_path_factory.mktemp("prometheus-sd"), config, deadline)


def test_sd_example_is_valid_and_needs_no_relabelling():
    example = yaml.safe_load(SD_EXAMPLE.read_text())
    (job,) = example["scrape_configs"]
    assert job["job_name"] == JOB
    assert job["http_sd_configs"] == [{"url": "http://localhost:10263/sd", "refresh_interval": "1m"}]
    assert "relabel_configs" not in job and "static_configs" not in job
    r = subprocess.run([shutil.which("promtool"), "check", "config", str(SD_EXAMPLE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_each_shard_lists_its_orgs_in_the_http_sd_format(shards):
    listed = []
    for ordinal, shard in enumerate(shards):
        status, body = http_get(shard.base_url + "/sd")
        assert status == 200
        groups = json.loads(body)
        host = f"127.0.0.1:{shard.port}"
        for group in groups:
            assert set(group) == {"targets", "labels"}
            assert group["targets"] == [host]
            org = group["labels"]["__param_org"]
            assert group["labels"] == {"__param_org": org, "__metrics_path__": "/metrics", "instance": f"{host}/{org}"}
            assert fnv1a64(org) % 2 == ordinal, f"{org} listed by shard {ordinal}"
            listed.append(org)
    assert sorted(listed) == sorted(SD_ORGS), "every org in exactly one shard"


def test_prometheus_discovers_and_scrapes_one_target_per_org(prometheus_sd, shards, deadline):
    expected = {f"127.0.0.1:{s.port}/{org}" for s in shards for org in SD_ORGS if fnv1a64(org) % 2 == shards.index(s)}

    def all_up():
        targets = api(prometheus_sd, "targets", state="active")["data"]["activeTargets"]
        mine = {t["labels"]["instance"]: t for t in targets if t["labels"].get("job") == JOB}
        return set(mine) == expected and all(t["health"] == "up" for t in mine.values()) and mine

    targets = wait_until(all_up, deadline, "one target per org, all up", prometheus_sd)
    for instance, target in targets.items():
        org = instance.rsplit("/", 1)[1]
        assert target["lastError"] == ""
        assert target["scrapeUrl"].endswith(f"/metrics?org={org}"), target["scrapeUrl"]

    def up_per_org():
        r = api(prometheus_sd, "query", query=f'up{{job="{JOB}"}}')["data"]["result"]
        return len(r) == len(SD_ORGS) and r

    for series in wait_until(up_per_org, deadline, "an up series per org", prometheus_sd):
        assert series["value"][1] == "1"
    # The scraped org label is the exporter's, not overwritten by the target's labels.
    r = api(prometheus_sd, "query", query=f'count by (org) (zoho_crm_up{{job="{JOB}"}})')["data"]["result"]
    counts = {s["metric"]["org"]: int(s["value"][1]) for s in r}
    assert set(counts) == set(SD_ORGS)
    # Each org is scraped once, by its own target (`?org=`): sums over targets count it once.
    assert all(n == 1 for n in counts.values()), counts
    r = api(prometheus_sd, "query", query=f'zoho_crm_up{{job="{JOB}"}}')["data"]["result"]
    assert all(s["metric"]["instance"].endswith("/" + s["metric"]["org"]) for s in r), r


def test_rules_evaluate_over_per_org_targets(prometheus_sd, deadline):
    def evaluated():
        groups = api(prometheus_sd, "rules")["data"]["groups"]
        for g in groups:
            for rule in g["rules"]:
                assert rule["health"] != "err" and not rule.get("lastError"), f"{g['name']}/{rule['name']}: {rule.get('lastError')}"
        return all(rule["health"] == "ok" for g in groups for rule in g["rules"]) and groups

    wait_until(evaluated, deadline, "every rule evaluated over the per-org targets", prometheus_sd)
    # Every org is healthy, each scraped by its own target: no alert, once the rules have seen
    # the scrapes (an evaluation before the first ones may leave ZohoCadenceExporterDown pending
    # for a moment, with reason no_target).
    seen = {}

    def quiet():
        seen["alerts"] = api(prometheus_sd, "alerts")["data"]["alerts"]
        return not seen["alerts"]

    try:
        wait_until(quiet, deadline, "no alert over the healthy per-org targets", prometheus_sd)
    except AssertionError as err:
        raise AssertionError(f"{err}: {seen['alerts']}") from None
