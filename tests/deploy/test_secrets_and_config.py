"""docker/make-secrets.sh run for real (bash + openssl) and its certificates used in real
TLS handshakes, and the ClickHouse config files' SQL parsed by ClickHouse's parser (chdb)."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from schemas.settings import KafkaSettings
from tests.deploy.contracts import CONFIG, DOCKER, compose_config, run, tool
from workers.kafka import ssl_context


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to test docker/make-secrets.sh")
    folder = tmp_path_factory.mktemp("school") / "docker"
    folder.mkdir()
    shutil.copy(DOCKER / "make-secrets.sh", folder)
    done = run(["bash", folder / "make-secrets.sh", "classroom.school.example"])
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize(
    "script", [DOCKER / "make-secrets.sh", CONFIG / "create-topics.sh"], ids=lambda p: p.name
)
def test_shellcheck_passes(script: Path) -> None:
    done = run([tool("shellcheck"), script])
    assert done.returncode == 0, done.stdout


def env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_env_file_sets_every_variable_compose_requires(generated: Path) -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (DOCKER / "compose.yaml").read_text()))
    values = env_file(generated / ".env")
    assert required <= set(values)
    passwords = [value for name, value in values.items() if name.endswith("PASSWORD")]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 24 for p in passwords)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", values["KAFKA_CLUSTER_ID"])
    assert (generated / ".env").stat().st_mode & 0o077 == 0, ".env must be private"
    compose_config(generated / ".env")  # the stack configures from it


def test_the_certificates_chain_to_the_ca_and_name_the_services(generated: Path) -> None:
    tls = generated / "secrets" / "tls"
    for service in ("kafka", "clickhouse"):
        done = run(["openssl", "verify", "-CAfile", tls / "ca.crt", tls / f"{service}.crt"])
        assert done.returncode == 0, done.stdout + done.stderr
        text = run(
            ["openssl", "x509", "-in", tls / f"{service}.crt", "-noout", "-ext", "subjectAltName"]
        ).stdout
        for name in (service, f"{service}.classroom.svc", "classroom.school.example"):
            assert f"DNS:{name}," in text or text.rstrip().endswith(f"DNS:{name}")
    keystore = (tls / "kafka-keystore.pem").read_text()
    assert keystore.index("PRIVATE KEY") < keystore.index("BEGIN CERTIFICATE")


def test_running_it_again_keeps_what_exists(generated: Path) -> None:
    before = (generated / ".env").read_text(), (generated / "secrets/tls/ca.crt").read_text()
    assert run(["bash", generated / "make-secrets.sh"]).returncode == 0
    after = (generated / ".env").read_text(), (generated / "secrets/tls/ca.crt").read_text()
    assert before == after


def test_clickhouse_config_files_are_xml_and_their_sql_parses() -> None:
    statements = []
    for name in ("clickhouse-server.xml", "clickhouse-users.xml"):
        root = ET.parse(CONFIG / name).getroot()
        statements += [query.text for query in root.iter("query")]
    users = ET.parse(CONFIG / "clickhouse-users.xml").getroot()
    assert "CREATE DATABASE IF NOT EXISTS classroom" in statements
    # GRANTs in users.xml name no grantee; give them one so they parse on their own.
    sql = [f"{s} TO someone" if s.startswith("GRANT") else s for s in statements]
    probe = "import chdb, sys\nfor q in sys.argv[1:]:\n    chdb.query('EXPLAIN AST ' + q, 'CSV')\n"
    done = subprocess.run(
        [sys.executable, "-c", probe, *sql], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for user in users.find("users"):
        if user.tag != "default":
            assert user.find("password").get("from_env"), user.tag


@pytest.mark.parametrize("service", ["kafka", "clickhouse"])
def test_clients_complete_a_tls_handshake_with_the_generated_certificate(
    generated: Path, service: str
) -> None:
    """A loopback TLS server with the service's key and certificate; the client side is the
    SSL context the classroom processes build from CLASSROOM_KAFKA__SSL_CAFILE, checking
    the name the stacks use for the service."""
    tls = generated / "secrets" / "tls"
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tls / f"{service}.crt", tls / f"{service}.key")
    client_context = ssl_context(KafkaSettings(ssl_cafile=tls / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls_connection:
                tls_connection.sendall(b"ok")

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_context.wrap_socket(raw, server_hostname=service) as client,
        ):
            assert client.recv(2) == b"ok"
        server.join(timeout=10)
