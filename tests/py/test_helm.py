"""Tests of the Helm chart (helm/zoho-cadences-exporter) and the container image recipe (Dockerfile).

The chart is linted and rendered by Helm's own Go SDK (helm-python-sdk embeds Helm v4), never by a
re-implementation: what passes here is what `helm lint` / `helm template` / `helm install` see.
Rendered core objects are validated against the Kubernetes OpenAPI schemas shipped by
kubernetes-validate; the ServiceMonitor and PrometheusRule against the prometheus-operator shapes in
helm_crd_shapes.py. Alert rules and dashboards are read from alerts/ and dashboards/ at test time, so
the chart is checked against whatever those folders hold now.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import subprocess
import tarfile
import tomllib
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from helm_crd_shapes import PROMETHEUS_RULE, SERVICE_MONITOR

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "zoho-cadences-exporter"
CI_DIR = CHART_DIR / "ci"
KUBE_VERSION = kubernetes_validate.latest_version()  # the newest schema set the pinned package ships
RELEASE = "zce"
NAMESPACE = "monitoring"
CONFIG_DIR = "/etc/zoho-cadences-exporter"

# The exporter's config.yaml keys (src/config/raw.rs refuses any other).
CONFIG_KEYS = {
    "interval", "timeout", "per_cadence_metrics", "max_response_bytes", "orgs", "expectations",
    "enrollment", "analytics",
}
ORG_KEYS = {
    "name", "data_center", "client_id", "client_id_file", "client_secret", "client_secret_file",
    "refresh_token", "refresh_token_file", "api_version", "accounts_url", "api_domain",
}
CREDENTIAL_FIELDS = ("client_id", "client_secret", "refresh_token")
CORE_KINDS = {
    "ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "NetworkPolicy",
    "PodDisruptionBudget",
}


# ---------------------------------------------------------------------------------------------
# Rendering with Helm's SDK


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def ci_values(name: str) -> dict:
    return yaml.safe_load((CI_DIR / f"{name}-values.yaml").read_text())


def render(chart, values: dict | None, release: str = RELEASE) -> list[dict]:
    """Renders like `helm template`; returns the objects (NOTES.txt and empty documents left out)."""
    manifests = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {})
                objects.append(doc)
    return objects


def render_notes(chart, values: dict) -> str:
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def kinds(objects: list[dict]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def container(objects: list[dict]) -> dict:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return pod["containers"][0]


def rendered_config(objects: list[dict]) -> dict:
    return yaml.safe_load(one(objects, "ConfigMap", f"{RELEASE}-zoho-cadences-exporter")["data"]["config.yaml"])


def mounted_files(objects: list[dict]) -> dict[str, tuple[str, str]]:
    """Path in the container -> (Secret or ConfigMap name, key), from the pod's projected volumes."""
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
    files = {}
    for volume in pod.get("volumes", []):
        if "projected" not in volume or volume["name"] not in mounts:
            continue
        for source in volume["projected"]["sources"]:
            (kind, ref), = source.items()
            for item in ref["items"]:
                files[f"{mounts[volume['name']]}/{item['path']}"] = (f"{kind}/{ref['name']}", item["key"])
    return files


# The value sets rendered by most tests: chart-testing's ci/ files (also what `ct lint` would use).
# "one-org" is the chart's defaults plus the single thing they lack, an org to watch.
MATRIX = ["one-org", "two-orgs", "existing-secret", "full", "demo"]


@pytest.fixture(scope="module")
def rendered(chart):
    return {name: render(chart, ci_values(name)) for name in MATRIX}


# ---------------------------------------------------------------------------------------------
# The repository's alerts and dashboards, read now


