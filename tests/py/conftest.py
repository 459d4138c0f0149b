"""Fixtures shared by the Python test suites: the exporter binary running its embedded demo org on
a free loopback port, the repository's dashboards and their queries, and free ports."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "dashboards"
DEFAULT_BINARY = REPO / "target" / "debug" / "zoho-cadences-exporter"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; the small race until the process
    binds is acceptable on a test machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET url; (status, body), or (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


@dataclass
class Process:
    """A child process started by a fixture, its address and where its output goes."""

    proc: subprocess.Popen
    base_url: str
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_until(predicate, deadline: float, what: str, proc: Process | None = None, interval: float = 0.2):
    """Polls predicate() until it returns a truthy value or the monotonic deadline passes."""
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.proc.returncode}\n{proc.output()}")
        if time.monotonic() > deadline:
            detail = f"\n{proc.output()}" if proc is not None else ""
            raise AssertionError(f"timed out waiting for {what} (last: {last!r}){detail}")
        time.sleep(interval)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def exporter_binary() -> Path:
    path = Path(os.environ.get("ZCE_BINARY", DEFAULT_BINARY))
    assert path.is_file() and os.access(path, os.X_OK), (
        f"exporter binary {path} is missing: run `cargo build --bins` or set ZCE_BINARY"
    )
    return path


@pytest.fixture(scope="module")
def demo_exporter(exporter_binary: Path, tmp_path_factory) -> Process:
    """The exporter in --demo mode on 127.0.0.1, ready (GET /-/ready answers 200)."""
    port = free_port()
    log = tmp_path_factory.mktemp("exporter") / "exporter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(exporter_binary), "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    p = Process(proc, f"http://127.0.0.1:{port}", port, log)
    try:
        wait_until(lambda: http_get(p.base_url + "/-/ready")[0] == 200, time.monotonic() + 30, "exporter /-/ready", p)
        yield p
    finally:
        stop(proc)


# ---------------------------------------------------------------------------------------------
# Dashboards and their queries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard: a panel target, an annotation or a variable."""

    dashboard: str  # uid
    where: str  # panel title and refId, annotation name or variable name
    expr: str
    kind: str  # "instant", "range", "annotation" or "variable"

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.where}"


def load_dashboards() -> dict[str, dict]:
    boards = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        boards[d["uid"]] = d
    return boards


def all_panels(dashboard: dict):
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def dashboard_queries(boards: dict[str, dict]) -> list[Query]:
    out = []
    for uid, d in boards.items():
        for p in all_panels(d):
            for t in p.get("targets", []):
                out.append(Query(uid, f"{p['title']} [{t['refId']}]", t["expr"], "instant" if t.get("instant") else "range"))
        for a in d.get("annotations", {}).get("list", []):
            if "expr" in a:
                out.append(Query(uid, f"annotation {a['name']}", a["expr"], "annotation"))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                q = v["query"] if isinstance(v["query"], str) else v["query"]["query"]
                out.append(Query(uid, f"variable {v['name']}", q, "variable"))
    return out


VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}")


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replaces Grafana's $var and ${var} (and ${var:format}) with values[var]."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return VARIABLE.sub(repl, expr)


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict]:
    return load_dashboards()


@pytest.fixture(scope="session")
def queries(dashboards) -> list[Query]:
    return dashboard_queries(dashboards)
