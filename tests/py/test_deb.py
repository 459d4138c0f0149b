"""Tests of the Debian package (packaging/deb/ and [package.metadata.deb] in Cargo.toml): builds it
with cargo-deb, reads it with dpkg-deb, installs it on this machine with dpkg, checks its systemd
units with systemd-analyze, runs the installed exporter the way the service unit does, upgrades it
in place and purges it.

The package is built around the binary the other suites test (ZCE_BINARY, a debug build) with
`cargo deb --no-build`: the packaging is what is tested here, and the release profile (fat LTO,
minutes on two cores) would add a build of the whole program to every run. ZCE_DEB=path/to/.deb
tests a package built elsewhere instead, e.g. the release package from `cargo deb --locked`.

Needs root (dpkg -i; CI runs as root), cargo-deb, systemd-analyze (Debian's systemd package) and
strace: scripts/test installs them. The package is purged at the end, so the test refuses to run
where it is installed with credentials other than the test's own.

Run from the repository root: .venv/bin/python -m pytest -q tests/py/test_deb.py
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, Process, free_port, http_get, stop, wait_until

PACKAGE = "zoho-cadences-exporter"
SERVICE = f"{PACKAGE}.service"
SOCKET = f"{PACKAGE}.socket"
UNIT_DIR = Path("/usr/lib/systemd/system")
BINARY = Path("/usr/bin") / PACKAGE
CONFIG = Path("/etc/zoho-cadences-exporter/config.yml")
FLAGS_FILE = Path("/etc/default/zoho-cadences-exporter")
ETC_DIR = Path("/etc/zoho-cadences-exporter")
# Where the administrator puts the secrets (read by systemd as root), and where LoadCredential=
# puts them for the service.
CREDENTIAL_STORE = ETC_DIR / "credentials"
CREDENTIALS = Path("/run/credentials") / SERVICE
SECRET_NAMES = ("client_id", "client_secret", "refresh_token")
# Values no real Zoho client has, so that the test knows its own leftovers from an operator's.
TEST_SECRETS = {
    "client_id": "1000.DEBPACKAGETESTCLIENT",
    "client_secret": "deb-package-test-client-secret-5f1c0a",
    "refresh_token": "1000.deb-package-test-refresh-token-9a2e77",
}

VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if check:
        assert result.returncode == 0, shown(result)
    return result


def shown(result: subprocess.CompletedProcess) -> str:
    return (
        f"{shlex.join(map(str, result.args))}: exit {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def is_installed() -> bool:
    result = run("dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE, check=False)
    return result.returncode == 0 and result.stdout.strip() not in ("", "not-installed")


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}} (our units use no line continuations)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        if text.startswith("[") and text.endswith("]"):
            current = sections.setdefault(text[1:-1], {})
            continue
        key, sep, value = text.partition("=")
        assert sep and current is not None, f"{path}: not a setting: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def flags_from_defaults_file() -> str:
    """ARGS of /etc/default/zoho-cadences-exporter, as EnvironmentFile= reads this simple file."""
    result = run("sh", "-c", f'. {shlex.quote(str(FLAGS_FILE))} && printf %s "$ARGS"')
    return result.stdout


def exec_start(args: str) -> list[str]:
    """The service's ExecStart as systemd runs it with ARGS=args: `$$` is a `$`, a word `$ARGS` is
    replaced by ARGS split at whitespace. Any other `$` would need more of systemd's rules, so the
    unit may not use one."""
    (line,) = unit_settings(UNIT_DIR / SERVICE)["Service"]["ExecStart"]
    argv = []
    for word in shlex.split(line):
        if word == "$ARGS":
            argv.extend(args.split())
            continue
        assert "$" not in word.replace("$$", ""), f"ExecStart word {word!r} needs systemd's expansion"
        argv.append(word.replace("$$", "$"))
    return argv


def without_listen_fds() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")}


def foreign_installation() -> str | None:
    """Why this machine's installation of the package is not the test's own, if it is not."""
    if not is_installed():
        return None
    if CREDENTIALS.is_dir() and os.path.ismount(CREDENTIALS):
        return f"{SERVICE} is running (its credentials are mounted at {CREDENTIALS})"
    if CREDENTIAL_STORE.is_dir():
        for path in CREDENTIAL_STORE.iterdir():
            if path.name not in TEST_SECRETS or path.read_text().strip() != TEST_SECRETS[path.name]:
                return f"{path} holds a credential that is not the test's"
    return None


def remove_test_credentials() -> None:
    if CREDENTIALS.is_dir() and not os.path.ismount(CREDENTIALS):
        shutil.rmtree(CREDENTIALS)
        # /run/credentials belongs to systemd where systemd runs; elsewhere the test made it.
        if not any(CREDENTIALS.parent.iterdir()) and not os.path.ismount(CREDENTIALS.parent):
            CREDENTIALS.parent.rmdir()


@pytest.fixture(scope="module", autouse=True)
def as_root():
    assert os.geteuid() == 0, (
        "tests/py/test_deb.py installs and purges the Debian package with dpkg and needs root "
        "(CI runs as root); run it as root, e.g. in a throw-away container or VM"
    )


@pytest.fixture(scope="module")
def deb(exporter_binary: Path, tmp_path_factory) -> Path:
    """The .deb under test: $ZCE_DEB, or one built now around the exporter binary under test."""
    if os.environ.get("ZCE_DEB"):
        path = Path(os.environ["ZCE_DEB"]).resolve()
        assert path.is_file(), f"ZCE_DEB={path} is not a file"
        return path
    assert shutil.which("cargo-deb"), "cargo-deb is not installed (scripts/test installs it)"
    target = tmp_path_factory.mktemp("cargo-target")
    # cargo-deb takes the binary from <target dir>/release/ (its placeholder for any profile);
    # a copy, since it strips the file it packages.
    (target / "release").mkdir()
    shutil.copy2(exporter_binary, target / "release" / PACKAGE)
    out = tmp_path_factory.mktemp("deb")
    started = time.monotonic()
    result = run(
        "cargo", "deb", "--no-build", "--locked", "--fast", "--output", str(out),
        cwd=REPO, env={**os.environ, "CARGO_TARGET_DIR": str(target)},
    )
    print(f"cargo deb: {time.monotonic() - started:.1f}s")
    (path,) = out.glob("*.deb")
    assert Path(result.stdout.strip().splitlines()[-1]) == path, shown(result)
    return path


@pytest.fixture(scope="module")
def contents(deb: Path) -> dict[str, str]:
    """The package's files and directories (dpkg-deb -c), path -> mode string."""
    listing = {}
    for line in run("dpkg-deb", "-c", str(deb)).stdout.splitlines():
        mode, _owner, _size, _date, _time, name = line.split(None, 5)
        listing["/" + name.removeprefix("./").rstrip("/")] = mode
    return listing


