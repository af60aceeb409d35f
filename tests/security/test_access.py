"""Least privilege in what a school deploys: checked statically (no ClickHouse server or
Kafka broker with ACLs runs here), and the views' SQL SECURITY on the real chdb engine.

- ClickHouse: the Grafana and analyst users may SELECT the ``v_*`` views and nothing
  else, the views run with their definer's rights, readers cannot raise their limits,
  and no user may connect from anywhere; ``schemas/roles.sql`` says the same in SQL.
- Kafka: each role has its own user, whose ACLs allow only what the role reads and writes.
- Ports: ClickHouse and Grafana are published on localhost unless the school says
  otherwise.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.warehouse import Warehouse
from schemas.migrate import load_migrations
from schemas.settings import KafkaSettings
from tests.deploy.contracts import CONFIG, DOCKER, PROJECT_ROOT, compose_config
from workers.kafka import all_topics

ROLES_SQL = (PROJECT_ROOT / "schemas" / "roles.sql").read_text()
USERS = ET.parse(CONFIG / "clickhouse-users.xml").getroot()
KAFKA_ROLES = ("camera", "infer", "streams", "sink")


def views() -> set[str]:
    text = "\n".join(m.text for m in load_migrations())
    return set(re.findall(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(v_\w+)", text))


def user(name: str) -> ET.Element:
    found = USERS.find(f"users/{name}")
    assert found is not None, name
    return found


def xml_grants(name: str) -> list[str]:
    return [query.text or "" for query in user(name).iter("query")]


@pytest.mark.parametrize("name", ["classroom_grafana", "classroom_analyst"])
def test_readers_may_select_the_views_and_nothing_else(name: str) -> None:
    granted = set()
    for grant in xml_grants(name):
        match = re.fullmatch(r"GRANT SELECT ON classroom\.(v_\w+)", grant)
        assert match, f"{name}: {grant!r} is more than SELECT on one view"
        granted.add(match[1])
    assert granted == views()
    role = name  # roles.sql names the roles as users.xml names the users
    assert set(re.findall(rf"GRANT SELECT ON classroom\.(\w+) TO {role};", ROLES_SQL)) == views()
    assert f"ON classroom.* TO {role}" not in ROLES_SQL


def test_control_the_check_refuses_the_broad_grant() -> None:
    broad = "GRANT SELECT ON classroom.*"
    assert not re.fullmatch(r"GRANT SELECT ON classroom\.(v_\w+)", broad)


def test_only_the_migrator_may_change_the_schema() -> None:
    ddl = re.compile(r"\b(ALL|CREATE|ALTER|DROP)\b")
    for element in USERS.find("users"):
        for grant in xml_grants(element.tag):
            if ddl.search(grant) and element.tag != "classroom_migrator":
                assert grant == "GRANT CREATE TABLE ON classroom.schema_migrations", grant


def test_every_user_is_limited_to_private_networks() -> None:
    for element in USERS.find("users"):
        addresses = [ip.text for ip in element.iter("ip")]
        assert addresses, f"{element.tag} may connect from anywhere"
        assert not {"::/0", "0.0.0.0/0", "::"} & set(addresses), element.tag


@pytest.mark.parametrize("profile", ["classroom_readonly", "classroom_analyst"])
def test_readers_cannot_raise_their_limits(profile: str) -> None:
    settings = USERS.find(f"profiles/{profile}")
    constraints = settings.find("constraints")
    assert constraints is not None, f"{profile} has no constraints"
    for limit in ("max_execution_time", "max_memory_usage", "max_result_rows"):
        assert constraints.findtext(f"{limit}/max") == settings.findtext(limit), limit
    for fixed in ("readonly", "allow_ddl"):
        assert constraints.find(f"{fixed}/const") is not None, fixed
    assert re.search(rf"PROFILE IF NOT EXISTS {profile} SETTINGS readonly = 2 CONST", ROLES_SQL)


def test_the_views_run_with_their_definers_rights(tmp_path: Path) -> None:
    with Warehouse.connect_dsn(f"chdb://{tmp_path}") as warehouse:
        warehouse.migrate()
        for view in sorted(views()):
            created = warehouse.command(f"SHOW CREATE TABLE {view}")
            assert "SQL SECURITY DEFINER" in str(created), view
        # control: a view made without it runs with its reader's rights
        warehouse.command("CREATE VIEW v_control AS SELECT 1")
        assert "SQL SECURITY DEFINER" not in str(warehouse.command("SHOW CREATE TABLE v_control"))


# --- Kafka ---------------------------------------------------------------------------------


def acls() -> dict[str, set[tuple[str, str]]]:
    """User -> {(operation, topic or group:NAME)} from create-topics.sh's ``acl`` lines."""
    found: dict[str, set[tuple[str, str]]] = {role: set() for role in KAFKA_ROLES}
    for line in (CONFIG / "create-topics.sh").read_text().splitlines():
        match = re.match(r"acl (\w+) (\w+) --(topic|group) (\S+)", line)
        if match:
            role, operation, kind, name = match.groups()
            found[role].add((operation, name if kind == "topic" else f"group:{name}"))
    return found


