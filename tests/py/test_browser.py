"""The status pages in a real browser: Debian's headless Chromium, driven over the DevTools
protocol, loads `/` and `/orgs/demo` of the exporter running its demo, and the rendered DOM must
show the summary, the demo's flapping cadence under "Needs attention" (the demo switches it off
within its first minute) and the org's cadence table, with no console error and no
Content-Security-Policy violation. scripts/test installs Chromium (apt-get install chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from conftest import Process, http_get, stop, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAPPING = "Demo Flapping Follow-up"
FLAPPING_ID = "3652397000099990001"
# The demo switches its flapping cadence off 40 s after start and collects every 15 s.
ATTENTION_WITHIN = 90


class DevTools:
    """One page of a headless Chromium over the DevTools protocol, recording every console
    message, log entry, exception and issue (CSP violations arrive as log entries and issues)."""

    def __init__(self, browser_ws: str):
        self.ws = websocket.create_connection(browser_ws, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Audits"):
            self.call(f"{domain}.enable", session=True)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") == self.next_id:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                self.events.remove(event)
                return event
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            if event.get("method") == method:
                return event
            self.events.append(event)
        raise AssertionError(f"no {method} within {timeout} s")

    def load(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        answer = self.call("Page.navigate", session=True, url=url)
        assert "errorText" not in answer, f"{url}: {answer}"
        self.wait_for("Page.loadEventFired")
        # Let late log entries (a blocked resource, a violation report) arrive.
        self.evaluate("new Promise(r => setTimeout(r, 300))")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, log entries at error or warning, uncaught exceptions and
        browser issues (Content-Security-Policy violations among them) seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                entry = params["entry"]
                found.append(f"log {entry['level']} ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Audits.issueAdded":
                found.append(f"issue: {params['issue']}")
        return found

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory) -> str:
    """A headless Chromium with a fresh profile; its browser-level DevTools WebSocket URL."""
    assert Path(CHROMIUM).is_file(), "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = profile.parent / "chromium.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    p = Process(proc, "", 0, log)
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.is_file() and port_file.read_text().strip(), time.monotonic() + 60,
                   "Chromium's DevToolsActivePort", p)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as r:
            yield json.load(r)["webSocketDebuggerUrl"]
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser(chromium) -> DevTools:
    tools = DevTools(chromium)
    try:
        yield tools
    finally:
        tools.close()


@pytest.fixture(scope="module")
def attention_shown(demo_exporter: Process) -> Process:
    """The demo exporter once its flapping cadence shows under "Needs attention"."""
    wait_until(lambda: FLAPPING.encode() in http_get(demo_exporter.base_url + "/")[1]
               and b"unexpectedly inactive" in http_get(demo_exporter.base_url + "/")[1],
               time.monotonic() + ATTENTION_WITHIN, "the flapping cadence under Needs attention",
               demo_exporter, interval=1)
    return demo_exporter


def test_the_index_shows_the_summary_and_what_needs_attention(browser: DevTools, attention_shown: Process):
    browser.load(attention_shown.base_url + "/")
    page = browser.evaluate("""(() => {
        const text = id => document.getElementById(id)?.textContent.trim();
        const rows = [...document.querySelectorAll('#attention-table tbody tr')].map(tr => ({
            cells: [...tr.cells].map(td => td.textContent.trim()),
            links: [...tr.querySelectorAll('a')].map(a => a.href),
        }));
        const orgs = [...document.querySelectorAll('#org-table tbody tr')].map(tr => [...tr.cells].map(td => td.textContent.trim()));
        return {title: document.title, summary: text('summary'), rows, orgs,
                metrics: document.querySelector('nav a').href};
    })()""")
    assert page["summary"].startswith("1 org: 1 up, 0 down; "), page
    assert page["title"].startswith(page["summary"]), page
    assert "cadence needs attention" in page["summary"] or "cadences need attention" in page["summary"]
    (row,) = [r for r in page["rows"] if r["cells"][0] == "unexpectedly inactive"]
    assert row["cells"][1] == "demo" and row["cells"][2].startswith(FLAPPING), row
    assert "an expectation requires it to be active" in row["cells"][3], row
    assert row["links"][1] == f"{attention_shown.base_url}/orgs/demo#c-{FLAPPING_ID}", row
    (org,) = page["orgs"]
    assert org[0] == "demo" and org[1] == "up", org
    assert page["metrics"] == attention_shown.base_url + "/metrics"
    assert browser.problems() == []


def test_the_org_page_lists_the_cadences(browser: DevTools, attention_shown: Process):
    browser.load(f"{attention_shown.base_url}/orgs/demo#c-{FLAPPING_ID}")
    page = browser.evaluate(f"""(() => {{
        const rows = [...document.querySelectorAll('#cadence-table tbody tr')];
        const flapping = document.getElementById('c-{FLAPPING_ID}');
        return {{
            title: document.title,
            heading: document.querySelector('h1').textContent,
            names: rows.map(tr => tr.querySelector('td.name').textContent),
            matching: document.getElementById('matching').textContent,
            flapping: flapping && [...flapping.cells].map(td => td.textContent.trim()),
            marked: flapping && flapping.classList.contains('attention'),
            headers: [...document.querySelectorAll('#cadence-table th')].map(th => th.textContent.trim()),
            all: document.querySelector('nav a').href,
        }};
    }})()""")
    assert page["heading"] == "Org demo" and page["title"].startswith("demo: up, "), page
    assert FLAPPING in page["names"] and "Upsell Quarterly" in page["names"], page
    assert page["matching"].startswith(f"{len(page['names'])} cadences match; page 1 of 1"), page
    assert page["flapping"][:4] == [FLAPPING, "Leads", page["flapping"][2], "active"], page
    assert page["flapping"][2].startswith("inactive"), page
    assert page["marked"], page
    assert page["headers"][:3] == ["Name", "Module \u25b2", "Status"], page
    assert "Executed follow-ups" in page["headers"], "the demo runs analytics"
    assert page["all"] == attention_shown.base_url + "/"

    # Sorting and filtering are links; following them needs no script.
    browser.load(f"{attention_shown.base_url}/orgs/demo?status=inactive&sort=name&order=desc")
    names = browser.evaluate("[...document.querySelectorAll('#cadence-table td.name')].map(td => td.textContent)")
    assert FLAPPING in names and "Upsell Quarterly" not in names, names
    assert names == sorted(names, reverse=True), names
    assert browser.problems() == []


def test_the_checks_would_see_a_console_error_and_a_csp_violation(browser: DevTools, attention_shown: Process):
    """The negative control: what the tests above require to be absent is seen when present."""
    browser.load(attention_shown.base_url + "/")
    assert browser.problems() == []
    browser.evaluate("console.error('control: console error')")
    # An image from elsewhere: the page's policy (default-src 'none') blocks and reports it.
    browser.evaluate("""new Promise(resolve => {
        const img = document.createElement('img');
        img.onerror = resolve;
        img.src = 'http://127.0.0.1:9/blocked.png';
        document.body.append(img);
        setTimeout(resolve, 2000);
    })""")
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    problems = "\n".join(browser.problems())
    assert "control: console error" in problems, problems
    assert "Content Security Policy" in problems or "contentSecurityPolicy" in problems, problems
    browser.events.clear()