@pytest.fixture(scope="module")
def installed(deb: Path):
    """The package installed with dpkg -i (after purging what an earlier run left), purged after."""
    reason = foreign_installation()
    assert reason is None, (
        f"{PACKAGE} is installed on this machine and not by this test ({reason}); the test purges "
        "the package, so it does not run here"
    )
    if is_installed():
        run("dpkg", "--purge", PACKAGE)
    remove_test_credentials()
    run("dpkg", "-i", str(deb))
    try:
        yield deb
    finally:
        remove_test_credentials()
        if is_installed() and foreign_installation() is None:
            run("dpkg", "--purge", PACKAGE)


# ---------------------------------------------------------------------------------------------
# The package file


def test_package_file_name_and_control_fields(deb: Path):
    arch = run("dpkg", "--print-architecture").stdout.strip()
    if not os.environ.get("ZCE_DEB"):
        assert deb.name == f"{PACKAGE}_{VERSION}_{arch}.deb"
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Section", "Description"):
        fields[name] = run("dpkg-deb", "-f", str(deb), name).stdout.strip()
    assert fields["Package"] == PACKAGE
    assert fields["Version"] == VERSION
    assert fields["Architecture"] == arch
    depends = {d.strip().split(" ")[0] for d in fields["Depends"].split(",")}
    # CA certificates for Zoho's HTTPS (rustls reads the system store), and the C library.
    assert {"ca-certificates", "libc6"} <= depends, fields["Depends"]
    assert fields["Description"].startswith("Prometheus exporter for Zoho CRM cadences")


