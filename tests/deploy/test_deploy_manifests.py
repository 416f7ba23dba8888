"""`deploy/` checked offline: the Kubernetes manifests against the Kubernetes API schemas shipped in
`kubernetes-validate`, the Compose file against the Compose spec schema shipped in
`check-jsonschema`, the NATS configuration against nats-server itself (`-t`), and the production
properties each of them must keep (replicas, probes, budgets, secrets, keyvault's isolation, non-root
images). Nothing is downloaded."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from scripts import deploy_nats_conf
from shared.embedded import executable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("gateway", "keyvault", "catalog", "activity")
Doc = dict[str, Any]


def manifests() -> list[tuple[str, Doc]]:
    out = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


def find(kind: str, name: str) -> Doc:
    found = [d for _, d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("file", "doc"), manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_kubernetes_manifest_is_valid_against_the_kubernetes_schema(file: str, doc: Doc) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    errors = [e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(compose)]
    assert errors == []
    for service in SERVICES:
        assert compose["services"][service]["deploy"]["replicas"] >= 2
    assert {f"nats-{i}" for i in (1, 2, 3)} <= compose["services"].keys()
    assert "--replSet" in compose["x-mongo"]["command"]


def test_the_nats_configuration_is_generated_from_the_code_and_nats_server_accepts_it(tmp_path: Path) -> None:
    committed = (DEPLOY / "nats" / "nats.conf").read_text()
    assert committed == deploy_nats_conf.render(), "run scripts/deploy_nats_conf.py > deploy/nats/nats.conf"
    assert find("ConfigMap", "nats-config")["data"]["nats.conf"] == committed
    # nats-server parses it (with its TLS files and store moved to a temporary directory)
    tls = tmp_path / "tls"
    from scripts import devca  # noqa: PLC0415

    files = devca.make(tls)
    conf = (
        committed.replace("/etc/nats/tls/tls.crt", str(files.cert))
        .replace("/etc/nats/tls/tls.key", str(files.key))
        .replace("/etc/nats/tls/ca.crt", str(files.ca))
        .replace("/data/jetstream", str(tmp_path / "js"))
    )
    (tmp_path / "nats.conf").write_text(conf)
    env = {
        **os.environ,
        "NATS_SERVER_NAME": "nats-0",
        "NATS_MAX_FILE_STORE": "1G",
        **{f"NATS_ROUTE_{i}": f"nats-route://route:pw@127.0.0.1:{6221 + i}" for i in (1, 2, 3)},
        **{
            f"NATS_{u}_PASSWORD": f"pw-{u}" for u in ("ROUTE", "GATEWAY", "CATALOG", "KEYVAULT", "ACTIVITY", "OPERATOR")
        },
    }
    checked = subprocess.run(
        [executable("nats-server"), "-c", str(tmp_path / "nats.conf"), "-t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "is valid" in checked.stderr + checked.stdout


def test_nats_runs_three_nodes_with_tls_and_the_streams_are_provisioned_with_three_replicas() -> None:
    nats = find("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    assert '"tls"' in find("ConfigMap", "nats-config")["data"]["nats.conf"]
    env = {e["name"]: e for e in pod_spec(find("Job", "keyrelay-provision"))["containers"][0]["env"]}
    assert env["KEYRELAY_STREAM_REPLICAS"]["value"] == "3"
    assert env["KEYRELAY_NATS_URL"]["value"].count("tls://") == 3
    assert find("StatefulSet", "mongodb")["spec"]["replicas"] == 3


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_replicas_with_probes_resources_a_disruption_budget_and_secrets_from_a_secret(
    service: str,
) -> None:
    deployment = find("Deployment", service)
    assert deployment["spec"]["replicas"] >= 2
    spec = pod_spec(deployment)
    container = spec["containers"][0]
    assert {"requests", "limits"} <= container["resources"].keys()
    assert {"livenessProbe", "readinessProbe"} <= container.keys()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["envFrom"] == [{"secretRef": {"name": f"keyrelay-{service}"}}]
    literal = {e["name"] for e in container["env"] if "value" in e}
    assert not {n for n in literal if re.search(r"(PASSWORD|_KEY|_KEKS|MONGODB_URI)$", n)}, literal
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KEYRELAY_NATS_USER"] == service
    assert env["KEYRELAY_NATS_TLS_CA"]
    budget = find("PodDisruptionBudget", service)
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"].get("minAvailable", 0) >= 1


def test_the_gateway_is_live_on_healthz_and_ready_on_readyz() -> None:
    container = pod_spec(find("Deployment", "gateway"))["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_keyvault_runs_on_its_own_nodes_and_may_reach_only_nats_its_database_and_dns() -> None:
    spec = pod_spec(find("Deployment", "keyvault"))
    assert spec["nodeSelector"] == {"keyrelay.dev/role": "keyvault"}
    assert any(t["key"] == "keyrelay.dev/keyvault" for t in spec["tolerations"])
    for other in ("gateway", "catalog", "activity"):
        assert "keyrelay.dev/keyvault" not in json.dumps(pod_spec(find("Deployment", other)))
    policy = find("NetworkPolicy", "keyvault")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "keyvault"}
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    reached = {
        (json.dumps(peer, sort_keys=True), port["port"])
        for rule in policy["egress"]
        for peer in rule["to"]
        for port in rule["ports"]
    }
    targets = {
        json.loads(peer).get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        for peer, _ in reached
    }
    assert targets == {"nats", "mongodb", None}  # None: kube-dns, matched by its own labels
    assert {port for _, port in reached} == {4222, 27017, 53}
    assert all(port["port"] == 9090 for rule in policy["ingress"] for port in rule["ports"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_non_root_image_with_only_its_own_code(service: str) -> None:
    text = (DEPLOY / "docker" / f"{service}.Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}
    copied = set(re.findall(r"^COPY (?:--from=\S+ )?(services/\S+|shared)\b", text, re.MULTILINE))
    assert copied == {"shared", f"services/{service}"}
    assert f'"serve", "{service}"' in text
