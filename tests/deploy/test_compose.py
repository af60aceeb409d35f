"""docker/compose.yaml against the compose spec (the real `docker compose config`), the
CLI and the settings the code accepts. No Docker engine runs here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.settings import KafkaSettings
from tests.deploy.contracts import (
    CONFIG,
    DOCKER,
    PROJECT_ROOT,
    compose_binary,
    compose_config,
    is_classroom_image,
    resolve_command,
    run,
    settings_from,
    settings_problems,
)
from workers.kafka import all_topics

ENV_EXAMPLE = DOCKER / ".env.example"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """Every service, both inference profiles included, interpolated from .env.example."""
    return compose_config(ENV_EXAMPLE, "gpu", "cpu")["services"]


def classroom_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if is_classroom_image(s["image"])}


def test_compose_refuses_to_start_without_the_generated_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = run(
        [compose_binary(), "-f", DOCKER / "compose.yaml", "--env-file", empty, "config", "-q"]
    )
    assert done.returncode != 0
    assert "run docker/make-secrets.sh first" in done.stderr


def test_the_stack_has_every_role(services: dict[str, Any]) -> None:
    commands = {name: s.get("command") for name, s in classroom_services(services).items()}
    roles = {
        tuple(command[:2]) if command[0] == "db" else command[0] for command in commands.values()
    }
    assert roles >= {"camera", "infer", "streams", "sink", ("db", "migrate")}
    assert {"kafka", "topics", "clickhouse", "grafana"} <= set(services)


def test_every_classroom_command_parses_with_the_real_cli(services: dict[str, Any]) -> None:
    for name, service in classroom_services(services).items():
        context = resolve_command(service["command"])
        assert context.command.name, name


def test_every_classroom_variable_is_a_setting_and_its_value_is_valid(
    services: dict[str, Any],
) -> None:
    for name, service in classroom_services(services).items():
        environment = service.get("environment", {})
        assert settings_problems(environment) == [], name
        settings_from(environment)


def test_inference_reserves_a_gpu_and_has_a_cpu_variant(services: dict[str, Any]) -> None:
    gpu, cpu = services["infer"], services["infer-cpu"]
    assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert gpu["image"].startswith("classroom-analytics-cuda:")
    assert cpu["image"].startswith("classroom-analytics-cpu:")
    assert gpu["environment"]["CLASSROOM_VISION__DEVICE"] == "cuda"
    assert cpu["environment"]["CLASSROOM_VISION__DEVICE"] == "cpu"
    assert "deploy" not in cpu or "reservations" not in cpu["deploy"].get("resources", {})


def test_only_the_sink_and_the_migration_reach_the_warehouse(services: dict[str, Any]) -> None:
    users = {
        name: s["environment"].get("CLASSROOM_WAREHOUSE__USERNAME")
        for name, s in classroom_services(services).items()
        if "CLASSROOM_WAREHOUSE__DSN" in s.get("environment", {})
    }
    assert users == {"sink": "classroom_writer", "migrate": "classroom_migrator"}


def test_kafka_clients_use_sasl_ssl_and_a_secret_file(services: dict[str, Any]) -> None:
    for name, service in classroom_services(services).items():
        if name == "migrate":
            continue
        env = service["environment"]
        assert env["CLASSROOM_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL", name
        secret = env["CLASSROOM_KAFKA__SASL_PASSWORD_FILE"]
        assert any(s["target"] == secret for s in service["secrets"]), name
        assert "CLASSROOM_KAFKA__SASL_PASSWORD" not in env, name


def test_no_password_is_written_in_the_compose_file() -> None:
    raw = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search("PASSWORD|SECRET", key) and not key.endswith("_FILE"):
                assert re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", str(value)), (name, key)


def topics_script() -> dict[str, dict[str, str]]:
    """Topic name -> its configs, from the `topic NAME key=value...` lines."""
    text = (CONFIG / "create-topics.sh").read_text()
    topics = {}
    for line in text.splitlines():
        if line.startswith("topic "):
            name, *configs = line.split("#")[0].split()[1:]
            topics[name] = dict(config.split("=", 1) for config in configs)
    return topics


def test_the_topics_job_creates_exactly_the_topics_the_code_uses(services: dict[str, Any]) -> None:
    assert set(topics_script()) == set(all_topics(KafkaSettings()))
    job = services["topics"]
    assert job["entrypoint"][-1] == "/opt/classroom/create-topics.sh"
    assert any(v["source"] == str(CONFIG / "create-topics.sh") for v in job["volumes"])


def test_frames_are_kept_for_minutes_only(services: dict[str, Any]) -> None:
    frames = topics_script()[KafkaSettings().frames_topic]
    assert int(frames["retention.ms"]) <= 15 * 60_000
    assert int(frames["segment.ms"]) < int(frames["retention.ms"])
    for name, service in classroom_services(services).items():
        env = service["environment"]
        if "CLASSROOM_KAFKA__FRAMES_RETENTION_MS" in env:
            assert env["CLASSROOM_KAFKA__FRAMES_RETENTION_MS"] == frames["retention.ms"], name
            assert (
                env["CLASSROOM_KAFKA__TOPIC_PARTITIONS"]
                == services["topics"]["environment"]["TOPIC_PARTITIONS"]
            )


def test_clickhouse_reads_every_user_password_from_its_environment(
    services: dict[str, Any],
) -> None:
    users = ET.parse(CONFIG / "clickhouse-users.xml").getroot()
    needed = {element.get("from_env") for element in users.iter() if element.get("from_env")}
    assert needed and needed <= set(services["clickhouse"]["environment"])


def test_clients_use_the_tls_ports_clickhouse_opens_and_no_plain_port_is_open(
    services: dict[str, Any],
) -> None:
    server = ET.parse(CONFIG / "clickhouse-server.xml").getroot()
    https, native_tls = server.findtext("https_port"), server.findtext("tcp_port_secure")
    for plain in ("http_port", "tcp_port", "mysql_port", "postgresql_port"):
        assert server.find(plain).get("remove") == "1", plain
    for name in ("sink", "migrate"):
        dsn = services[name]["environment"]["CLASSROOM_WAREHOUSE__DSN"]
        assert dsn.startswith(f"https://clickhouse:{https}/"), name
    grafana = services["grafana"]["environment"]
    assert (grafana["CLICKHOUSE_PORT"], grafana["CLICKHOUSE_SECURE"]) == (native_tls, "true")
    published = {int(port["target"]) for port in services["clickhouse"]["ports"]}
    assert published == {int(https), int(native_tls)}


def test_grafana_gets_every_variable_of_its_datasource_and_the_read_only_user(
    services: dict[str, Any],
) -> None:
    path = PROJECT_ROOT / "dashboards/provisioning/datasources/clickhouse.yaml"
    (datasource,) = yaml.safe_load(path.read_text())["datasources"]
    values = [*datasource["jsonData"].values(), *datasource["secureJsonData"].values()]
    variables = {name for value in values for name in re.findall(r"\$\{?(\w+)\}?", str(value))}
    env = services["grafana"]["environment"]
    assert variables and variables <= set(env)
    user = datasource["jsonData"]["username"]
    assert env[user.strip("${}")] == "classroom_grafana"


def test_grafana_image_puts_dashboards_where_the_provisioning_looks() -> None:
    provider = yaml.safe_load(
        (PROJECT_ROOT / "dashboards/provisioning/dashboards/classroom.yaml").read_text()
    )["providers"][0]["options"]["path"]
    dockerfile = (DOCKER / "grafana.Dockerfile").read_text()
    assert f"COPY dashboards/generated {provider}" in dockerfile
    assert "COPY dashboards/provisioning /etc/grafana/provisioning" in dockerfile
    assert list((PROJECT_ROOT / "dashboards/generated").glob("*.json"))


def test_the_camera_replays_a_video_by_default(services: dict[str, Any]) -> None:
    camera = services["camera-room-1"]
    source = camera["environment"]["CLASSROOM_CAMERA__SOURCE"]
    (videos,) = [v for v in camera["volumes"] if v["target"] == str(Path(source).parent)]
    assert Path(videos["source"], Path(source).name).is_file()