def test_package_holds_exactly_the_documented_files(contents: dict[str, str]):
    rules = sorted(p.name for p in (REPO / "alerts").glob("*.rules.yml"))
    boards = sorted(p.name for p in (REPO / "dashboards").glob("*.json"))
    assert rules and boards
    expected = {
        "/usr/bin/zoho-cadences-exporter",
        f"/usr/lib/systemd/system/{SERVICE}",
        f"/usr/lib/systemd/system/{SOCKET}",
        "/etc/default/zoho-cadences-exporter",
        "/etc/zoho-cadences-exporter/config.yml",
        *(f"/usr/share/zoho-cadences-exporter/alerts/{name}" for name in rules),
        *(f"/usr/share/zoho-cadences-exporter/dashboards/{name}" for name in boards),
        "/usr/share/doc/zoho-cadences-exporter/README.md",
        "/usr/share/doc/zoho-cadences-exporter/install.md",
        "/usr/share/doc/zoho-cadences-exporter/runbook.md",
        "/usr/share/doc/zoho-cadences-exporter/copyright",
    }
    files = {path for path, mode in contents.items() if not mode.startswith("d")}
    assert files == expected
    assert contents["/usr/bin/zoho-cadences-exporter"] == "-rwxr-xr-x"
    assert all(contents[path] == "-rw-r--r--" for path in expected - {"/usr/bin/zoho-cadences-exporter"})


def test_conffiles_are_the_config_and_the_flags_file(deb: Path):
    conffiles = run("dpkg-deb", "-I", str(deb), "conffiles").stdout.split()
    assert sorted(conffiles) == ["/etc/default/zoho-cadences-exporter", "/etc/zoho-cadences-exporter/config.yml"]


# ---------------------------------------------------------------------------------------------
# Installed


def test_install_puts_the_repository_files_in_place(installed):
    status = run("dpkg-query", "-W", "-f=${Status} ${Version}", PACKAGE).stdout
    assert status == f"install ok installed {VERSION}"
    same = {
        CONFIG: REPO / "packaging/deb/config.yml",
        FLAGS_FILE: REPO / "packaging/deb/zoho-cadences-exporter.default",
        UNIT_DIR / SERVICE: REPO / "packaging/deb" / SERVICE,
        UNIT_DIR / SOCKET: REPO / "packaging/deb" / SOCKET,
        Path("/usr/share/doc/zoho-cadences-exporter/install.md"): REPO / "docs/install.md",
        **{
            Path("/usr/share/zoho-cadences-exporter/alerts") / p.name: p
            for p in (REPO / "alerts").glob("*.rules.yml")
        },
        **{
            Path("/usr/share/zoho-cadences-exporter/dashboards") / p.name: p
            for p in (REPO / "dashboards").glob("*.json")
        },
    }
    for installed_path, source in same.items():
        assert installed_path.read_bytes() == source.read_bytes(), installed_path
    version = run(str(BINARY), "--version").stdout
    assert VERSION in version and PACKAGE in version, version
    # The folder for the secrets: root's alone, made by postinst.
    info = CREDENTIAL_STORE.stat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert (info.st_uid, info.st_gid) == (0, 0)


def test_units_are_neither_enabled_nor_started_on_install(installed):
    # Enabling writes symlinks under /etc/systemd/system/<target>.wants/; the service would fail
    # to start before the secrets are in place.
    links = [p for p in Path("/etc/systemd/system").rglob(f"{PACKAGE}.*") if p.is_symlink()]
    assert links == []


def test_systemd_analyze_verify_accepts_both_units(installed):
    result = run(
        "systemd-analyze", "verify", "--man=no", str(UNIT_DIR / SERVICE), str(UNIT_DIR / SOCKET),
        check=False,
    )
    # verify exits 0 on many warnings: any output is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), shown(result)


def test_service_is_hardened(installed):
    service = unit_settings(UNIT_DIR / SERVICE)["Service"]
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "Restart": "on-failure",
        "EnvironmentFile": "-/etc/default/zoho-cadences-exporter",
        "ExecReload": "/bin/kill -HUP $MAINPID",
    }.items():
        assert service.get(key) == [value], (key, service.get(key))
    assert service["SystemCallFilter"][0] == "@system-service"
    assert service["LoadCredential"] == [
        f"{name}:/etc/zoho-cadences-exporter/credentials/{name}" for name in SECRET_NAMES
    ]
    assert "--config.file=/etc/zoho-cadences-exporter/config.yml" in exec_start("")
    # systemd's own review of the sandbox: 1.2 ("OK") with Debian 12's systemd; the threshold is
    # in tenths.
    result = run(
        "systemd-analyze", "security", "--offline=true", "--threshold=20", str(UNIT_DIR / SERVICE),
        check=False,
    )
    assert result.returncode == 0, shown(result)


def test_example_config_reads_the_three_credentials_where_systemd_puts_them(installed):
    text = CONFIG.read_text()
    for name in SECRET_NAMES:
        assert f"{name}_file: {CREDENTIALS}/{name}\n" in text, name


