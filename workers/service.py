"""What every long-running process shares: JSON logs, ``/metrics`` + ``/healthz``, a stop
signal, and the periodic ``WorkerHealth`` record.

Logs are one JSON object per line so that Loki/ELK can index them; settings are only ever
logged through ``safe_settings``, which keeps ``SecretStr`` values masked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from core.redact import redact_all
from schemas.events import WorkerHealth, encode
from schemas.settings import ServiceSettings, Settings

log = logging.getLogger(__name__)

# One set of metrics per process, labelled by role so dashboards can tell stages apart.
FRAMES = Counter("classroom_frames_total", "Frames published or consumed", ["role"])
FACES = Counter("classroom_faces_total", "Face events produced or consumed", ["role"])
EVENTS = Counter("classroom_events_total", "Events handled", ["role", "kind"])
DROPS = Counter("classroom_drops_total", "Frames dropped by a full buffer", ["role"])
ERRORS = Counter("classroom_errors_total", "Dead-lettered messages and failed attempts", ["role"])
CHECKPOINT_BYTES = Counter(
    "classroom_checkpoint_bytes_total",
    "Bytes of classroom checkpoints written to the changelog (streams)",
    ["role"],
)
LAG = Gauge("classroom_consumer_lag", "Messages behind the end of the input topic", ["role"])
BATCH_SECONDS = Histogram(
    "classroom_batch_seconds",
    "Time to handle one batch, from first record to committed output",
    ["role"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120)
STORE_DELAY = Histogram(
    "classroom_store_delay_seconds",
    "From a record's Kafka timestamp (when it was produced) to its row in ClickHouse",
    ["topic"],
    buckets=FRESHNESS_BUCKETS,
)
CAPTURE_TO_STORE = Histogram(
    "classroom_capture_to_store_seconds",
    "From a face's frame capture to its face-event row in ClickHouse",
    buckets=FRESHNESS_BUCKETS,
)

_RESERVED_LOG_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str, worker_id: str) -> None:
        super().__init__()
        self.static = {"role": role, "worker": worker_id}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self.static,
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _RESERVED_LOG_ATTRS
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def worker_id(service: ServiceSettings, role: str) -> str:
    return service.worker_id or f"{role}-{socket.gethostname()}-{os.getpid()}"


def configure_logging(service: ServiceSettings, role: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if service.log_json:
        handler.setFormatter(JsonFormatter(role, worker_id(service, role)))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(service.log_level.upper())
    # aiokafka logs every reconnect attempt at ERROR; a broker restart is not an error for us.
    logging.getLogger("aiokafka").setLevel(max(root.level, logging.WARNING))


def safe_settings(settings: Settings) -> dict[str, Any]:
    """Settings as JSON-able data with every secret masked, for the start-up log line:
    ``SecretStr`` fields are masked by pydantic, passwords inside URLs by ``redact_all``."""
    return redact_all(settings.model_dump(mode="json"))


class _Handler(BaseHTTPRequestHandler):
    healthy: Callable[[], bool] = staticmethod(lambda: True)

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body, status, kind = generate_latest(), 200, CONTENT_TYPE_LATEST
        elif self.path == "/healthz":
            ok = self.healthy()
            body, kind = (b"ok\n" if ok else b"unhealthy\n"), "text/plain"
            status = 200 if ok else 503
        else:
            body, status, kind = b"not found\n", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds would drown the real logs


def serve_http(port: int, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve ``/metrics`` and ``/healthz`` on ``port`` (0: any free port) in a daemon thread."""
    handler = type("Handler", (_Handler,), {"healthy": staticmethod(healthy)})
    server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    log.info("serving /metrics and /healthz", extra={"port": server.server_address[1]})
    return server


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so loops can finish their batch and commit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def start_process(settings: Settings, role: str, *, stalled_after_s: float) -> HealthCounters:
    """What every process sets up first: JSON logging, the settings it runs with (secrets
    masked), ``/metrics`` and ``/healthz`` (unhealthy after ``stalled_after_s`` without
    progress), and the counters behind its health records."""
    configure_logging(settings.service, role)
    logging.getLogger(f"workers.{role}").info(
        "starting", extra={"settings": safe_settings(settings)}
    )
    health = HealthCounters(worker_id(settings.service, role), role)
    serve_http(settings.service.http_port, lambda: health.stalled_for() < stalled_after_s)
    return health


@dataclass
class HealthCounters:
    """The numbers behind one process's ``WorkerHealth`` records and ``/healthz``."""

    worker_id: str
    role: str
    frames_in: int = 0
    faces: int = 0
    printed: int = 0
    """Inference only: of ``faces``, verdicts on printed faces (posters), never stored."""
    lag: int = 0
    drops: int = 0
    errors: int = 0
    batch_latency_ms: float = 0.0
    last_progress: float = field(default_factory=time.monotonic)

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def count_batch(self, items: int, faces: int, errors: int, seconds: float) -> None:
        """One handled batch: ``items`` in (frames, or messages for later roles), the faces
        among them, the ``errors`` (rejected or refused), and how long it took."""
        self.frames_in += items
        self.faces += faces
        self.errors += errors
        self.batch_latency_ms = seconds * 1000
        self.progressed()

    def stalled_for(self) -> float:
        """Seconds since the process last moved data; ``/healthz`` fails past a limit."""
        return time.monotonic() - self.last_progress

    def record(self) -> WorkerHealth:
        return WorkerHealth(
            worker_id=self.worker_id,
            role=self.role,
            at=time.time(),
            frames_in=self.frames_in,
            faces=self.faces,
            lag=self.lag,
            drops=self.drops,
            errors=self.errors,
            batch_latency_ms=round(self.batch_latency_ms, 3),
        )


async def publish_health(
    send: Callable[..., Any], topic: str, health: HealthCounters, interval_s: float
) -> None:
    """Every ``interval_s``, send the counters to the pipeline-health topic (until cancelled).

    ``send(topic, key=..., value=...)`` is awaited; a failed send is logged and retried next time:
    health records are best effort and must never stop the worker.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await send(topic, key=health.worker_id.encode(), value=encode(health.record()))
        except Exception as exc:  # the broker may be down; the next tick tries again
            log.warning("health record not sent", extra={"error": str(exc)})
