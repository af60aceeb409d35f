"""Per-process plumbing: /metrics and /healthz, JSON logs without secrets, Kafka security."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from schemas.settings import KafkaSettings, ServiceSettings, Settings, load_settings
from workers import kafka, service


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_and_healthz_are_served() -> None:
    healthy = {"ok": True}
    server = service.serve_http(0, lambda: healthy["ok"])
    port = server.server_address[1]
    try:
        service.FRAMES.labels("test").inc(3)
        status, body = get(port, "/metrics")
        assert status == 200
        assert 'classroom_frames_total{role="test"} 3.0' in body
        assert get(port, "/healthz") == (200, "ok\n")
        healthy["ok"] = False
        assert get(port, "/healthz")[0] == 503
        assert get(port, "/nope")[0] == 404
    finally:
        server.shutdown()


def test_logs_are_json_and_never_show_secrets() -> None:
    settings = Settings(kafka=KafkaSettings(sasl_password="hunter2-secret"))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(service.JsonFormatter("sink", "sink-1"))
    logger = logging.getLogger("test.spine.secrets")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("starting", extra={"settings": service.safe_settings(settings)})
    line = stream.getvalue()
    assert "hunter2" not in line
    entry = json.loads(line)
    assert entry["role"] == "sink" and entry["msg"] == "starting"
    assert entry["settings"]["kafka"]["sasl_password"] == "**********"


def test_sasl_ssl_settings_reach_the_kafka_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("CLASSROOM_KAFKA__SASL_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("CLASSROOM_KAFKA__BOOTSTRAP_SERVERS", "kafka-1:9093,kafka-2:9093")
    monkeypatch.setenv("CLASSROOM_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CLASSROOM_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CLASSROOM_KAFKA__SASL_USERNAME", "classroom")
    settings = load_settings().kafka  # secret files are read where settings are loaded
    options = kafka.client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "classroom"
    assert options["sasl_plain_password"] == "from-a-file"
    assert options["ssl_context"] is not None

    async def build() -> str:
        return kafka.producer(settings).client._sasl_mechanism

    assert asyncio.run(build()) == "SCRAM-SHA-512"


def test_worker_id_defaults_to_role_host_and_pid() -> None:
    assert service.worker_id(ServiceSettings(), "infer").startswith("infer-")
    assert service.worker_id(ServiceSettings(worker_id="w-7"), "infer") == "w-7"