def test_config_check_runs_as_the_unit_once_the_secrets_exist(installed):
    argv = exec_start(flags_from_defaults_file() + " --config.check")
    env = without_listen_fds()
    # Without the credentials the check names the file it cannot read.
    remove_test_credentials()
    missing = run(*argv, check=False, env=env)
    assert missing.returncode != 0, shown(missing)
    assert f"client_id_file: cannot read {CREDENTIALS}/client_id" in missing.stderr, shown(missing)
    # The administrator's part: the secrets in the root-only folder.
    for name, value in TEST_SECRETS.items():
        path = CREDENTIAL_STORE / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    # systemd's part (LoadCredential=): a copy of each in the service's credentials directory.
    CREDENTIALS.mkdir(mode=0o500, parents=True, exist_ok=True)
    for name in SECRET_NAMES:
        shutil.copyfile(CREDENTIAL_STORE / name, CREDENTIALS / name)
        (CREDENTIALS / name).chmod(0o400)
    result = run(*argv, env=env)
    assert result.stdout.startswith("config OK: 1 org(s), 0 expectation(s)"), shown(result)
    for value in TEST_SECRETS.values():
        assert value not in result.stdout + result.stderr


def test_socket_activation_is_the_socket_units_opt_in(installed, tmp_path: Path):
    socket = unit_settings(UNIT_DIR / SOCKET)
    assert socket["Socket"]["ListenStream"] == ["10263"]
    assert socket["Install"]["WantedBy"] == ["sockets.target"]
    # The service adds --web.systemd-socket exactly when systemd passes sockets (LISTEN_FDS), i.e.
    # when the socket unit is active. Shown with a stand-in for the exporter that prints its flags.
    show_flags = tmp_path / "show-flags"
    show_flags.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    show_flags.chmod(0o755)
    argv = exec_start("--log.level=debug")
    assert argv[3] == str(BINARY)
    argv[3] = str(show_flags)
    plain = run(*argv, env=without_listen_fds()).stdout.split()
    assert plain == ["--config.file=/etc/zoho-cadences-exporter/config.yml", "--log.level=debug"]
    activated = run(*argv, env={**without_listen_fds(), "LISTEN_FDS": "1", "LISTEN_PID": "1"}).stdout.split()
    assert activated == ["--web.systemd-socket", *plain]


# ---------------------------------------------------------------------------------------------
# The sandbox against what the exporter does


def syscall_set(filter_name: str) -> set[str]:
    """The system calls of a systemd syscall group such as @system-service, groups expanded."""
    names = set()
    for line in run("systemd-analyze", "syscall-filter", filter_name).stdout.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        names |= syscall_set(item) if item.startswith("@") else {item}
    return names


TRACE_LINE = re.compile(r"^\d+ +(?:<\.\.\. )?([a-z0-9_]+)[( ]")


def traced(*argv: str, trace: Path, env: dict[str, str], **popen) -> subprocess.Popen:
    assert shutil.which("strace"), "strace is not installed (scripts/test installs it)"
    return subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(trace), *argv], env=env, stdin=subprocess.DEVNULL, **popen
    )