def test_each_kafka_role_reads_and_writes_only_what_it_uses() -> None:
    topics = KafkaSettings()
    allowed = acls()
    readers = {
        topic: {r for r, a in allowed.items() if ("Read", topic) in a}
        for topic in all_topics(topics)
    }
    writers = {
        topic: {r for r, a in allowed.items() if ("Write", topic) in a}
        for topic in all_topics(topics)
    }

    assert readers[topics.frames_topic] == {"infer"}  # raw frames: one reader
    assert writers[topics.frames_topic] == {"camera"}
    assert writers[topics.face_events_topic] == {"infer"}  # a camera cannot forge faces
    assert readers[topics.face_events_topic] == {"streams", "sink"}
    assert {op for op, _ in allowed["camera"]} == {"Write"}  # a camera reads nothing
    for topic in (topics.student_metrics_topic, topics.alerts_topic, topics.session_scores_topic):
        assert writers[topic] == {"streams"} and readers[topic] == {"sink"}
    named = {name for entries in allowed.values() for _, name in entries}
    assert named - {
        f"group:{g}" for g in ("classroom-infer", "classroom-streams", "classroom-sink")
    } <= set(all_topics(topics)) | {"classroom-streams-"}


def test_each_service_logs_in_as_its_role() -> None:
    services = compose_config(DOCKER / ".env.example", "gpu", "cpu")["services"]
    users = {
        name: service["environment"].get("CLASSROOM_KAFKA__SASL_USERNAME")
        for name, service in services.items()
        if "CLASSROOM_KAFKA__SECURITY_PROTOCOL" in service.get("environment", {})
    }
    assert users == {
        "camera-room-1": "camera",
        "infer": "infer",
        "infer-cpu": "infer",
        "streams": "streams",
        "sink": "sink",
    }
    jaas = services["kafka"]["environment"]["KAFKA_LISTENER_NAME_CLIENTS_PLAIN_SASL_JAAS_CONFIG"]
    assert set(re.findall(r"user_(\w+)=", jaas)) == {"admin", *KAFKA_ROLES}
    assert services["kafka"]["environment"]["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"


def k8s_workload_env(path: Path) -> dict[str, Any]:
    document = next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Service")
    container = document["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value") for item in container.get("env", [])}


def test_the_cluster_gives_each_role_its_own_kafka_user() -> None:
    base = DOCKER / "k8s" / "base"
    for role in KAFKA_ROLES:
        assert k8s_workload_env(base / f"{role}.yaml")["CLASSROOM_KAFKA__SASL_USERNAME"] == role
        assert f"key: {role}-password" in (base / f"{role}.yaml").read_text()
    kafka = (base / "kafka.yaml").read_text()
    assert set(re.findall(r"user_(\w+)=", kafka)) == {"admin", *KAFKA_ROLES}
    assert "KAFKA_AUTHORIZER_CLASS_NAME" in kafka


# --- ports ----------------------------------------------------------------------------------


def test_clickhouse_and_grafana_are_published_on_localhost_by_default() -> None:
    services = compose_config(DOCKER / ".env.example", "gpu")["services"]
    for name in ("clickhouse", "grafana"):
        published = services[name]["ports"]
        assert published and all(port["host_ip"] == "127.0.0.1" for port in published), name
