"""Real services with faults injected, shared by these tests and ``bench/faults.py``.

- ``Relay``: a TCP relay in front of the broker. ``cut()`` closes every connection and
  refuses new ones, which is what clients see when the broker process dies; ``resume()``
  listens again. The broker keeps its log meanwhile, as a restarted Kafka broker does with
  its disk (tansu here keeps its log in memory, so restarting the tansu process itself
  would also wipe the topics: not a fault Kafka has).
- ``FaultResult``: what one scenario counted: events in, events out, lost, duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.settings import KafkaSettings
from tests.services import free_port, tansu_broker
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
    with tansu_broker(log_path, port, relay.port):
        try:
            relay.resume()
            settings = KafkaSettings(
                bootstrap_servers=f"127.0.0.1:{relay.port}", session_timeout_ms=6000
            )
            asyncio.run(kafka.ensure_topics(settings))
            yield Broker(settings, relay)
        finally:
            relay.cut()


@dataclass
class FaultResult:
    fault: str
    events_in: int
    events_out: int
    lost: int
    duplicated: int
    detail: str = ""