def alert_rule_files() -> list[Path]:
    """alerts/*.yml|yaml holding `groups:` (promtool unit-test files have none), as the chart globs them."""
    files = sorted(p for p in (ROOT / "alerts").iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    rule_files = [p for p in files if "groups" in (yaml.safe_load(p.read_text()) or {})]
    assert rule_files, "alerts/ holds no rule file: the PrometheusRule would be empty"
    return rule_files


def alert_groups() -> list[dict]:
    groups = []
    for path in alert_rule_files():
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def dashboard_files() -> list[Path]:
    files = sorted((ROOT / "dashboards").glob("*.json"))
    assert files, "dashboards/ holds no dashboard"
    return files


# ---------------------------------------------------------------------------------------------
# Chart metadata and lint


def test_chart_metadata_follows_the_crate(chart):
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    meta = chart.metadata
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "zoho-cadences-exporter"
    assert meta["version"] == "0.1.0"
    assert meta["appVersion"] == cargo["package"]["version"]


def test_image_defaults_to_app_version(chart, rendered):
    assert container(rendered["one-org"])["image"] == (
        f"ghcr.io/zoho-cadences-exporter/zoho-cadences-exporter:{chart.metadata['appVersion']}"
    )
    digest = ci_values("full")["image"]["digest"]
    assert container(rendered["full"])["image"].endswith(f":{chart.metadata['appVersion']}@{digest}")


@pytest.mark.parametrize("values_name", [None, *MATRIX])
def test_lint_is_clean(values_name):
    values = ci_values(values_name) if values_name else None
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == [], report
    # Severity 2 is a warning, 3 an error; info (1) only suggests an icon.
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report["messages"]


def test_values_yaml_documents_every_key(chart):
    """Every setting (leaf key) of values.yaml has a comment right above it or above a mapping it belongs to
    (e.g. the documented securityContext covers its fields); and every default key is in the schema."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    keys = []  # (line index, indent, key)
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:- )?([A-Za-z][A-Za-z0-9_]*):", line)
        if match:
            keys.append((i, len(match.group(1)), match.group(2)))

    def commented(i):
        return i > 0 and lines[i - 1].strip().startswith("#")

    undocumented = []
    for n, (i, indent, key) in enumerate(keys):
        if n + 1 < len(keys) and keys[n + 1][1] > indent:
            continue  # a group of settings: its leaves are checked
        ancestors, want = [], indent
        for j, ind, _ in reversed(keys[:n]):
            if ind < want:
                ancestors.append(j)
                want = ind
        if not (commented(i) or any(commented(j) for j in ancestors)):
            undocumented.append(f"line {i + 1}: {key}")
    assert undocumented == []

    schema = chart.schema

    def walk(values, node, path):
        props = node.get("properties")
        if not isinstance(values, dict) or props is None:
            return
        for key, value in values.items():
            assert key in props, f"{path}{key} is in values.yaml but not in values.schema.json"
            walk(value, props[key], f"{path}{key}.")

    walk(chart.values, schema, "")


def test_schema_accepts_the_defaults_and_every_ci_value_set(chart):
    chart.validate_schema(chart.values)
    for name in MATRIX:
        chart.validate_schema(chart.merge_values(ci_values(name)))


# ---------------------------------------------------------------------------------------------
# values.schema.json refuses bad values, at validation and at render


BAD_VALUES = [
    ({"replicas": "two"}, "/replicas"),
    ({"replicas": 1.5}, "/replicas"),
    ({"demo": "yes"}, "/demo"),
    ({"unknownTopLevel": True}, "unknownTopLevel"),
    ({"config": {"intervall": "5m"}}, "intervall"),
    ({"config": {"interval": "5 minutes please"}}, "/config/interval"),
    ({"config": {"perCadenceMetrics": "false"}}, "/config/perCadenceMetrics"),
    ({"config": {"enrollment": {"enabled": 1}}}, "/config/enrollment/enabled"),
    ({"config": {"maxResponseBytes": "lots"}}, "/config/maxResponseBytes"),
    ({"orgs": [{"name": "acme corp", "existingSecret": "s"}]}, "/orgs/0/name"),
    ({"orgs": [{"name": "acme", "dataCenter": "mars", "existingSecret": "s"}]}, "/orgs/0/dataCenter"),
    ({"orgs": [{"name": "acme", "apiVersion": "v6", "existingSecret": "s"}]}, "/orgs/0/apiVersion"),
    ({"orgs": [{"name": "acme", "client_secret": "x"}]}, "client_secret"),
    ({"orgs": [{"existingSecret": "s"}]}, "name"),
    ({"orgs": "acme"}, "/orgs"),
    ({"expectations": [{"name": "e", "cadence": "A*", "id": "1", "active": True}]}, "/expectations/0"),
    ({"expectations": [{"name": "e", "cadence": "A*"}]}, "active"),
    ({"expectations": [{"name": "e", "id": "abc", "active": True}]}, "/expectations/0"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"commonLabels": {"tier": 3}}, "/commonLabels/tier"),
    ({"log": {"level": "trace"}}, "/log/level"),
    ({"webConfig": {"basic_auth_user": {}}}, "basic_auth_user"),
    ({"serviceMonitor": {"interval": "1 minute"}}, "/serviceMonitor/interval"),
    ({"serviceMonitor": {"labels": ["release"]}}, "/serviceMonitor/labels"),
    ({"prometheusRule": {"disabled": "ZohoCadenceApiErrors"}}, "/prometheusRule/disabled"),
    ({"dashboards": {"labelValue": 1}}, "/dashboards/labelValue"),
    ({"networkPolicy": {"enabled": "true"}}, "/networkPolicy/enabled"),
    ({"service": {"port": 70000}}, "/service/port"),
]


@pytest.mark.parametrize(("bad", "named"), BAD_VALUES, ids=[json.dumps(b) for b, _ in BAD_VALUES])
def test_schema_refuses_bad_values(chart, bad, named):
    values = {**ci_values("one-org"), **bad}
    with pytest.raises(helm.HelmValuesError) as validated:
        chart.validate_schema(chart.merge_values(values))
    assert named in str(validated.value)
    # and an install or `helm template` stops on it too
    with pytest.raises(helm.HelmValuesError) as rendering:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert named in str(rendering.value)


# Mistakes the schema cannot see, refused by the templates with a message naming the problem.
TEMPLATE_FAILURES = [
    ({}, "orgs is empty"),
    ({"demo": True, "orgs": [{"name": "acme", "existingSecret": "s"}]}, "demo runs the exporter's embedded demo org"),
    ({"orgs": [{"name": "acme"}]}, "orgs[0] (acme) has no credentials"),
    ({"orgs": [{"name": "acme", "clientId": "1000.X", "clientSecret": "s"}]}, "must all be set"),
    (
        {"orgs": [{"name": "acme", "existingSecret": "s", "clientSecret": "x"}]},
        "give either existingSecret or clientId/clientSecret/refreshToken",
    ),
    (
        {"orgs": [{"name": "acme", "existingSecret": "a"}, {"name": "acme", "existingSecret": "b"}]},
        'the name "acme" is used twice',
    ),
    (
        {"orgs": [{"name": "acme", "existingSecret": "a"}],
         "expectations": [{"name": "e", "org": "globex", "cadence": "*", "active": True}]},
        'org "globex" is not the name of any org',
    ),
    (
        {"orgs": [{"name": "acme", "existingSecret": "a"}],
         "expectations": [{"name": "e", "cadence": "A*", "active": True}, {"name": "e", "id": "1", "active": False}]},
        'the name "e" is used twice',
    ),
    ({"demo": True, "webTls": {"secretName": "tls"}}, "webTls.secretName is set but webConfig is empty"),
]


@pytest.mark.parametrize(("values", "message"), TEMPLATE_FAILURES, ids=[m for _, m in TEMPLATE_FAILURES])
def test_templates_refuse_inconsistent_values(chart, values, message):
    with pytest.raises(helm.HelmRenderError) as error:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert message in str(error.value)


# ---------------------------------------------------------------------------------------------
# Every rendered object is valid


@pytest.mark.parametrize("name", MATRIX)
def test_core_objects_match_the_kubernetes_schemas(rendered, name):
    objects = rendered[name]
    checked = 0
    for obj in objects:
        if obj["kind"] in CORE_KINDS:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
            checked += 1
    assert checked == sum(o["kind"] in CORE_KINDS for o in objects) > 0
    unknown = {o["kind"] for o in objects} - CORE_KINDS - {"ServiceMonitor", "PrometheusRule"}
    assert unknown == set()


@pytest.mark.parametrize("name", MATRIX)
def test_objects_are_named_labelled_and_namespaced(rendered, name):
    values = ci_values(name)
    seen = set()
    for obj in rendered[name]:
        meta = obj["metadata"]
        key = (obj["kind"], meta["name"])
        assert key not in seen, f"{key} rendered twice"
        seen.add(key)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63
        assert meta["namespace"] == NAMESPACE
        labels = meta["labels"]
        assert labels["app.kubernetes.io/name"] == "zoho-cadences-exporter"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        for k, v in values.get("commonLabels", {}).items():
            assert labels[k] == v, f"{key} lacks commonLabels {k}"


def test_long_release_names_still_give_valid_names(chart):
    release = "a-very-long-release-name-for-the-zoho-exporter-abcdef"  # 53: Helm's maximum
    helm.validate_release_name(release)
    objects = render(chart, ci_values("full"), release=release)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), names
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= 63
        if obj["kind"] in CORE_KINDS:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_rendered_kinds_follow_the_switches(rendered):
    base = ["ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"]
    assert kinds(rendered["one-org"]) == base
    assert kinds(rendered["two-orgs"]) == base
    # credentials only from existing Secrets: the chart renders no Secret of its own
    assert kinds(rendered["existing-secret"]) == ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    # demo: no config, no credentials
    assert kinds(rendered["demo"]) == ["Deployment", "Service", "ServiceAccount"]
    full = kinds(rendered["full"])
    assert full == sorted(
        base + ["Secret", "NetworkPolicy", "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule"]
        + ["ConfigMap"] * len(dashboard_files())
    )


# ---------------------------------------------------------------------------------------------
# The Deployment


@pytest.mark.parametrize("name", MATRIX)
def test_pod_is_locked_down(rendered, name):
    deployment = one(rendered[name], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(rendered[name])["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    resources = container(rendered[name])["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]
    assert one(rendered[name], "ServiceAccount")["automountServiceAccountToken"] is False


def test_container_args_ports_and_probes(rendered):
    c = container(rendered["one-org"])
    assert c["args"][0] == f"--config.file={CONFIG_DIR}/config.yaml"
    assert not any(a.startswith("--web.config.file") for a in c["args"])
    assert "--demo" not in c["args"]
    assert c["ports"] == [{"name": "http", "containerPort": 10263, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http", "scheme": "HTTP"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http", "scheme": "HTTP"}
    assert "env" not in c

    demo = container(rendered["demo"])
    assert "--demo" in demo["args"]
    assert not any(a.startswith("--config.file") for a in demo["args"])

    full = container(rendered["full"])
    assert f"--web.config.file={CONFIG_DIR}/web-config.yml" in full["args"]
    assert full["args"][-1] == "--web.telemetry-path=/zoho-metrics"  # extraArgs come last
    assert "--log.level=debug" in full["args"] and "--log.format=json" in full["args"]
    assert full["env"] == [{"name": "TZ", "value": "UTC"}]


def test_probes_follow_the_web_config(chart):
    base = ci_values("one-org")
    tls = {"tls_server_config": {"cert_file": f"{CONFIG_DIR}/tls/tls.crt", "key_file": f"{CONFIG_DIR}/tls/tls.key"}}
    objects = render(chart, {**base, "webConfig": tls, "webTls": {"secretName": "tls"}})
    assert container(objects)["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container(objects)["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"

    # The kubelet can present neither a password nor a client certificate: probe the TCP port.
    for web in (
        {"basic_auth_users": {"prometheus": "$2y$10$abcdefghijklmnopqrstuv"}},
        {"tls_server_config": {**tls["tls_server_config"], "client_auth_type": "RequireAndVerifyClientCert",
                               "client_ca_file": f"{CONFIG_DIR}/tls/ca.crt"}},
    ):
        c = container(render(chart, {**base, "webConfig": web, "webTls": {"secretName": "tls"}}))
        for probe in ("livenessProbe", "readinessProbe"):
            assert c[probe]["tcpSocket"] == {"port": "http"} and "httpGet" not in c[probe]


def test_web_config_is_a_mounted_secret(rendered):
    objects = rendered["full"]
    secret = one(objects, "Secret", f"{RELEASE}-zoho-cadences-exporter-web-config")
    assert yaml.safe_load(base64.b64decode(secret["data"]["web-config.yml"])) == ci_values("full")["webConfig"]
    files = mounted_files(objects)
    assert files[f"{CONFIG_DIR}/web-config.yml"] == (f"secret/{secret['metadata']['name']}", "web-config.yml")
    # every file webConfig names is mounted from webTls.secretName
    for path in ci_values("full")["webConfig"]["tls_server_config"].values():
        assert files[path] == ("secret/zoho-cadences-exporter-tls", Path(path).name)


def test_config_changes_roll_the_pod(chart):
    def checksums(values):
        return one(render(chart, values), "Deployment")["spec"]["template"]["metadata"]["annotations"]

    base = ci_values("one-org")
    before = checksums(base)
    assert set(before) >= {"checksum/config", "checksum/secret"}
    assert checksums(base) == before  # rendering is deterministic

    slower = checksums({**base, "config": {"interval": "10m"}})
    assert slower["checksum/config"] != before["checksum/config"]
    assert slower["checksum/secret"] == before["checksum/secret"]

    rotated_org = {**base["orgs"][0], "refreshToken": "1000.rotated"}
    rotated = checksums({**base, "orgs": [rotated_org]})
    assert rotated["checksum/secret"] != before["checksum/secret"]
    assert rotated["checksum/config"] == before["checksum/config"]

    unrelated = checksums({**base, "serviceMonitor": {"enabled": True, "interval": "15s"}})
    assert unrelated == before


# ---------------------------------------------------------------------------------------------
# config.yaml and credentials


@pytest.mark.parametrize("name", ["one-org", "two-orgs", "existing-secret", "full"])
def test_config_yaml_is_the_exporters_format_and_references_mounted_files(rendered, name):
    objects = rendered[name]
    config = rendered_config(objects)
    values = ci_values(name)
    assert set(config) <= CONFIG_KEYS
    assert [o["name"] for o in config["orgs"]] == [o["name"] for o in values["orgs"]]
    files = mounted_files(objects)
    assert files[f"{CONFIG_DIR}/config.yaml"] == (f"configMap/{RELEASE}-zoho-cadences-exporter", "config.yaml")
    for org in config["orgs"]:
        assert set(org) <= ORG_KEYS
        for field in CREDENTIAL_FIELDS:
            assert field not in org, "credentials must only be referenced as files"
            path = org[f"{field}_file"]
            assert path == f"{CONFIG_DIR}/secrets/{org['name']}/{field}"
            assert path in files, f"{path} is referenced but not mounted"
    assert config.get("expectations", []) == values.get("expectations", [])


def project_volume(objects: list[dict], root: Path) -> None:
    """Writes what the kubelet would put into the pod's projected volume under root (instead of
    CONFIG_DIR): the ConfigMap's and chart Secrets' keys, and stand-ins for Secrets made outside."""
    rendered_data = {}
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            rendered_data[f"configMap/{obj['metadata']['name']}"] = {k: v.encode() for k, v in obj["data"].items()}
        if obj["kind"] == "Secret":
            rendered_data[f"secret/{obj['metadata']['name']}"] = {k: base64.b64decode(v) for k, v in obj["data"].items()}
    for path, (source, key) in mounted_files(objects).items():
        data = rendered_data.get(source, {}).get(key, f"made outside the chart: {source} {key}".encode())
        if key in ("config.yaml", "web-config.yml"):
            data = data.replace(CONFIG_DIR.encode(), str(root).encode())
        target = root / Path(path).relative_to(CONFIG_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def mint_tls_secret(root: Path) -> None:
    """Stands in for the TLS Secret made outside the chart (webTls.secretName): a real
    self-signed certificate and key at the paths the pod would see, so the exporter's start-up
    checks of the web config run for real."""
    tls = root / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(tls / "tls.key"), "-out", str(tls / "tls.crt"), "-days", "1",
         "-subj", "/CN=zoho-cadences-exporter"],
        check=True, capture_output=True, timeout=60,
    )


@pytest.mark.parametrize("name", ["one-org", "two-orgs", "existing-secret", "demo", "full"])
def test_the_exporter_accepts_the_rendered_args_and_config(rendered, name, exporter_binary, tmp_path):
    """The real binary runs the container's own arguments with --config.check, against the files
    the pod would see: the config the chart writes is one the exporter loads, credentials included,
    and (full) the web config with its TLS files and basic-auth users."""
    objects = rendered[name]
    args = container(objects)["args"]
    if name != "demo":
        project_volume(objects, tmp_path)
        args = [a.replace(CONFIG_DIR, str(tmp_path)) for a in args]
    if name == "full":
        assert any(a.startswith("--web.config.file") for a in args), args
        mint_tls_secret(tmp_path)
    result = subprocess.run(
        [str(exporter_binary), *args, "--config.check"], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    values = ci_values(name)
    orgs = len(values.get("orgs", [])) or 1  # the demo has its own single org
    assert f"config OK: {orgs} org(s)" in result.stdout
    if name != "demo":
        assert f"{len(values.get('expectations', []))} expectation(s)" in result.stdout


def test_config_maps_values_to_the_exporters_keys(rendered):
    config = rendered_config(rendered["full"])
    assert config["interval"] == "5m" and config["timeout"] == "30s"
    assert config["per_cadence_metrics"] is True
    assert config["max_response_bytes"] == "32MiB"
    assert config["enrollment"] == {"enabled": True, "interval": "30m"}
    assert config["analytics"] == {"enabled": True, "interval": "6h", "window": "24h"}
    globex = next(o for o in config["orgs"] if o["name"] == "globex")
    assert globex["data_center"] == "eu"
    assert globex["accounts_url"] == "https://accounts.zoho.eu"
    assert globex["api_domain"] == "https://www.zohoapis.eu"

    two = rendered_config(rendered["two-orgs"])
    assert two["interval"] == "15m" and two["per_cadence_metrics"] is False
    assert [(o["name"], o["data_center"], o.get("api_version")) for o in two["orgs"]] == [
        ("acme", "us", None), ("globex-eu", "eu", "v7"),
    ]


def test_credential_sources_and_key_names(rendered):
    files = mounted_files(rendered["existing-secret"])
    # acme: its own existingSecret, plain key names
    for field in CREDENTIAL_FIELDS:
        assert files[f"{CONFIG_DIR}/secrets/acme/{field}"] == ("secret/zoho-acme", field)
    # globex: nothing of its own, so the global existingSecret with <org>.<field> keys
    for field in CREDENTIAL_FIELDS:
        assert files[f"{CONFIG_DIR}/secrets/globex/{field}"] == ("secret/zoho-credentials", f"globex.{field}")

    full = mounted_files(rendered["full"])
    chart_secret = f"secret/{RELEASE}-zoho-cadences-exporter-credentials"
    assert full[f"{CONFIG_DIR}/secrets/acme/client_secret"] == (chart_secret, "acme.client_secret")  # inline wins
    assert full[f"{CONFIG_DIR}/secrets/globex/client_secret"] == ("secret/zoho-credentials", "globex.client_secret")
    assert full[f"{CONFIG_DIR}/secrets/initech/client_secret"] == ("secret/zoho-initech", "client_secret")


def test_credential_files_are_readable_only_by_the_exporters_group(rendered):
    pod = one(rendered["two-orgs"], "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume["projected"]["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == 65532
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert mount["readOnly"] is True and "subPath" not in mount  # so rotated Secrets reach the files


@pytest.mark.parametrize("name", ["one-org", "two-orgs", "full"])
def test_secret_values_stay_in_the_secret(rendered, name):
    values = ci_values(name)
    objects = rendered[name]
    secret = one(objects, "Secret", f"{RELEASE}-zoho-cadences-exporter-credentials")
    inline = [o for o in values["orgs"] if "clientSecret" in o]
    assert inline
    for org in inline:
        for field, key in (("clientId", "client_id"), ("clientSecret", "client_secret"), ("refreshToken", "refresh_token")):
            assert base64.b64decode(secret["data"][f"{org['name']}.{key}"]).decode() == org[field]
            for obj in objects:
                if obj is secret:
                    continue
                text = json.dumps(obj)
                assert org[field] not in text, f"{field} of {org['name']} leaks into {obj['kind']}"
                assert base64.b64encode(org[field].encode()).decode() not in text
    c = container(objects)
    assert not any(e["name"].startswith("ZOHO_") for e in c.get("env", []))
    assert "envFrom" not in c


def test_two_orgs_get_separate_credential_directories(rendered):
    files = mounted_files(rendered["two-orgs"])
    secrets = sorted(p for p in files if p.startswith(f"{CONFIG_DIR}/secrets/"))
    assert secrets == sorted(f"{CONFIG_DIR}/secrets/{org}/{field}" for org in ("acme", "globex-eu") for field in CREDENTIAL_FIELDS)


# ---------------------------------------------------------------------------------------------
# Service, ServiceMonitor, NetworkPolicy, PodDisruptionBudget


def test_service_and_service_monitor_select_the_exporter(rendered):
    objects = rendered["full"]
    service = one(objects, "Service")
    deployment = one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 10263, "targetPort": "http", "protocol": "TCP"}]
    assert all(pod_labels[k] == v for k, v in service["spec"]["selector"].items())
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]

    monitor = one(objects, "ServiceMonitor")
    jsonschema.validate(monitor, SERVICE_MONITOR)
    spec = monitor["spec"]
    assert all(service["metadata"]["labels"][k] == v for k, v in spec["selector"]["matchLabels"].items())
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = spec["endpoints"]
    sm_values = ci_values("full")["serviceMonitor"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/zoho-metrics" == sm_values["path"]
    assert endpoint["scheme"] == "https"  # webConfig serves TLS
    assert endpoint["interval"] == sm_values["interval"] and endpoint["scrapeTimeout"] == sm_values["scrapeTimeout"]
    assert endpoint["tlsConfig"] == sm_values["tlsConfig"]
    assert endpoint["basicAuth"] == sm_values["basicAuth"]
    assert endpoint["relabelings"] == sm_values["relabelings"]
    assert endpoint["metricRelabelings"] == sm_values["metricRelabelings"]


def test_service_monitor_job_is_the_one_the_alerts_select(chart, rendered):
    """The job label Prometheus gives the targets is the job the alert rules select, for any release name."""
    selected = set()
    for group in alert_groups():
        for rule in group["rules"]:
            selected |= set(re.findall(r'job\s*=\s*"([^"]+)"', str(rule["expr"])))
    assert len(selected) == 1, selected
    for release in (RELEASE, "crm-shard-b"):
        objects = render(chart, {**ci_values("one-org"), "serviceMonitor": {"enabled": True}}, release=release)
        monitor = one(objects, "ServiceMonitor")
        jsonschema.validate(monitor, SERVICE_MONITOR)
        job = one(objects, "Service")["metadata"]["labels"][monitor["spec"]["jobLabel"]]
        assert {job} == selected
        assert monitor["spec"]["endpoints"][0]["scheme"] == "http"


def test_network_policy_and_pdb(rendered):
    objects = rendered["full"]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == ci_values("full")["networkPolicy"]["ingressFrom"]
    egress_ports = sorted((p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"])
    assert egress_ports == [(53, "TCP"), (53, "UDP"), (443, "TCP")]
    pdb = one(objects, "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    assert pdb["selector"]["matchLabels"] == one(objects, "Deployment")["spec"]["selector"]["matchLabels"]


# ---------------------------------------------------------------------------------------------
# PrometheusRule and dashboards: built from alerts/ and dashboards/, never copied


def prometheus_rule(chart, extra: dict | None = None) -> dict:
    values = {**ci_values("one-org"), "prometheusRule": {"enabled": True, **(extra or {})}}
    rule = one(render(chart, values), "PrometheusRule")
    jsonschema.validate(rule, PROMETHEUS_RULE)
    return rule


def test_prometheus_rule_holds_exactly_the_alerts_of_the_repository(chart):
    rule = prometheus_rule(chart)
    assert rule["spec"]["groups"] == alert_groups()
    names = [g["name"] for g in rule["spec"]["groups"]]
    assert len(names) == len(set(names)), "group names must be unique within a PrometheusRule"


def test_prometheus_rule_passes_promtool(chart, tmp_path):
    """The rules as Prometheus will load them from the PrometheusRule (after Helm's YAML round trip)."""
    rule = prometheus_rule(chart, {"additionalRuleLabels": {"team": "crm-ops"}})
    rule_file = tmp_path / "rendered.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_prometheus_rule_extra_labels_and_disabled_alerts(chart):
    groups = alert_groups()
    alerts = sorted({r["alert"] for g in groups for r in g["rules"] if "alert" in r})
    dropped = alerts[0]
    rule = prometheus_rule(chart, {"additionalRuleLabels": {"team": "crm-ops", "severity": "overridden?"},
                                   "disabled": [dropped]})
    expected = copy.deepcopy(groups)
    for group in expected:
        group["rules"] = [r for r in group["rules"] if r.get("alert") != dropped]
        for r in group["rules"]:
            if "alert" in r:
                # an alert's own labels win over the additional ones
                r["labels"] = {"team": "crm-ops", "severity": "overridden?", **r.get("labels", {})}
    expected = [g for g in expected if g["rules"]]
    assert rule["spec"]["groups"] == expected
    assert all("alert" not in r or r["labels"]["team"] == "crm-ops" for g in rule["spec"]["groups"] for r in g["rules"])


def test_prometheus_rule_in_the_full_matrix(rendered):
    rule = one(rendered["full"], "PrometheusRule")
    jsonschema.validate(rule, PROMETHEUS_RULE)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rendered_alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert rendered_alerts == [r["alert"] for g in alert_groups() for r in g["rules"] if "alert" in r]


def dashboard_config_maps(objects: list[dict], label: str = "grafana_dashboard") -> list[dict]:
    return [o for o in objects if o["kind"] == "ConfigMap" and label in o["metadata"]["labels"]]


def test_dashboard_config_maps_hold_exactly_the_dashboards(rendered):
    maps = dashboard_config_maps(rendered["full"])
    files = dashboard_files()
    assert len(maps) == len(files)
    by_key = {}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "CRM"
        (key, text), = cm["data"].items()
        by_key[key] = text
        kubernetes_validate.validate(cm, KUBE_VERSION, strict=True)
        # a ConfigMap holds at most 1 MiB
        assert len(text.encode()) < 1024 * 1024
    assert sorted(by_key) == [f.name for f in files]
    for f in files:
        assert by_key[f.name] == f.read_text(), f"{f.name} differs from dashboards/{f.name}"
        json.loads(by_key[f.name])


def test_dashboard_label_and_folder_are_configurable(chart):
    values = {**ci_values("one-org"), "dashboards": {
        "enabled": True, "label": "grafana.io/dashboard", "labelValue": "zoho", "folderAnnotation": "k8s-sidecar-target-directory",
        "folder": "/tmp/dashboards/Zoho", "namespace": "grafana", "labels": {"extra": "yes"},
    }}
    maps = dashboard_config_maps(render(chart, values), label="grafana.io/dashboard")
    assert len(maps) == len(dashboard_files())
    for cm in maps:
        assert "grafana_dashboard" not in cm["metadata"]["labels"]
        assert cm["metadata"]["labels"]["grafana.io/dashboard"] == "zoho"
        assert cm["metadata"]["labels"]["extra"] == "yes"
        assert cm["metadata"]["annotations"] == {"k8s-sidecar-target-directory": "/tmp/dashboards/Zoho"}
        assert cm["metadata"]["namespace"] == "grafana"


def test_packaged_chart_carries_the_rules_and_dashboards(chart, tmp_path):
    """`helm package` resolves the files/ symlinks: the archive holds real copies of alerts/ and dashboards/."""
    archive = Path(chart.save(tmp_path))
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        for source, folder in [(p, "alerts") for p in alert_rule_files()] + [(p, "dashboards") for p in dashboard_files()]:
            member = members[f"zoho-cadences-exporter/files/{folder}/{source.name}"]
            assert member.isfile()
            assert tar.extractfile(member).read() == source.read_bytes()
        assert not any("/ci/" in name for name in members), "ci/ value sets are test input, not chart content"
        packaged_files = [n for n, m in members.items() if "/files/" in n and m.isfile()]
        assert packaged_files and all(n.endswith((".yml", ".yaml", ".json")) for n in packaged_files), packaged_files
    with helm.Chart.load_archive(archive.read_bytes()) as packaged:
        values = {**ci_values("one-org"), "prometheusRule": {"enabled": True}}
        assert one(render(packaged, values), "PrometheusRule")["spec"]["groups"] == alert_groups()


# ---------------------------------------------------------------------------------------------
# NOTES.txt


def test_notes_tell_how_to_reach_the_exporter(chart):
    notes = render_notes(chart, ci_values("two-orgs"))
    assert f"port-forward svc/{RELEASE}-zoho-cadences-exporter 10263:10263" in notes
    assert "Orgs watched (2): acme, globex-eu" in notes
    assert "DEMO MODE" in render_notes(chart, ci_values("demo"))
    full = render_notes(chart, ci_values("full"))
    assert "https://localhost:10263/metrics" in full and '{"release":"kube-prometheus-stack"}' in full


# ---------------------------------------------------------------------------------------------
# Container image recipe


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_a_small_non_root_image():
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) == 2, "multi-stage: a Rust builder and a runtime stage"
    assert froms[0].startswith("rust:1-bookworm") and froms[0].endswith(" AS builder")
    assert froms[1] == "gcr.io/distroless/cc-debian12:nonroot"
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert re.search(r"cargo build\b.*--release\b.*--locked\b", runs)
    final = instructions[[i for i, (w, _) in enumerate(instructions) if w == "FROM"][-1]:]
    assert ("USER", "65532:65532") in final
    assert ("EXPOSE", "10263") in final
    entrypoint = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint == [["/usr/local/bin/zoho-cadences-exporter"]]
    copies = [rest for word, rest in final if word == "COPY"]
    assert any(c.startswith("--from=builder") and c.endswith(" /usr/local/bin/zoho-cadences-exporter") for c in copies)


