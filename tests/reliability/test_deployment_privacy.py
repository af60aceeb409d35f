"""Privacy and security in what a school deploys, and secrets in the services' logs.

The compose file and the cluster manifests must keep raw frames briefly, talk to Kafka
over SASL_SSL and to ClickHouse over TLS, and take every password from a secret (a file
or a variable filled from one), never from a value written in the file. The services,
run with known secret values in their environment and in a secret file, must never
write those values, even at DEBUG.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import yaml

from schemas.settings import KafkaSettings
from tests.conftest import PROJECT_ROOT
from tests.services import Pipeline
from workers import kafka

DOCKER = PROJECT_ROOT / "docker"
ONE_HOUR_MS = 3_600_000


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]


def k8s_documents() -> list[dict]:
    return [
        document
        for path in sorted((DOCKER / "k8s").rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if isinstance(document, dict)
    ]


def k8s_env() -> dict[str, object]:
    """Every CLASSROOM_* value of the cluster: the shared ConfigMap and the workloads."""
    values: dict[str, object] = {}
    for document in k8s_documents():
        if document.get("kind") == "ConfigMap":
            values.update(document.get("data") or {})
        containers = (
            document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        )
        for container in containers:
            for item in container.get("env", []):
                values[item["name"]] = item.get("value", item.get("valueFrom"))
    return values


def test_the_frames_topic_keeps_raw_frames_at_most_an_hour() -> None:
    script = (DOCKER / "k8s/base/config/create-topics.sh").read_text()
    [retention] = re.findall(r"^topic classroom\.frames\.v1 .*retention\.ms=(\d+)", script, re.M)
    assert int(retention) <= ONE_HOUR_MS
    compose_topics = compose_services()["topics"]
    assert any("create-topics.sh" in volume for volume in compose_topics["volumes"])
    assert "create-topics.sh" in (DOCKER / "k8s/base/kustomization.yaml").read_text()
    for service in compose_services().values():
        value = (service.get("environment") or {}).get("CLASSROOM_KAFKA__FRAMES_RETENTION_MS")
        assert value is None or int(value) <= ONE_HOUR_MS
    assert int(k8s_env()["CLASSROOM_KAFKA__FRAMES_RETENTION_MS"]) <= ONE_HOUR_MS


def test_kafka_is_sasl_ssl_and_clickhouse_is_tls_everywhere() -> None:
    environments = [
        service.get("environment") or {}
        for service in compose_services().values()
        if "CLASSROOM_KAFKA__BOOTSTRAP_SERVERS" in (service.get("environment") or {})
    ]
    assert environments, "the classroom services share the Kafka client settings"
    environments.append(k8s_env())
    for env in environments:
        assert env["CLASSROOM_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
        assert "CLASSROOM_KAFKA__SASL_PASSWORD" not in env, "the password comes from a file"
        assert str(env["CLASSROOM_KAFKA__SASL_PASSWORD_FILE"]).startswith(("/run/", "/etc/"))
        dsn = env.get("CLASSROOM_WAREHOUSE__DSN")
        assert dsn is None or str(dsn).startswith("https://"), dsn


def test_no_password_is_written_in_the_deployment_files() -> None:
    for service in compose_services().values():
        for name, value in (service.get("environment") or {}).items():
            if "PASSWORD" in name and not name.endswith("_FILE"):
                assert str(value).startswith("${"), f"{name} must come from docker/.env"
    for name, value in k8s_env().items():
        if "PASSWORD" in name and not name.endswith("_FILE"):
            assert isinstance(value, dict) and "secretKeyRef" in value, name


def test_services_never_log_secrets(broker: KafkaSettings, tmp_path: Path) -> None:
    kafka_password = f"kafka-{secrets.token_hex(12)}"
    warehouse_password = f"clickhouse-{secrets.token_hex(12)}"
    file_password = f"from-file-{secrets.token_hex(12)}"
    secret_file = tmp_path / "warehouse-password"
    secret_file.write_text(file_password)
    asyncio.run(kafka.ensure_topics(broker))
    pipeline = Pipeline(
        broker,
        tmp_path,
        CLASSROOM_KAFKA__SASL_USERNAME="classroom",
        CLASSROOM_KAFKA__SASL_PASSWORD=kafka_password,
        CLASSROOM_WAREHOUSE__PASSWORD=warehouse_password,
        CLASSROOM_KAFKA__SASL_PASSWORD_FILE=str(secret_file),
        CLASSROOM_SERVICE__LOG_LEVEL="DEBUG",
        CLASSROOM_CAMERA__SAMPLE_FPS="0.25",
        CLASSROOM_CAMERA__REALTIME="false",
    )
    try:
        pipeline.start("camera")
        pipeline.start("infer", "--exit-when-idle", "3")
        pipeline.start("sink", "--exit-when-idle", "3")
        for name in ("camera", "infer", "sink"):
            pipeline.finish(name, timeout=300)
    finally:
        pipeline.stop_all()
    logs = {name: pipeline.log(name) for name in ("camera", "infer", "sink")}
    assert all('"msg": "starting"' in log for log in logs.values()), "settings were logged"
    for name, log in logs.items():
        for secret in (kafka_password, warehouse_password, file_password):
            assert secret not in log, f"{name} logged a secret"