def test_sandbox_admits_what_the_exporter_does(installed, tmp_path: Path):
    """The installed exporter, started through the unit's ExecStart wrapper, serves and reloads
    its demo and collects a config org, under strace: every system call it makes is allowed by
    SystemCallFilter=, every socket family by RestrictAddressFamilies=, no mapping is writable
    and executable (MemoryDenyWriteExecute=), and no file is opened for writing or under /home or
    /root (ProtectSystem=strict, ProtectHome=). A call the filter refuses would fail in
    production with EPERM (SystemCallErrorNumber=). Name resolution is exercised with localhost
    (/etc/hosts), not through a DNS server."""
    service = unit_settings(UNIT_DIR / SERVICE)["Service"]
    env = without_listen_fds()
    traces = []

    # 1. The demo, through the unit's wrapper: collections, scrapes, the status page, reloads by
    #    HTTP and by SIGHUP, and a graceful stop.
    wrapper = exec_start("")[:3]
    port = free_port()
    trace = tmp_path / "demo.strace"
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = traced(
            *wrapper, str(BINARY), "--demo", "--web.listen-address", f"127.0.0.1:{port}",
            trace=trace, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    demo = Process(proc, f"http://127.0.0.1:{port}", port, log)
    try:
        wait_until(lambda: http_get(demo.base_url + "/-/ready")[0] == 200, time.monotonic() + 60, "demo ready", demo)
        status, body = http_get(demo.base_url + "/metrics")
        assert status == 200 and b"zoho_crm_up" in body
        assert http_get(demo.base_url + "/")[0] == 200
        with urllib.request.urlopen(urllib.request.Request(demo.base_url + "/-/reload", method="POST"), timeout=30) as r:
            assert r.status == 200 and r.read() == b"config reloaded\n"
        (exporter_pid,) = (
            int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        )
        assert Path(f"/proc/{exporter_pid}/exe").resolve() == BINARY
        os.kill(exporter_pid, signal.SIGHUP)
        wait_until(lambda: demo.output().count("config reloaded") >= 2, time.monotonic() + 30, "SIGHUP reload", demo)
        os.kill(exporter_pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, demo.output()
    finally:
        stop(proc)
    traces.append(trace)

    # 2. A configured org against a closed port on localhost: name resolution, a refused
    #    connection, secrets read from files, one collection (--once exits 1 as it failed).
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in TEST_SECRETS.items():
        (secrets / name).write_text(value)
    closed = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        "interval: 1s\ntimeout: 1s\norgs:\n  - name: acme\n"
        + "".join(f"    {name}_file: {secrets / name}\n" for name in SECRET_NAMES)
        + f"    accounts_url: http://localhost:{closed}\n    api_domain: http://localhost:{closed}\n"
    )
    trace = tmp_path / "once.strace"
    proc = traced(
        str(BINARY), "--once", "--config.file", str(config), trace=trace, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and b'zoho_crm_up{org="acme"} 0' in out, (out[-2000:], err[-2000:])
    traces.append(trace)

    lines = [line for t in traces for line in t.read_text().splitlines()]
    used = {m.group(1) for line in lines if (m := TRACE_LINE.match(line))}
    assert {"execve", "socket", "accept4", "openat"} <= used, sorted(used)
    allowed, denied = set(), set()
    for entry in service["SystemCallFilter"]:
        for name in entry.removeprefix("~").split():
            (denied if entry.startswith("~") else allowed).update(
                syscall_set(name) if name.startswith("@") else {name}
            )
    assert sorted(used - (allowed - denied)) == [], "system calls the unit's SystemCallFilter= refuses"

    families = {m for line in lines for m in re.findall(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", line)}
    assert "AF_INET" in families
    assert families <= set(service["RestrictAddressFamilies"][0].split()), families

    wx = [l for l in lines if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(", l)
          and "PROT_EXEC" in l and ("PROT_WRITE" in l or "mprotect(" in l)]
    assert wx == [], "writable and executable memory, refused by MemoryDenyWriteExecute="

    writes = [l for l in lines if re.search(r"\bopen(at)?\(.*O_(WRONLY|RDWR|CREAT)", l)]
    assert writes == [], "files opened for writing: ProtectSystem=strict makes them read-only"
    home = [l for l in lines if re.search(r'"/(home|root)(/|")', l)]
    assert home == [], "paths under /home or /root: ProtectHome= hides them"


# ---------------------------------------------------------------------------------------------
# Upgrade and purge (last: they change the installation the tests above look at)


def test_upgrade_keeps_the_administrators_configuration(installed):
    changed = FLAGS_FILE.read_text() + 'ARGS="--log.format=json"\n'
    FLAGS_FILE.write_text(changed)
    # Installing over an installed version is an upgrade for dpkg (prerm upgrade, postinst
    # configure <old version>); a conffile the package did not change keeps the local edit.
    run("dpkg", "-i", str(installed))
    assert FLAGS_FILE.read_text() == changed
    assert flags_from_defaults_file() == "--log.format=json"
    assert all((CREDENTIAL_STORE / name).read_text().strip() == TEST_SECRETS[name] for name in SECRET_NAMES)
    assert stat.S_IMODE(CREDENTIAL_STORE.stat().st_mode) == 0o700


def test_purge_removes_the_package_its_configuration_and_its_secrets(installed, contents: dict[str, str]):
    run("dpkg", "--purge", PACKAGE)
    assert not is_installed()
    files = [Path(p) for p, mode in contents.items() if not mode.startswith("d")]
    assert [p for p in files if p.exists()] == []
    for folder in (ETC_DIR, Path("/usr/share/zoho-cadences-exporter"), Path("/usr/share/doc/zoho-cadences-exporter")):
        assert not folder.exists(), folder