def test_dockerignore_keeps_build_output_and_secrets_out_of_the_context():
    patterns = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"target", ".git", ".venv"} <= {p.strip("/") for p in patterns}
    # the crate's sources must stay in the context
    for needed in ("src", "Cargo.toml", "Cargo.lock"):
        assert needed not in {p.strip("/") for p in patterns}


# ---------------------------------------------------------------------------------------------
# docs/kubernetes.md: the credit tables follow the cost formulas


def credits_table(name: str) -> dict[str, list[int]]:
    """Rows of the table after `<!-- credits-table: name -->`: first cell -> the numbers."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    block = text.split(f"<!-- credits-table: {name} -->", 1)[1].strip().split("\n\n", 1)[0]
    header, _, *rows = block.splitlines()
    sizes = [int(m.replace(",", "")) for m in re.findall(r"([\d,]+) (?:active )?cadences", header)]
    assert sizes == [50, 500, 5000]
    table = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table[cells[0]] = [int(c.replace(",", "")) for c in cells[1:]]
    return table


PER_DAY = {"1m": 1440, "5m": 288, "15m": 96, "1h": 24, "6h": 4, "24h": 1}


def test_credit_tables_follow_the_cost_formulas():
    sizes = [50, 500, 5000]
    collection = credits_table("collection")
    assert list(collection) == ["1m", "5m", "15m"]
    for interval, row in collection.items():
        # ceil(cadences / 200) page calls per collection, plus about 24 token refreshes a day
        assert row == [-(-n // 200) * PER_DAY[interval] + 24 for n in sizes], interval
    enrollment = credits_table("enrollment")
    for interval, row in enrollment.items():
        assert row == [-(-n // 100) * PER_DAY[interval] for n in sizes], interval
    analytics = credits_table("analytics")
    for interval, row in analytics.items():
        assert row == [n * PER_DAY[interval] for n in sizes], interval
    # the chart's defaults are what the "putting it together" example assumes
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["config"]
    assert (defaults["interval"], defaults["enrollment"]["interval"], defaults["analytics"]["enabled"]) == ("5m", "15m", False)
    assert collection["5m"][1] + enrollment["15m"][1] == 1368
    assert "888 + 480 = 1,368" in (ROOT / "docs" / "kubernetes.md").read_text()


# ---------------------------------------------------------------------------------------------
# sharding.enabled: a StatefulSet of shards instead of the Deployment


def test_sharding_renders_a_valid_statefulset_of_shards(chart):
    values = {**ci_values("two-orgs"), "sharding": {"enabled": True, "replicas": 3},
              "serviceMonitor": {"enabled": True}}
    objects = render(chart, values)
    assert "Deployment" not in kinds(objects)
    sts = one(objects, "StatefulSet")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    service = one(objects, "Service")
    # The headless Service names the pods (exporter-0, -1, -2: --shard auto reads the ordinal).
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    (exporter,) = sts["spec"]["template"]["spec"]["containers"]
    assert exporter["args"].count("--shard=auto") == 1
    assert exporter["args"].count("--total-shards=3") == 1
    for obj in objects:
        if obj["kind"] in CORE_KINDS | {"StatefulSet"}:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    # The ServiceMonitor selects the Service, whose endpoints are every shard's pod; the pods
    # carry the labels it selects on.
    monitor = one(objects, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert selector.items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    # Everything else of the pod is the Deployment's.
    plain = one(render(chart, ci_values("two-orgs")), "Deployment")["spec"]["template"]
    sharded = copy.deepcopy(sts["spec"]["template"])
    sharded["spec"]["containers"][0]["args"] = [a for a in exporter["args"] if not a.startswith(("--shard", "--total-shards"))]
    assert sharded == plain


def test_sharding_counts_the_replicas_when_sharding_replicas_is_unset(chart):
    sts = one(render(chart, {**ci_values("two-orgs"), "sharding": {"enabled": True}, "replicas": 4}), "StatefulSet")
    assert sts["spec"]["replicas"] == 4
    (exporter,) = sts["spec"]["template"]["spec"]["containers"]
    assert "--total-shards=4" in exporter["args"] and "--shard=auto" in exporter["args"]
    override = {**ci_values("two-orgs"), "sharding": {"enabled": True, "replicas": 2}, "replicas": 4}
    assert one(render(chart, override), "StatefulSet")["spec"]["replicas"] == 2, "sharding.replicas wins"


def test_without_sharding_the_deployment_stays(chart):
    assert render(chart, ci_values("two-orgs")) == render(chart, {**ci_values("two-orgs"), "sharding": {"enabled": False, "replicas": 5}})
    assert "clusterIP" not in one(render(chart, ci_values("one-org")), "Service")["spec"]


def test_sharding_needs_at_least_one_replica(chart):
    with pytest.raises(helm.HelmValuesError) as rendering:
        chart.render({**ci_values("one-org"), "sharding": {"enabled": True, "replicas": 0}}, name=RELEASE, namespace=NAMESPACE)
    assert "replicas" in str(rendering.value)
