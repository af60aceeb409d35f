"""docker/k8s: rendered by kustomize (kubectl's, offline), validated against the
Kubernetes OpenAPI schemas (kubernetes-validate, offline), and checked against the CLI,
the settings and each other. KEDA's ScaledObject and TriggerAuthentication are CRDs with
no schema in kubernetes-validate: their references are checked here instead."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import kubernetes_validate
import pytest
import yaml

from schemas.settings import InferSettings, KafkaSettings, ServiceSettings
from tests.deploy.contracts import (
    CONFIG,
    K8S,
    PLACEHOLDER,
    container_env,
    containers,
    is_classroom_image,
    kustomize,
    resolve_command,
    settings_from,
    settings_problems,
)

KUBERNETES_VERSION = "1.33.0"  # the oldest minor version still maintained upstream (2026)
CUSTOM_RESOURCES = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}
OVERLAYS = {"base": K8S / "base", "cpu": K8S / "overlays" / "cpu"}


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize(OVERLAYS[request.param])


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize(OVERLAYS["base"])


@pytest.fixture(scope="module")
def secrets_template() -> dict[str, dict[str, str]]:
    documents = yaml.safe_load_all((K8S / "secrets-template.yaml").read_text())
    return {doc["metadata"]["name"]: doc for doc in documents}


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def schema_errors(objects: list[dict[str, Any]]) -> list[str]:
    errors = []
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    return errors


def test_every_object_matches_the_kubernetes_schema(rendered: list[dict[str, Any]]) -> None:
    assert len(rendered) > 20
    assert schema_errors(rendered) == []


def test_the_secret_templates_match_the_schema_and_hold_no_secret(
    secrets_template: dict[str, Any],
) -> None:
    assert schema_errors(list(secrets_template.values())) == []
    for secret in secrets_template.values():
        for key, value in secret["stringData"].items():
            if "password" in key or key.endswith((".crt", ".key", ".pem")) or key == "cluster-id":
                assert value == PLACEHOLDER, (secret["metadata"]["name"], key)


def test_the_validator_refuses_a_wrong_field(base: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(named(base, "Deployment", "sink")))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    assert schema_errors([broken])


def test_every_classroom_container_runs_a_real_command_with_real_settings(
    rendered: list[dict[str, Any]],
) -> None:
    seen = set()
    for workload, container in containers(rendered):
        if not is_classroom_image(container["image"]):
            continue
        name = workload["metadata"]["name"]
        assert "command" not in container, f"{name}: the image's entrypoint is `classroom`"
        resolve_command(container["args"])
        seen.add(container["args"][0])
        env = container_env(rendered, container)
        assert settings_problems(env) == [], name
        settings_from(env)
    assert seen == {"camera", "infer", "streams", "sink", "db"}


def test_every_secret_reference_exists_in_the_template(
    rendered: list[dict[str, Any]], secrets_template: dict[str, Any]
) -> None:
    def check(secret: str, key: str | None, where: str) -> None:
        assert secret in secrets_template, f"{where}: no Secret {secret}"
        if key is not None:
            assert key in secrets_template[secret]["stringData"], f"{where}: {secret} has no {key}"

    for workload, container in containers(rendered):
        where = workload["metadata"]["name"]
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref["name"], ref["key"], where)
        pod = workload["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                items = volume["secret"].get("items") or [{"key": None}]
                for item in items:
                    check(volume["secret"]["secretName"], item["key"], where)
    for auth in [o for o in rendered if o["kind"] == "TriggerAuthentication"]:
        for ref in auth["spec"]["secretTargetRef"]:
            check(ref["name"], ref["key"], auth["metadata"]["name"])


def test_inference_is_scheduled_on_gpus_and_autoscaled_on_frames_lag(
    base: list[dict[str, Any]],
) -> None:
    infer = named(base, "Deployment", "infer")
    pod = infer["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert "replicas" not in infer["spec"], "KEDA owns the replica count"

    scaled = named(base, "ScaledObject", "infer")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "infer"
    (trigger,) = scaled["spec"]["triggers"]
    settings = container_env(base, pod["containers"][0])
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == KafkaSettings().frames_topic
    assert trigger["metadata"]["consumerGroup"] == InferSettings().group_id
    assert trigger["metadata"]["bootstrapServers"] == settings["CLASSROOM_KAFKA__BOOTSTRAP_SERVERS"]
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("plaintext", "enable")
    named(base, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    # Workers beyond the partition count would sit idle.
    assert scaled["spec"]["maxReplicaCount"] <= int(settings["CLASSROOM_KAFKA__TOPIC_PARTITIONS"])


def test_the_cpu_overlay_asks_for_no_gpu() -> None:
    cpu = named(kustomize(OVERLAYS["cpu"]), "Deployment", "infer")
    pod = cpu["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "nvidia.com/gpu" not in str(container["resources"]) and "tolerations" not in pod
    assert container["image"].startswith("classroom-analytics-cpu:")
    assert {"name": "CLASSROOM_VISION__DEVICE", "value": "cpu"} in container["env"]


def test_every_long_running_container_has_probes_and_resources(
    rendered: list[dict[str, Any]],
) -> None:
    port = ServiceSettings().http_port
    for workload, container in containers(rendered):
        where = f"{workload['metadata']['name']}/{container['name']}"
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), where
        if workload["kind"] == "Job":
            continue
        assert {"readinessProbe", "livenessProbe"} <= set(container), where
        if is_classroom_image(container["image"]):
            probe = container["livenessProbe"]["httpGet"]
            (http,) = [p for p in container["ports"] if p["name"] == probe["port"]]
            assert (probe["path"], http["containerPort"]) == ("/healthz", port), where
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
        assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], where


def test_only_the_sink_and_the_migration_job_write_to_clickhouse(
    base: list[dict[str, Any]],
) -> None:
    users = {}
    for workload, container in containers(base):
        env = container_env(base, container)
        if "CLASSROOM_WAREHOUSE__DSN" in env:
            users[workload["metadata"]["name"]] = env["CLASSROOM_WAREHOUSE__USERNAME"]
    assert users == {"sink": "classroom_writer", "migrate": "classroom_migrator"}

    policy = named(base, "NetworkPolicy", "clickhouse-writers-and-grafana")
    ports_by_app = {}
    for rule in policy["spec"]["ingress"]:
        for source in rule["from"]:
            selector = source.get("podSelector")
            if selector is None:
                continue
            apps = selector.get("matchLabels", {}).get("app.kubernetes.io/name")
            apps = [apps] if apps else selector["matchExpressions"][0]["values"]
            for app in apps:
                ports_by_app[app] = {port["port"] for port in rule["ports"]}
    assert ports_by_app == {"sink": {8443}, "migrate": {8443}, "grafana": {9440}}
    assert named(base, "NetworkPolicy", "default-deny-ingress")["spec"]["podSelector"] == {}


def test_grafana_reads_with_a_user_that_can_only_select(base: list[dict[str, Any]]) -> None:
    grafana = named(base, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v.get("value") for v in grafana["env"]}
    user = (
        ET.parse(CONFIG / "clickhouse-users.xml")
        .getroot()
        .find(f"users/{env['CLICKHOUSE_READONLY_USER']}")
    )
    assert user is not None
    grants = [query.text for query in user.iter("query")]
    assert grants, "no grant at all"
    assert all(re.fullmatch(r"GRANT SELECT ON classroom\.v_\w+", grant) for grant in grants), grants
    assert user.findtext("profile") == "classroom_readonly"


def test_the_topics_job_and_the_settings_agree_on_retention(base: list[dict[str, Any]]) -> None:
    job = named(base, "Job", "create-topics")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["bash", "/opt/classroom/create-topics.sh"]
    scripts = [
        o
        for o in base
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("kafka-scripts")
    ]
    assert "create-topics.sh" in scripts[0]["data"]
    settings = named(base, "ConfigMap", "classroom-settings")["data"]
    assert int(settings["CLASSROOM_KAFKA__FRAMES_RETENTION_MS"]) <= 15 * 60_000
    assert (
        "retention.ms=" + settings["CLASSROOM_KAFKA__FRAMES_RETENTION_MS"]
        in scripts[0]["data"]["create-topics.sh"]
    )
    job_env = {v["name"]: v.get("value") for v in container["env"]}
    assert job_env["TOPIC_PARTITIONS"] == settings["CLASSROOM_KAFKA__TOPIC_PARTITIONS"]


def test_disruption_budgets_select_real_workloads(base: list[dict[str, Any]]) -> None:
    apps = {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for o in base
        if o["kind"] in ("Deployment", "StatefulSet")
    }
    budgets = [o for o in base if o["kind"] == "PodDisruptionBudget"]
    assert budgets
    for budget in budgets:
        assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] in apps


def replica_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Faust workers and sinks: at least two (one may die, the other takes its partitions
    over) and no more than the topics' partitions (the rest would sit idle)."""
    settings = named(objects, "ConfigMap", "classroom-settings")["data"]
    partitions = int(settings["CLASSROOM_KAFKA__TOPIC_PARTITIONS"])
    problems = []
    for name in ("streams", "sink"):
        replicas = named(objects, "Deployment", name)["spec"]["replicas"]
        if not 2 <= replicas <= partitions:
            problems.append(f"{name}: {replicas} replicas for {partitions} partitions")
    return problems


def test_faust_workers_and_sinks_share_partitions_and_survive_one_loss(
    base: list[dict[str, Any]],
) -> None:
    assert replica_problems(base) == []
    # Control: more Faust workers than partitions is refused.
    crowded = yaml.safe_load(yaml.safe_dump(base))
    named(crowded, "Deployment", "streams")["spec"]["replicas"] = 13
    assert replica_problems(crowded) == ["streams: 13 replicas for 12 partitions"]
