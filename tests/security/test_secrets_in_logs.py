"""No password reaches a log line or an error message.

Each process runs for real, at DEBUG, with a known password where a school would put one:
in a camera's RTSP URL, in the warehouse DSN, and in Kafka's SASL settings (straight and
from a secret file), against the real tansu broker, with authentication on for the SASL
run. Every line it prints is searched for the passwords. Each test also checks that the
value was logged at all (redacted), and a control logs the raw URL through the same
logging to show the search finds a secret when one is there.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.capture import sample_frames
from core.redact import redact
from schemas.settings import Settings, load_settings, secret_file_variable, secret_paths
from tests.conftest import CLASSROOM_VIDEO, PROJECT_ROOT
from tests.services import free_port, listening, tansu_binary, tansu_broker, wait_for

CAMERA_PASSWORD = "CamPass123"
CAMERA_URL = f"rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:1/x"
DSN_PASSWORD = "DsnPass456"
KAFKA_PASSWORD = "KafkaPass789"
FILE_PASSWORD = "FilePass012"


def leaked(output: str, *secrets: str) -> list[str]:
    """The lines of ``output`` that hold any of ``secrets``."""
    return [line for line in output.splitlines() if any(secret in line for secret in secrets)]


def run_command(*args: str, timeout: float = 120, **env: str) -> str:
    """``classroom ARGS`` at DEBUG with ``env``; everything it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    result = subprocess.run(
        [sys.executable, "-m", "classroom.cli", *args],
        cwd=PROJECT_ROOT,
        env={
            **clean,
            "CLASSROOM_SERVICE__LOG_LEVEL": "DEBUG",
            "CLASSROOM_SERVICE__HTTP_PORT": "0",
            "CLASSROOM_DEBUG": "1",  # tracebacks too
            **env,
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.fixture
def plain_broker(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with tansu_broker(tmp_path / "tansu.log", port, port):
        yield f"127.0.0.1:{port}"


@pytest.fixture
def authenticating_broker(tmp_path: Path) -> Iterator[str]:
    """tansu with client authentication required (and no user: every login fails)."""
    port = free_port()
    with (tmp_path / "tansu.log").open("wb") as log:
        process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--authentication",
             "--listener-url", f"tcp://127.0.0.1:{port}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for(lambda: listening(port), "tansu to listen", 20)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_a_camera_url_with_a_password_is_logged_without_it(plain_broker: str) -> None:
    output = run_command(
        "camera",
        CLASSROOM_CAMERA__SOURCE=CAMERA_URL,
        CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=plain_broker,
    )

    assert '"msg": "starting"' in output  # the settings dump, with camera.source in it
    assert "rtsp://***@127.0.0.1:1/x" in output  # ...and the error naming the source
    assert not leaked(output, CAMERA_PASSWORD)


def test_a_reconnecting_camera_logs_its_url_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A live source that ends is reopened, with a warning naming it: an HTTP stream with
    user:password, served from a local clip, goes round that loop twice."""
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://admin:{CAMERA_PASSWORD}@127.0.0.1:{server.server_address[1]}/clip.avi"
    try:
        with caplog.at_level(logging.WARNING, logger="core.capture"):
            frames = sample_frames(url, 0, reconnect_backoff_s=(0.01, 0.01))
            for _, _ in zip(range(7), frames, strict=False):
                pass
            frames.close()
    finally:
        server.shutdown()

    warnings = [record.getMessage() for record in caplog.records]
    assert any("stopped delivering" in message for message in warnings), warnings
    assert not leaked("\n".join(warnings), CAMERA_PASSWORD)
    assert any("http://***@127.0.0.1" in message for message in warnings), warnings


def test_a_warehouse_dsn_with_a_password_is_logged_without_it(plain_broker: str) -> None:
    output = run_command(
        "sink",
        CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=plain_broker,
        CLASSROOM_WAREHOUSE__DSN=f"http://sink:{DSN_PASSWORD}@127.0.0.1:1/classroom",
    )

    assert "cannot reach the warehouse at http://***@127.0.0.1:1/classroom" in output
    assert not leaked(output, DSN_PASSWORD)


def test_the_sasl_path_logs_no_password(authenticating_broker: str, tmp_path: Path) -> None:
    """The camera logs in over SASL/SCRAM with the password of a secret file (the broker
    knows no such user, so the login fails and is reported): no password in any line."""
    secret_file = tmp_path / "kafka-password"
    secret_file.write_text(FILE_PASSWORD + "\n")
    output = run_command(
        "camera",
        CLASSROOM_CAMERA__SOURCE=str(CLASSROOM_VIDEO),
        CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=authenticating_broker,
        CLASSROOM_KAFKA__SECURITY_PROTOCOL="SASL_PLAINTEXT",
        CLASSROOM_KAFKA__SASL_MECHANISM="SCRAM-SHA-512",
        CLASSROOM_KAFKA__SASL_USERNAME="camera",
        CLASSROOM_KAFKA__SASL_PASSWORD=KAFKA_PASSWORD,
        CLASSROOM_KAFKA__SASL_PASSWORD_FILE=str(secret_file),
        CLASSROOM_WAREHOUSE__PASSWORD_FILE=str(secret_file),
    )

    assert '"sasl_mechanism": "SCRAM-SHA-512"' in output
    assert "Traceback" in output, "the failed login was reported"
    assert not leaked(output, KAFKA_PASSWORD, FILE_PASSWORD)


def test_control_the_search_finds_a_password_that_is_logged() -> None:
    """The same JSON logging, given the raw URL instead of ``redact(url)``."""
    script = (
        "import logging; from schemas.settings import ServiceSettings; "
        "from workers.service import configure_logging; "
        "configure_logging(ServiceSettings(), 'camera'); "
        f"logging.getLogger('x').warning('camera %s stopped delivering', {CAMERA_URL!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )

    assert leaked(result.stderr, CAMERA_PASSWORD)
    assert not leaked(redact(result.stderr), CAMERA_PASSWORD)


def test_every_secret_is_read_from_its_file_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in secret_paths(Settings):
        file = tmp_path / secret_file_variable(path)
        file.write_text(f"from-file-{'.'.join(path)}\n")
        monkeypatch.setenv(secret_file_variable(path), str(file))
    monkeypatch.setenv("CLASSROOM_WAREHOUSE__PASSWORD", "from-the-environment")
    settings = load_settings()

    assert {("warehouse", "password"), ("kafka", "sasl_password")} <= set(secret_paths(Settings))
    for path in secret_paths(Settings):
        value = settings
        for part in path:
            value = getattr(value, part)
        assert value.get_secret_value() == f"from-file-{'.'.join(path)}"  # the file wins


def test_a_secret_file_that_cannot_be_read_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLASSROOM_WAREHOUSE__PASSWORD_FILE", "/no/such/secret")
    with pytest.raises(ValueError, match="CLASSROOM_WAREHOUSE__PASSWORD_FILE names /no/such"):
        load_settings()


def test_a_placeholder_secret_is_refused_without_quoting_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLASSROOM_WAREHOUSE__PASSWORD", DSN_PASSWORD)
    assert load_settings().warehouse.password.get_secret_value() == DSN_PASSWORD  # control
    monkeypatch.setenv("CLASSROOM_KAFKA__SASL_PASSWORD", "REPLACE_ME")
    with pytest.raises(
        ValueError, match=r"kafka\.sasl_password is still the placeholder"
    ) as refused:
        load_settings()
    assert DSN_PASSWORD not in str(refused.value)
