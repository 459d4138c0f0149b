#!/usr/bin/env python3
"""Renders the Prometheus alerting rules of zoho-cadences-exporter (alerts/zoho-cadences.rules.yml).

The rules live here, once, as data; the job selector and the few thresholds a site may want to
change are options, the way monitoring mixins keep them in a `_config` block. The committed rule
file is this script's output with the defaults, and tests/py/test_alerts.py keeps it that way:

    python3 alerts/generate.py --output alerts/zoho-cadences.rules.yml
    python3 alerts/generate.py --selector 'job="zoho",namespace="crm"' --output my.rules.yml

Needs only the standard library and PyYAML.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, fields

import yaml

RUNBOOK_URL = (
    "https://github.com/zoho-cadences-exporter/zoho-cadences-exporter/blob/main/docs/runbook.md"
)

# The Zoho error codes that mean "the exporter cannot authenticate", as the exporter puts them in
# the `error` label of zoho_crm_api_errors_total: the token endpoint's own codes (sent with HTTP
# 200) and the 401 codes of the API.
AUTH_ERRORS = (
    "invalid_code",
    "invalid_client",
    "Access Denied",
    "INVALID_TOKEN",
    "AUTHENTICATION_FAILURE",
    "OAUTH_SCOPE_MISMATCH",
)


@dataclass(frozen=True)
class Config:
    """What a site may change; the defaults render the committed rule file."""

    # Label matchers that select the exporter's series, without braces.
    selector: str = 'job="zoho-cadences-exporter"'
    # How long a cadence must stay off before ZohoCadenceDeactivated and
    # ZohoCadenceUnexpectedlyInactive fire, and an expectation must match nothing before
    # ZohoCadenceMissing does. Two collections at the default 5m interval, so one odd answer
    # from Zoho does not page.
    inactive_for: str = "10m"
    # How far back ZohoCadenceDeactivated looks for the cadence's last active sample; it must
    # outlast inactive_for plus an exporter restart.
    deactivated_window: str = "1h"
    # How long a cadence may be active with nobody enrolled (or nothing executed) before
    # ZohoCadenceIdle fires.
    idle_for: str = "4h"
    # How old the last successful collection may get before ZohoCadenceDataStale fires.
    stale_after: str = "30m"
    # How long an alert built on the exporter's series stays firing when they vanish: an
    # exporter restart (or one failed scrape) leaves such a gap, and without this a firing
    # alert would resolve in it and fire again after its `for`. 0s leaves it out, e.g. to watch
    # the demo's flapping cadence resolve the moment it is switched back on.
    keep_firing_for: str = "10m"
    # Where runbook_url points; each alert appends #<its name in lower case>.
    runbook_url: str = RUNBOOK_URL


_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def seconds(duration: str) -> int:
    """Seconds in a Prometheus duration such as 30m or 1h30m (w, d, h, m, s units)."""
    match = _DURATION.match(duration)
    if not duration or not match:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    weeks, days, hours, minutes, secs = (int(part or 0) for part in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + secs


_DURATIONS = ("inactive_for", "deactivated_window", "idle_for", "stale_after", "keep_firing_for")


def check(config: Config) -> None:
    """Refuses a configuration that would render rules that cannot work."""
    for name in _DURATIONS:
        seconds(getattr(config, name))
    if seconds(config.deactivated_window) <= seconds(config.inactive_for) + 5 * 60:
        raise ValueError(
            "deactivated_window must exceed inactive_for by more than 5m, or a deactivation "
            "leaves the window before the alert's `for` has passed"
        )
    if not config.selector.strip() or any(ch in config.selector for ch in "{}`"):
        # Backticks would end the raw strings the annotation templates quote queries in.
        raise ValueError('selector is label matchers without braces or backticks, e.g. job="zoho"')


def rules(config: Config) -> dict:
    """The rule file as data, ready for YAML."""
    c = config

    def m(metric: str, *matchers: str) -> str:
        """A series selector for one of the exporter's metrics."""
        return metric + "{" + ",".join((c.selector, *matchers)) + "}"

    def expr(text: str) -> str:
        return textwrap.dedent(text).strip()

    def alert(name, expression, for_, severity, summary, description, bridges_gaps=False,
              extra_labels=None):
        """One alerting rule; `bridges_gaps` for those whose series an exporter restart
        interrupts (see Config.keep_firing_for)."""
        rule = {"alert": name, "expr": expr(expression), "for": for_}
        if bridges_gaps and seconds(c.keep_firing_for) > 0:
            rule["keep_firing_for"] = c.keep_firing_for
        rule["labels"] = {"severity": severity, **(extra_labels or {})}
        rule["annotations"] = {
            "summary": summary,
            "description": description,
            "runbook_url": f"{c.runbook_url}#{name.lower()}",
        }
        return rule

    auth_re = "|".join(AUTH_ERRORS)
    cadence = "{{ $labels.name }} (id {{ $labels.id }}, module {{ $labels.module }})"
    where = "Zoho CRM org {{ $labels.org }}"
    # Who Zoho CRM lists as the cadence's last modifier, when the exporter still reports it:
    # the first thing to know about a cadence that was switched off.
    modified_by = (
        "{{ with printf `" + m("zoho_crm_cadence_info", "org=%q", "id=%q") + "` $labels.org "
        "$labels.id | query }} Zoho CRM names {{ . | first | label \"modified_by\" }} as the "
        "last to modify it.{{ end }}"
    )
    errors_by_code = (
        "{{ range printf `sort_desc(sum by (error) (increase("
        + m("zoho_crm_api_errors_total", "org=%q", "endpoint=%q")
        + "[1h])))` $labels.org $labels.endpoint | query }} {{ .Labels.error }}: "
        "{{ printf \"%.0f\" .Value }}.{{ end }}"
    )
    auth_codes = (
        "{{ range printf `sort_desc("
        + m("zoho_crm_api_errors_total", "org=%q", f'error=~"{auth_re}"')
        + ")` $labels.org | query }} {{ .Labels.endpoint }} {{ .Labels.error }}: "
        "{{ printf \"%.0f\" .Value }}.{{ end }}"
    )
    # When the configuration in force was loaded, for an alert about a refused reload.
    reloaded_at = (
        "{{ with printf `" + m("zoho_crm_config_last_reload_success_timestamp_seconds",
                               "instance=%q") + "` $labels.instance | query }}, at "
        "{{ . | first | value | humanizeTimestamp }}{{ end }}"
    )
    # The day window's counts behind a ratio, as Zoho's X-RATELIMIT-DAY-* headers gave them.
    credits_left = (
        "{{ with printf `" + m("zoho_crm_api_rate_limit_remaining", "instance=%q", "org=%q",
                               'window="day"') + "` $labels.instance $labels.org | query }}"
        "{{ $left := . | first | value }}"
        "{{ with printf `" + m("zoho_crm_api_rate_limit_limit", "instance=%q", "org=%q",
                               'window="day"') + "` $labels.instance $labels.org | query }} "
        "({{ printf \"%.0f\" $left }} of {{ . | first | value | printf \"%.0f\" }})"
        "{{ end }}{{ end }}"
    )
    stale_s = seconds(c.stale_after)
    # Active now, all along the idle time, and already at its start: Prometheus' history must
    # reach back that far (a new Prometheus or a new instance label would otherwise see any
    # cadence as idle after a few minutes), and a cadence younger than that has no series then.
    # Range functions ignore the gaps of restarts; last_over_time bridges one at the start.
    active_throughout = f"""
              {m('zoho_crm_cadence_active')} == 1
            and on (job, instance, org, id)
              min_over_time({m('zoho_crm_cadence_active')}[{c.idle_for}]) == 1
            and on (job, instance, org, id)
              last_over_time({m('zoho_crm_cadence_active')}[15m] offset {c.idle_for}) == 1"""

    exporter = [
        alert(
            "ZohoCadenceExporterDown",
            f"{m('up')} == 0",
            "5m", "critical",
            "Zoho cadences exporter {{ $labels.instance }} is down",
            "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for "
            "5 minutes: no Zoho CRM cadence is watched while the exporter is down.",
            extra_labels={"reason": "scrape_failing"},
        ),
        alert(
            "ZohoCadenceExporterDown",
            f"absent({m('up')})",
            "5m", "critical",
            "No Zoho cadences exporter is being scraped",
            f"Prometheus has had no scrape target matching {{{c.selector}}} for 5 minutes: the "
            "exporter is not deployed, service discovery lost it, or the job name changed.",
            extra_labels={"reason": "no_target"},
        ),
        alert(
            "ZohoCadenceCollectionFailing",
            f"{m('zoho_crm_up')} == 0",
            "15m", "warning",
            f"{where}: cadence collection is failing",
            "Every collection of " + where + " by {{ $labels.instance }} has failed for "
            "15 minutes (zoho_crm_up is 0): this org's cadence metrics are frozen at the last "
            "successful collection.",
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceDataStale",
            f"""
            (
                time() - (max_over_time({m('zoho_crm_last_success_timestamp_seconds')}[1h]) > 0)
              > {stale_s}
            )
            and on (job, instance)
              {m('up')} == 1
            """,
            "5m", "critical",
            f"{where}: cadence data is stale",
            "The last successful collection of " + where + " by {{ $labels.instance }} was "
            "{{ $value | humanizeDuration }} ago (more than " + c.stale_after + "): cadence "
            "alerts for this org are judging old data.",
            bridges_gaps=True,
            extra_labels={"reason": "too_old"},
        ),
        alert(
            "ZohoCadenceDataStale",
            f"""
            (
                {m('zoho_crm_up')}
              unless on (job, instance, org)
                max_over_time({m('zoho_crm_last_success_timestamp_seconds')}[1h]) > 0
            )
            and on (job, instance)
              {m('up')} == 1
            """,
            c.stale_after, "critical",
            f"{where}: no cadence data",
            "{{ $labels.instance }} has not completed a successful collection of " + where
            + " for " + c.stale_after + " (zoho_crm_last_success_timestamp_seconds has been "
            "absent or 0 for the last hour): there is no cadence data for this org.",
            bridges_gaps=True,
            extra_labels={"reason": "no_success"},
        ),
        alert(
            "ZohoCadenceApiErrors",
            f"""
            (
                sum by (job, instance, org, endpoint) (increase({m('zoho_crm_api_errors_total', 'error!="invalid_cadence"')}[1h]))
              /
                sum by (job, instance, org, endpoint) (increase({m('zoho_crm_api_requests_total')}[1h]))
            )
            > 0.5
            """,
            "30m", "warning",
            where + ": most {{ $labels.endpoint }} requests to Zoho fail",
            "{{ $value | humanizePercentage }} of the exporter's requests to the Zoho CRM "
            "{{ $labels.endpoint }} endpoint for org {{ $labels.org }} failed over the last "
            "hour (each per-cadence error in a batched records_count answer counts as one). "
            "Errors by code:" + errors_by_code,
        ),
        alert(
            "ZohoCadenceAuthFailing",
            f"""
              {m('zoho_crm_up')} == 0
            and on (job, instance, org)
              sum by (job, instance, org) (
                  (
                      {m('zoho_crm_api_errors_total', f'error=~"{auth_re}"')}
                    unless
                      {m('zoho_crm_api_errors_total', f'error=~"{auth_re}"')} offset 1h
                  )
                or
                  increase({m('zoho_crm_api_errors_total', f'error=~"{auth_re}"')}[1h])
              )
            > 0
            """,
            "10m", "critical",
            f"{where}: the exporter cannot authenticate to Zoho",
            "Collections of " + where + " have failed for 10 minutes with authentication "
            "errors in the last hour; a revoked refresh token, a wrong client or data center, "
            "or a missing scope does not heal by itself. Authentication errors since the "
            "exporter started:" + auth_codes,
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceConfigReloadFailed",
            f"{m('zoho_crm_config_last_reload_successful')} == 0",
            "5m", "warning",
            "Zoho cadences exporter {{ $labels.instance }} refused its configuration reload",
            "{{ $labels.instance }} (job {{ $labels.job }}) refused a configuration reload "
            "(SIGHUP or POST /-/reload) and none has succeeded since, for 5 minutes: it still "
            "collects with the configuration it loaded last" + reloaded_at + ". Started with "
            "the file as it is now, the exporter would refuse to start; its log line "
            "`config reload failed` names the key and the value at fault.",
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceApiQuotaLow",
            f"""
            (
                {m('zoho_crm_api_rate_limit_remaining', 'window="day"')}
              /
                {m('zoho_crm_api_rate_limit_limit', 'window="day"')}
            )
            < 0.1
            """,
            "15m", "warning",
            f"{where}: less than 10% of the day's Zoho API credits are left",
            "Zoho's last answer to {{ $labels.instance }} for " + where + " said "
            "{{ $value | humanizePercentage }} of the org's API credits for the rolling day are "
            "left" + credits_left + ". The credits are shared by every integration of the "
            "org; when they run out, Zoho refuses the exporter's calls and collections fail.",
            bridges_gaps=True,
        ),
    ]

    cadences = [
        alert(
            "ZohoCadenceDeactivated",
            f"""
            (
                {m('zoho_crm_cadence_active')} == 0
              and on (job, org, id)
                max_over_time({m('zoho_crm_cadence_active')}[{c.deactivated_window}]) == 1
            )
            unless on (job, instance, org, id)
              {m('zoho_crm_cadence_expected_active')}
            unless on (job, instance, org, id)
              {m('zoho_crm_cadence_info', 'status="draft"')}
            """,
            c.inactive_for, "warning",
            "Zoho CRM cadence {{ $labels.name }} was deactivated in org {{ $labels.org }}",
            "The cadence " + cadence + " of " + where + " was active within the last "
            + c.deactivated_window + " and has been inactive for " + c.inactive_for + "."
            + modified_by,
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceUnexpectedlyInactive",
            f"""
              {m('zoho_crm_cadence_active')} == 0
            and on (job, instance, org, id)
              {m('zoho_crm_cadence_expected_active')} == 1
            """,
            c.inactive_for, "critical",
            "Zoho CRM cadence {{ $labels.name }} must be active but is not "
            "(org {{ $labels.org }})",
            "An expectation in the exporter's configuration requires the cadence " + cadence
            + " of " + where + " to be active, and it has been inactive for " + c.inactive_for
            + "." + modified_by,
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceMissing",
            f"""
            (
                {m('zoho_crm_expectation_matches')} == 0
              unless on (job, expectation)
                {m('zoho_crm_expectation_matches')} > 0
            )
            and on (job, instance, org)
              {m('zoho_crm_last_success_timestamp_seconds')} > 0
            """,
            c.inactive_for, "warning",
            "Expectation {{ $labels.expectation }} matches no Zoho CRM cadence "
            "(org {{ $labels.org }})",
            "The expectation {{ $labels.expectation }} in the exporter's configuration has "
            "matched no cadence of " + where + " for " + c.inactive_for + ": the cadence it "
            "watches was deleted or renamed, or the expectation's name, id, org or module is "
            "wrong. Its cadence is not watched.",
            bridges_gaps=True,
        ),
        alert(
            "ZohoCadenceIdle",
            active_throughout + f"""
            and on (job, instance, org, id)
              max_over_time({m('zoho_crm_cadence_enrolled_records')}[{c.idle_for}]) == 0
            """,
            "15m", "info",
            "Zoho CRM cadence {{ $labels.name }} is active but has no enrolled records "
            "(org {{ $labels.org }})",
            "The cadence " + cadence + " of " + where + " has been active with no enrolled "
            "records for " + c.idle_for + ": it is switched on but reaches nobody.",
            bridges_gaps=True,
            extra_labels={"reason": "no_enrollments"},
        ),
        alert(
            "ZohoCadenceIdle",
            active_throughout + f"""
            and on (job, instance, org, id)
              min_over_time({m('zoho_crm_cadence_enrolled_records')}[{c.idle_for}]) > 0
            and on (job, instance, org, id)
              sum by (job, instance, org, id) (
                max_over_time({m('zoho_crm_cadence_follow_ups_executed')}[{c.idle_for}])
              ) == 0
            """,
            "15m", "info",
            "Zoho CRM cadence {{ $labels.name }} executes no follow-ups (org {{ $labels.org }})",
            "The cadence " + cadence + " of " + where + " has been active with records "
            "enrolled for " + c.idle_for + ", and Zoho CRM's analytics have reported no "
            "executed follow-up (email, call, task or WhatsApp) all that time.",
            bridges_gaps=True,
            extra_labels={"reason": "no_follow_ups"},
        ),
    ]

    return {
        "groups": [
            {"name": "zoho-cadences-exporter", "rules": exporter},
            {"name": "zoho-cadences", "rules": cadences},
        ]
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the PromQL expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(config: Config) -> str:
    """The rule file's text for a configuration."""
    check(config)
    changed = [
        f"--{f.name.replace('_', '-')} {shlex.quote(getattr(config, f.name))}"
        for f in fields(Config)
        if getattr(config, f.name) != f.default
    ]
    command = " ".join(["python3 alerts/generate.py", *changed])
    header = (
        "# Prometheus alerting rules for zoho-cadences-exporter: the exporter's health and the\n"
        "# state of the Zoho CRM cadences it watches. See docs/runbook.md for each alert.\n"
        "# Rendered by alerts/generate.py; do not edit by hand. To change the job selector or a\n"
        "# threshold, render again with options (python3 alerts/generate.py --help):\n"
        f"#   {command}\n"
    )
    body = yaml.dump(
        rules(config), Dumper=_Dumper, sort_keys=False, width=1 << 16, allow_unicode=True
    )
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Config()
    for f in fields(Config):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            default=getattr(defaults, f.name),
            help=f"(default: {getattr(defaults, f.name)})",
        )
    parser.add_argument("--output", "-o", help="write here instead of standard output")
    args = parser.parse_args(argv)
    config = Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
    try:
        text = render(config)
    except ValueError as err:
        parser.error(str(err))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
