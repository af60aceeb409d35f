"""The storage stage: events in, warehouse rows out, with no transport in it.

The Kafka sink (``workers.sink``) and the embedded runner (``classroom.pipeline``) both
store through ``Store``, so both follow the same rules:

- Events are grouped per table and inserted when ``batch_rows`` are pending or the oldest
  has waited ``max_wait_s``: fewer, larger inserts make fewer parts for ClickHouse to merge.
  A ``FaceEventBatch`` (one frame) becomes one row per face.
- Rows of the tables that feed sum rollups are looked up first and skipped when already
  stored (``Warehouse.already_stored``): a replay would otherwise be summed twice.
- A batch the warehouse refuses (``RowsRefused``) is inserted again row by row; the rows
  refused alone are handed back as ``Rejected`` with their source, and the rest is stored.
- A face marked ``printed`` (its track was found to be a poster, a photo, a screen) is not
  stored. The raw rows of the same track's earlier, undecided faces stay: they are what
  the camera saw, kept within the table's TTL like any raw event; the windows, session
  scores and roll call leave the track out (docs/vision.md, "Printed faces").
- A warehouse that fails as a service (any other ``WarehouseError``) raises: the batches not
  yet stored stay pending, so the caller can retry (the sink) or stop (the embedded run).

Each event travels with an opaque *source*, handed back with its rejection: the Kafka
message for the sink (to dead-letter it), None in-process.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.warehouse import RowsRefused, Warehouse, WarehouseError
from schemas.events import Event, FaceEvent, FaceEventBatch

log = logging.getLogger(__name__)

Source = TypeVar("Source")


@dataclass(frozen=True)
class Rejected(Generic[Source]):
    """A row the warehouse refused on its own: a face for a face of a frame."""

    event: Event
    source: Source
    error: RowsRefused


@dataclass
class Flushed(Generic[Source]):
    """What one successful ``Store.flush`` did."""

    rows: dict[type[Event], int] = field(default_factory=dict)
    """Rows stored, per event type."""
    rejected: list[Rejected[Source]] = field(default_factory=list)
    captured_at: list[float] = field(default_factory=list)
    """Capture times of the stored face events, for the end-to-end latency metric."""
    already_stored: int = 0
    """Rows not inserted because a replay brought them again."""


class Store(Generic[Source]):
    """Batches events per table and writes them with ``Warehouse.insert``.

    The counters add up over the store's life: ``stored``, ``refused`` and
    ``already_stored`` rows, and ``in_doubt``, the rows of the latest insert that failed as
    a service (it may have landed before the engine failed), 0 once a flush succeeds.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        batch_rows: int,
        max_wait_s: float,
        replay_check: bool = True,
    ) -> None:
        self.warehouse = warehouse
        self.batch_rows = batch_rows
        self.max_wait_s = max_wait_s
        self.replay_check = replay_check
        self._batches: dict[type[Event], list[Event]] = defaultdict(list)
        self._sources: dict[type[Event], list[Source]] = defaultdict(list)
        self._rows = 0
        self._first_at: float | None = None
        # What the flushes done so far did; kept across a failed flush, so what was stored
        # or refused before the failure is still reported by the flush that succeeds.
        self._flushed: Flushed[Source] = Flushed()
        self.stored = self.refused = self.already_stored = self.in_doubt = 0

    def add(self, event: Event, source: Source) -> None:
        """Queue one event (a frame's faces become a row each) with where it came from."""
        rows = event.faces if isinstance(event, FaceEventBatch) else (event,)
        rows = [row for row in rows if not (isinstance(row, FaceEvent) and row.printed)]
        for row in rows:
            self._batches[type(row)].append(row)
            self._sources[type(row)].append(source)
        self._rows += len(rows)
        if rows and self._first_at is None:
            self._first_at = time.monotonic()

    def __len__(self) -> int:
        """Rows pending."""
        return self._rows

    def due(self) -> bool:
        """Whether ``batch_rows`` are pending or the oldest has waited ``max_wait_s``."""
        if self._rows >= self.batch_rows:
            return True
        return self._first_at is not None and time.monotonic() - self._first_at >= self.max_wait_s

    def flush(self) -> Flushed[Source]:
        """Insert every pending batch and say what happened.

        Raises the ``WarehouseError`` of a warehouse that failed as a service, leaving the
        batches not yet stored pending for another try.
        """
        for event_type in list(self._batches):
            self._flush_table(event_type)
            del self._batches[event_type], self._sources[event_type]
            # Should the next table raise, what stays pending is counted right.
            self._rows = sum(len(batch) for batch in self._batches.values())
        flushed, self._flushed = self._flushed, Flushed()
        self._rows, self._first_at, self.in_doubt = 0, None, 0
        return flushed

    def _flush_table(self, event_type: type[Event]) -> None:
        events, sources = self._batches[event_type], self._sources[event_type]
        skipped = 0
        if self.replay_check:
            done = self.warehouse.already_stored(events)
            skipped = sum(done)
            if skipped:
                events = [event for event, d in zip(events, done, strict=True) if not d]
                sources = [source for source, d in zip(sources, done, strict=True) if not d]
        try:
            stored = self._insert(events)
        except RowsRefused as exc:
            log.warning("batch refused, isolating rows", extra={"error": str(exc)})
            stored = self._insert_one_by_one(events, sources)
        # Counted once the table is done: a retry after an outage looks the rows up again.
        self._flushed.already_stored += skipped
        self.already_stored += skipped
        self._flushed.rows[event_type] = self._flushed.rows.get(event_type, 0) + stored
        if event_type is FaceEvent:
            self._flushed.captured_at.extend(event.captured_at for event in events)

    def _insert(self, events: Sequence[Event]) -> int:
        try:
            stored = self.warehouse.insert(events)
        except RowsRefused:
            raise  # nothing of the insert was written
        except WarehouseError:
            self.in_doubt = len(events)
            raise
        self.stored += stored
        return stored

    def _insert_one_by_one(self, events: list[Event], sources: list[Source]) -> int:
        stored = 0
        for event, source in zip(events, sources, strict=True):
            try:
                stored += self._insert([event])
            except RowsRefused as exc:
                self.refused += 1
                self._flushed.rejected.append(Rejected(event, source, exc))
        return stored
