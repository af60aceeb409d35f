"""Real services with faults injected, shared by these tests and ``bench/faults.py``.

- ``Relay``: a TCP relay in front of the broker. ``cut()`` closes every connection and
  refuses new ones, which is what clients see when the broker process dies; ``resume()``
  listens again. The broker keeps its log meanwhile, as a restarted Kafka broker does with
  its disk (tansu here keeps its log in memory, so restarting the tansu process itself
  would also wipe the topics: not a fault Kafka has).
- ``Pipeline``: the ``classroom`` processes of one scenario, their logs and ``/metrics``.
- ``FaultResult``: what one scenario counted: events in, events out, lost, duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from classroom.settings import KafkaSettings, WarehouseSettings
from schemas.warehouse import Warehouse
from tests.conftest import CLASSROOM_VIDEO, PROJECT_ROOT
from tests.spine.conftest import free_port, scrape_metric, tansu_binary
from workers import kafka


class Relay:
    """Forwards 127.0.0.1:``port`` to the broker until cut."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def resume(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone would not wake the thread blocked in accept(): it would go on
            # accepting connections on the closed socket.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            if self._listener is not listener:
                client.close()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for side in (source, sink):
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)


@dataclass
class Broker:
    settings: KafkaSettings
    relay: Relay


@contextlib.contextmanager
def relayed_broker(log_path: Path) -> Iterator[Broker]:
    """tansu on a free port, reachable (and advertised) only through a ``Relay``."""
    port = free_port()
    relay = Relay(port)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{relay.port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    try:
        wait_for(lambda: _listening(port), "tansu to listen", 20)
        relay.resume()
        settings = KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{relay.port}", session_timeout_ms=6000
        )
        asyncio.run(kafka.ensure_topics(settings))
        yield Broker(settings, relay)
    finally:
        relay.cut()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Pipeline:
    """``classroom`` processes of one scenario, logging to ``tmp/<name>.log``."""

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

    def metric(self, name: str, sample: str) -> float:
        return scrape_metric(self.ports[name], sample)

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


@dataclass
class FaultResult:
    fault: str
    events_in: int
    events_out: int
    lost: int
    duplicated: int
    detail: str = ""


async def read_topic(topics: KafkaSettings, topic: str) -> list:
    consumer = kafka.consumer(topics, topic, group_id=f"reader-{time.monotonic_ns()}")
    await consumer.start()
    records: list = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            records.extend(record for part in batch.values() for record in part)
    finally:
        await consumer.stop()
    return records
