"""Checks the alert rules in alerts/: promtool accepts every rule file and passes every unit test
in alerts/tests/, the set of alerts is exactly the documented one, every alert carries its
severity, summary, description and a runbook link that lands on a heading of docs/runbook.md,
and the committed rule file is what alerts/generate.py renders.

Run from the repository root: .venv/bin/python -m pytest -q tests/py/test_alerts.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
RULE_FILES = sorted(ALERTS.glob("*.rules.yml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
GENERATOR = ALERTS / "generate.py"
COMMITTED = ALERTS / "zoho-cadences.rules.yml"

EXPECTED_ALERTS = {
    "ZohoCadenceExporterDown",
    "ZohoCadenceCollectionFailing",
    "ZohoCadenceDataStale",
    "ZohoCadenceApiErrors",
    "ZohoCadenceAuthFailing",
    "ZohoCadenceConfigReloadFailed",
    "ZohoCadenceApiQuotaLow",
    "ZohoCadenceDeactivated",
    "ZohoCadenceUnexpectedlyInactive",
    "ZohoCadenceMissing",
    "ZohoCadenceIdle",
}
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_URL = (
    "https://github.com/zoho-cadences-exporter/zoho-cadences-exporter/blob/main/docs/runbook.md"
)


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is not installed (Debian package prometheus; scripts/test installs it)"
    return path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def shown(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def alerting_rules() -> list[dict]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {github_anchor(h) for h in headings}


def test_there_are_rule_and_test_files():
    assert COMMITTED in RULE_FILES
    assert TEST_FILES, "no promtool unit tests in alerts/tests/"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path):
    result = run(promtool(), "check", "rules", str(path))
    assert result.returncode == 0, shown(result)
    assert "SUCCESS" in result.stdout, shown(result)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests(path: Path):
    # promtool resolves rule_files relative to the test file, so run from its directory.
    result = run(promtool(), "test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, shown(result)
    assert "SUCCESS" in result.stdout and "FAILED" not in result.stdout + result.stderr, shown(
        result
    )


def test_unit_tests_cover_every_alert():
    tested = set()
    for path in TEST_FILES:
        document = yaml.safe_load(path.read_text())
        assert document["rule_files"] == ["../zoho-cadences.rules.yml"], path.name
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    assert tested == EXPECTED_ALERTS, "alerts without a test that expects them to fire"


def test_alert_names_are_exactly_the_documented_set():
    assert {rule["alert"] for rule in alerting_rules()} == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_every_alert_has_severity_summary_description_and_runbook(rule: dict):
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} lacks {key}"
    assert annotations["runbook_url"] == f"{RUNBOOK_URL}#{rule['alert'].lower()}"
    assert rule.get("for"), f"{rule['alert']} has no `for`: it would fire on one evaluation"


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_runbook_has_the_linked_heading(rule: dict):
    anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
    assert anchor in runbook_anchors(), f"docs/runbook.md has no heading for #{anchor}"


def test_annotations_name_org_cadence_and_module_where_they_apply():
    per_cadence = {"ZohoCadenceDeactivated", "ZohoCadenceUnexpectedlyInactive", "ZohoCadenceIdle"}
    for rule in alerting_rules():
        summary, description = rule["annotations"]["summary"], rule["annotations"]["description"]
        if rule["alert"] in ("ZohoCadenceExporterDown", "ZohoCadenceConfigReloadFailed"):
            continue  # about the exporter, which serves every org
        assert "$labels.org" in summary and "$labels.org" in description, rule["alert"]
        if rule["alert"] in per_cadence:
            assert "$labels.name" in summary, rule["alert"]
            for label in ("name", "id", "module"):
                assert f"$labels.{label}" in description, rule["alert"]
        if rule["alert"] == "ZohoCadenceMissing":
            assert "$labels.expectation" in summary and "$labels.expectation" in description


def test_committed_rules_are_the_default_rendering():
    result = run(sys.executable, str(GENERATOR))
    assert result.returncode == 0, shown(result)
    assert result.stdout == COMMITTED.read_text(), (
        "alerts/zoho-cadences.rules.yml differs from what alerts/generate.py renders; "
        "run: python3 alerts/generate.py --output alerts/zoho-cadences.rules.yml"
    )


def test_selector_option_replaces_every_selector(tmp_path: Path):
    out = tmp_path / "custom.rules.yml"
    selector = 'job="crm-exporter",namespace="monitoring"'
    result = run(sys.executable, str(GENERATOR), "--selector", selector, "--output", str(out))
    assert result.returncode == 0, shown(result)
    text = out.read_text()
    assert "zoho-cadences-exporter\"" not in text.split("groups:", 1)[1]
    # Every metric selector in every expression and annotation query carries the new matchers.
    default = COMMITTED.read_text()
    assert text.count("{" + selector) == default.count('{job="zoho-cadences-exporter"')
    assert text.count("{" + selector) > 20
    check = run(promtool(), "check", "rules", str(out))
    assert check.returncode == 0, shown(check)


def test_demo_rendering_is_valid_and_drops_keep_firing_for(tmp_path: Path):
    out = tmp_path / "demo.rules.yml"
    result = run(
        sys.executable, str(GENERATOR), "--inactive-for", "1m", "--keep-firing-for", "0s",
        "--output", str(out),
    )
    assert result.returncode == 0, shown(result)
    rendered = yaml.safe_load(out.read_text())
    rules = [rule for group in rendered["groups"] for rule in group["rules"]]
    assert not any("keep_firing_for" in rule for rule in rules)
    inactive = next(r for r in rules if r["alert"] == "ZohoCadenceUnexpectedlyInactive")
    assert inactive["for"] == "1m"
    check = run(promtool(), "check", "rules", str(out))
    assert check.returncode == 0, shown(check)


@pytest.mark.parametrize(
    "args",
    [
        ["--selector", "job={x}"],
        ["--inactive-for", "ten minutes"],
        ["--inactive-for", "1h"],  # would outlast the 1h window of ZohoCadenceDeactivated
    ],
)
def test_generator_refuses_options_that_cannot_work(args: list[str]):
    result = run(sys.executable, str(GENERATOR), *args)
    assert result.returncode == 2, shown(result)
    assert "error:" in result.stderr
