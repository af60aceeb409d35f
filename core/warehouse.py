"""The ClickHouse warehouse: connect, migrate, insert events, query.

One class, ``Warehouse``, over a clickhouse-connect client. ``chdb://DIR`` opens the
embedded engine on a data directory (one process at a time); ``http(s)://host:port/db``
talks to a ClickHouse server with the configured user and password. The rest of the code
is the same for both.

Inserts take a list of one event type and write it column by column, reusing one insert
context per table and column list (its column types are read from the warehouse once, not
before every insert). The whole batch is validated first (types, finite numbers, vector
lengths, known keys), so a bad batch raises ``RowsRefused`` and writes nothing. Raw frames
are never stored.

Errors are typed for the callers' retry policy: ``RowsRefused`` blames the rows (the same
rows would fail again), ``WarehouseUnavailable`` the service (the same rows may be stored
later); both are ``WarehouseError`` and carry ClickHouse's error ``code`` and ``name`` when
known.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect
import msgspec
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DataError
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.query import QueryResult

from core.private_files import private_dir
from core.redact import redact
from schemas.events import (
    EXPRESSIONS,
    INTENSITY_CLASSES,
    Alert,
    ClassWindow,
    DeadLetter,
    Event,
    FaceEvent,
    Frame,
    Role,
    SessionScore,
    StudentWindow,
    TeacherExpressionMix,
    WorkerHealth,
)
from schemas.migrate import MigrationError, MigrationStatus, Migrator
from schemas.settings import WarehouseSettings

TABLE_FOR_EVENT: dict[type[Event], str] = {
    FaceEvent: "face_events",
    StudentWindow: "student_windows",
    ClassWindow: "class_windows",
    Alert: "alerts",
    SessionScore: "session_scores",
    TeacherExpressionMix: "teacher_expression_mix",
    WorkerHealth: "pipeline_health",
    DeadLetter: "dead_letters",
}

ROLLUP_SOURCES: dict[type[Event], tuple[str, tuple[str, ...]]] = {
    FaceEvent: ("captured_at", ("event_id",)),
    StudentWindow: ("window_start", ("session_id", "person_id", "window_seconds", "window_start")),
    ClassWindow: ("window_start", ("session_id", "window_seconds", "window_start")),
}
"""Event types whose tables feed sum rollups: (time field, identity fields besides the
classroom), the table's ORDER BY. A sink checks ``already_stored`` before inserting them."""

CHDB_OPTIONS = {"config-file": str(Path(__file__).with_name("chdb.xml"))}
"""The embedded engine's settings: parts replaced by merges are dropped within seconds
(the file says why and what it measured)."""
LAST_STORABLE_TIME = 10_413_792_000.0
"""2300-01-01 in epoch seconds: DateTime64 columns end with 2299."""

TIME_FIELDS = frozenset(
    {"captured_at", "window_start", "started_at", "ended_at", "raised_at", "at", "failed_at",
     "first_seen_at", "last_seen_at"}
)  # fmt: skip
"""Struct fields holding epoch seconds; they are stored as DateTime64(3) milliseconds
(``None``, e.g. when an enrolled student was never seen, as NULL)."""
OPTIONAL_MAP_FIELDS = frozenset({"expression_mix"})
"""Optional dict fields stored in Map columns, which cannot be NULL: None is stored as {}."""


REFUSED_DATA_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        469,  # VIOLATED_CONSTRAINT
    }
)
"""ClickHouse error codes that blame the rows, not the server: the same rows would fail
again on any retry."""


class WarehouseError(RuntimeError):
    """The warehouse failed an operation; the message says which table and why.

    ``code`` and ``name`` are ClickHouse's error code and symbolic name (e.g. 469,
    ``VIOLATED_CONSTRAINT``) when the error came from ClickHouse and said so, else None.
    """

    def __init__(self, message: str, *, code: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class RowsRefused(WarehouseError):
    """The warehouse refused the rows themselves: our checks before the insert, a value the
    client cannot serialise, or a ClickHouse data error (``REFUSED_DATA_CODES``). The same
    rows would fail again on any retry; nothing of the insert was written."""


class WarehouseUnavailable(WarehouseError):
    """The warehouse failed as a service (unreachable, disk, memory, too many parts, ...):
    the same rows may be stored later. The insert may or may not have landed."""


class RosterRow(msgspec.Struct, kw_only=True, frozen=True):
    """One row of the ``roster_versions`` table (who is who, their seat, what they
    consented to), read through ``v_roster`` (latest) and ``v_roster_history``."""

    school_id: str
    person_id: str
    role: Role
    display_name: str = ""
    classroom_id: str = ""
    seat: str = ""
    consent_recording: bool = False
    consent_emotion: bool = False
    consent_face: bool = False
    enrolled: bool = True
    """False: the person was dropped from the roster by this version."""
    source: str = ""
    """The roster file this version was imported from."""


class Warehouse:
    def __init__(self, client: Client, settings: WarehouseSettings) -> None:
        self.client = client
        self.settings = settings
        self._insert_contexts: dict[tuple[str, tuple[str, ...]], InsertContext] = {}
        """Per table and column list: the column types, read from the warehouse once."""

    @classmethod
    def connect(cls, settings: WarehouseSettings) -> Warehouse:
        dsn = settings.dsn
        if dsn.startswith("chdb://"):
            data_dir = Path(dsn.removeprefix("chdb://")).resolve()
            hint = " (an embedded chdb directory can be open in one process at a time)"
            try:
                private_dir(data_dir)  # personal data: owner-only
                client = clickhouse_connect.get_client(
                    interface="chdb", path=str(data_dir), chdb_options=CHDB_OPTIONS
                )
            except (ClickHouseError, RuntimeError, OSError) as exc:
                raise WarehouseUnavailable(
                    f"cannot open the warehouse at {dsn}: {exc}{hint}"
                ) from exc
        elif dsn.startswith(("http://", "https://")):
            try:
                client = clickhouse_connect.get_client(
                    dsn=dsn,
                    username=settings.username,
                    password=settings.password.get_secret_value(),
                )
            except (ClickHouseError, OSError) as exc:
                # redact: the DSN, and the client's message quoting it, may hold user:password
                raise WarehouseUnavailable(
                    redact(f"cannot reach the warehouse at {dsn}: {exc}")
                ) from exc
        else:
            raise WarehouseError(
                f"warehouse dsn {redact(dsn)!r} is neither chdb://DIR nor http(s)://host:port/db"
            )
        return cls(client, settings)

    @classmethod
    def connect_dsn(cls, dsn: str) -> Warehouse:
        return cls.connect(WarehouseSettings(dsn=dsn))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------

    def migrator(self) -> Migrator:
        variables = {
            "face_event_ttl_days": self.settings.face_event_ttl_days,
            "person_metrics_ttl_days": self.settings.person_metrics_ttl_days,
        }
        return Migrator(self.client, variables, cluster=self.settings.cluster)

    def migrate(self) -> list[str]:
        """Apply pending migrations (idempotent); return the file names applied now."""
        try:
            applied = self.migrator().migrate()
        except MigrationError as exc:
            raise WarehouseError(str(exc)) from exc
        if applied:
            # A migration may change column types (0012 makes attention nullable): the
            # next insert into each table reads them again.
            self._insert_contexts.clear()
        return applied

    def apply_ttl(self) -> list[str]:
        """Apply a changed ``face_event_ttl_days`` or ``person_metrics_ttl_days`` to the
        existing tables; describe the changes."""
        return self.migrator().apply_ttl()

    def status(self) -> list[MigrationStatus]:
        return self.migrator().status()

    # --- writing --------------------------------------------------------------------------

    def insert(self, events: Sequence[Event], *, dedup_token: str | None = None) -> int:
        """Insert events of one type into their table; return the number of rows.

        ``dedup_token`` names the batch (e.g. ``topic/partition/first-last offset``): a
        second insert with the same token is dropped, rollups included. Without a token a
        byte-identical batch is dropped the same way.
        """
        if not events:
            return 0
        event_type = type(events[0])
        if event_type is Frame:
            raise RowsRefused("raw frames are never stored in the warehouse")
        table = TABLE_FOR_EVENT.get(event_type)
        if table is None:
            raise RowsRefused(f"no warehouse table for {event_type.__name__}")
        others = {type(e).__name__ for e in events if type(e) is not event_type}
        if others:
            raise RowsRefused(
                f"one insert takes one event type: got {event_type.__name__} mixed with "
                f"{', '.join(sorted(others))}"
            )
        events = _validated(events, event_type, table)
        column_names, columns = _columns(events, event_type)
        return self._insert_columns(table, column_names, columns, dedup_token)

    def already_stored(self, events: Sequence[Event]) -> list[bool]:
        """For each event of one type, whether its row is already in the warehouse, or an
        earlier event of ``events`` has the same identity.

        Only for the tables that feed sum rollups (``ROLLUP_SOURCES``): a replay would
        not change their ReplacingMergeTree rows, but every insert runs the rollups'
        materialized views, so a row inserted twice is summed twice there. The query
        reads only the batch's classrooms and time ranges (the tables' ORDER BY prefix).
        Other types: all False.
        """
        source = ROLLUP_SOURCES.get(type(events[0])) if events else None
        if source is None:
            return [False] * len(events)
        time_field, key_fields = source
        table = TABLE_FOR_EVENT[type(events[0])]
        key_fields = ("classroom_id", *key_fields)
        keys: list[tuple | None] = []
        ranges: dict[str, tuple[int, int]] = {}
        for event in events:
            seconds = getattr(event, time_field)
            if not 0 <= seconds < LAST_STORABLE_TIME:  # NaN too: the insert will refuse it
                keys.append(None)
                continue
            keys.append(_identity(event, key_fields))
            at = round(seconds * 1000)
            low, high = ranges.get(event.classroom_id, (at, at))
            ranges[event.classroom_id] = (min(low, at), max(high, at))
        if not ranges:
            return [False] * len(events)
        parameters: dict[str, Any] = {}
        conditions = []
        for index, (classroom, (low, high)) in enumerate(ranges.items()):
            parameters |= {f"room{index}": classroom, f"low{index}": low, f"high{index}": high}
            # The bare column, not a function of it, so partitions are pruned too.
            conditions.append(
                f"(classroom_id = {{room{index}:String}} AND {time_field} BETWEEN "
                f"fromUnixTimestamp64Milli({{low{index}:Int64}}, 'UTC') AND "
                f"fromUnixTimestamp64Milli({{high{index}:Int64}}, 'UTC'))"
            )
        columns = ", ".join(_identity_sql(field) for field in key_fields)
        stored = {
            tuple(row)
            for row in self.query(
                f"SELECT {columns} FROM {table} WHERE {' OR '.join(conditions)}", parameters
            ).result_rows
        }
        seen: set[tuple] = set()
        flags = []
        for key in keys:
            flags.append(key is not None and (key in stored or key in seen))
            seen.add(key)
        return flags

    def insert_rows(
        self,
        table: str,
        column_names: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        dedup_token: str | None = None,
    ) -> int:
        """Insert plain rows into any table; ClickHouse checks the types."""
        if not rows:
            return 0
        columns = [list(column) for column in zip(*rows, strict=True)]
        return self._insert_columns(table, list(column_names), columns, dedup_token)

    def insert_roster(
        self, rows: Sequence[RosterRow | Mapping[str, Any]], *, updated_at: float | None = None
    ) -> int:
        """Store a version of roster rows, all dated ``updated_at`` (default: now): a newer
        row for a person shows in ``v_roster`` instead of the older, which stays in
        ``v_roster_history``."""
        try:
            roster = [
                row if isinstance(row, RosterRow) else msgspec.convert(row, RosterRow)
                for row in rows
            ]
        except msgspec.ValidationError as exc:
            raise RowsRefused(f"roster: {exc}") from exc
        stamp = round((time.time() if updated_at is None else updated_at) * 1000)
        column_names = [*RosterRow.__struct_fields__, "updated_at"]
        return self.insert_rows(
            "roster_versions",
            column_names,
            [(*msgspec.structs.astuple(row), stamp) for row in roster],
        )

    def _insert_columns(
        self,
        table: str,
        column_names: list[str],
        columns: list[list[Any]],
        dedup_token: str | None,
    ) -> int:
        key = (table, tuple(column_names))
        try:
            context = self._insert_contexts.get(key)
            if context is None:
                context = self.client.create_insert_context(
                    table, column_names=column_names, column_oriented=True
                )
            context.settings = {"insert_deduplication_token": dedup_token} if dedup_token else {}
            context.data = columns
            self.client.insert(context=context)
        except (ClickHouseError, ValueError, TypeError, OverflowError) as exc:
            # A failed insert may leave the context half-used, or the table may have
            # changed: the next insert reads the column types again.
            self._insert_contexts.pop(key, None)
            raise _insert_error(f"insert into {table} failed: {exc}", exc) from exc
        self._insert_contexts[key] = context
        return len(columns[0])

    # --- reading --------------------------------------------------------------------------

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        try:
            return self.client.query(sql, parameters=parameters)
        except ClickHouseError as exc:
            raise _error(WarehouseError, str(exc), exc) from exc

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        try:
            return self.client.command(sql, parameters=parameters)
        except ClickHouseError as exc:
            raise _error(WarehouseError, str(exc), exc) from exc


def _insert_error(message: str, exc: Exception) -> WarehouseError:
    """The typed error for a failed insert: whether the rows or the service are to blame.

    A value the client cannot serialise (``DataError``, ``ValueError``, ...) and
    ClickHouse's data errors are the rows' fault. Any other ClickHouse error is the
    service's: retrying a good batch costs time, refusing it would lose data.
    """
    refused = (
        not isinstance(exc, ClickHouseError)
        or isinstance(exc, DataError)
        or getattr(exc, "code", None) in REFUSED_DATA_CODES
    )
    return _error(RowsRefused if refused else WarehouseUnavailable, message, exc)


def _error(kind: type[WarehouseError], message: str, exc: Exception) -> WarehouseError:
    return kind(message, code=getattr(exc, "code", None), name=getattr(exc, "name", None))


# --- events to columns ----------------------------------------------------------------------


def _validated(events: Sequence[Event], event_type: type[Event], table: str) -> list[Event]:
    """The batch, round-tripped through msgspec's strict decoder, plus the checks the types
    cannot express. NaN and infinity encode as JSON null, so they fail as "got null"."""
    try:
        checked = msgspec.json.decode(msgspec.json.encode(events), type=list[event_type])
    except (msgspec.ValidationError, msgspec.EncodeError, TypeError) as exc:
        raise RowsRefused(
            f"{table}: batch violates the {event_type.__name__} schema: {exc}; nothing inserted"
        ) from exc
    for index, event in enumerate(checked):
        problem = _problem(event)
        if problem:
            raise RowsRefused(
                f"{table}: batch violates the {event_type.__name__} schema at $[{index}]: "
                f"{problem}; nothing inserted"
            )
    return checked


def _problem(event: Event) -> str | None:
    if isinstance(event, FaceEvent):
        if event.expression is not None and len(event.expression) != len(EXPRESSIONS):
            return f"expression has {len(event.expression)} values, expected {len(EXPRESSIONS)}"
        if event.track_id < 0 or event.face_index < 0 or event.frame_seq < 0:
            return "track_id, face_index and frame_seq must not be negative"
    elif isinstance(event, TeacherExpressionMix):
        unknown = set(event.mix) - set(INTENSITY_CLASSES)
        if unknown:
            return f"mix has unknown classes {sorted(unknown)}; expected {INTENSITY_CLASSES}"
    for name in ("expression_mix", "values", "mix"):
        mapping = getattr(event, name, None)
        if mapping and not all(math.isfinite(v) for v in mapping.values()):
            return f"{name} holds a non-finite number"
    return None


def _identity(event: Event, fields: tuple[str, ...]) -> tuple:
    """The identity of an event's row, as ``_identity_sql`` reads it back from the table."""
    values = []
    for field in fields:
        value = getattr(event, field)
        if field in TIME_FIELDS:
            value = round(value * 1000)
        elif field == "window_seconds":
            value = round(value, 3)
        values.append(value)
    return tuple(values)


def _identity_sql(field: str) -> str:
    if field in TIME_FIELDS:
        return f"toUnixTimestamp64Milli({field})"
    if field == "window_seconds":
        return "round(toFloat64(window_seconds), 3)"
    return field


def _columns(events: Sequence[Event], event_type: type[Event]) -> tuple[list[str], list[list[Any]]]:
    names: list[str] = []
    columns: list[list[Any]] = []
    # astuple + zip transposes the batch in C; only the few converted fields loop in Python.
    transposed = zip(*(msgspec.structs.astuple(event) for event in events), strict=True)
    for field, values in zip(event_type.__struct_fields__, transposed, strict=True):
        if field == "version":
            continue
        split = _SPLIT_FIELDS.get((event_type, field))
        if split is not None:
            split_names, split_columns = split(values)
            names += split_names
            columns += split_columns
            continue
        if field in TIME_FIELDS:
            values = [None if seconds is None else round(seconds * 1000) for seconds in values]
        elif field in OPTIONAL_MAP_FIELDS:
            values = [{} if mapping is None else mapping for mapping in values]
        names.append(field)
        columns.append(list(values))
    return names, columns


def _box_columns(boxes: Sequence[tuple[int, int, int, int]]) -> tuple[list[str], list[list[Any]]]:
    return ["box_x", "box_y", "box_width", "box_height"], [
        list(c) for c in zip(*boxes, strict=True)
    ]


def _expression_columns(
    vectors: Sequence[tuple[float, ...] | None],
) -> tuple[list[str], list[list[Any]]]:
    blank = (None,) * len(EXPRESSIONS)
    columns = zip(*(blank if v is None else v for v in vectors), strict=True)
    return [f"p_{label}" for label in EXPRESSIONS], [list(c) for c in columns]


def _intensity_columns(mixes: Sequence[dict[str, float]]) -> tuple[list[str], list[list[Any]]]:
    # A class the teacher never showed may be missing from the mix: its share is 0.
    return list(INTENSITY_CLASSES), [[m.get(c, 0.0) for m in mixes] for c in INTENSITY_CLASSES]


_SPLIT_FIELDS: dict[
    tuple[type[Event], str], Callable[[Sequence[Any]], tuple[list[str], list[list[Any]]]]
] = {
    (FaceEvent, "box"): _box_columns,
    (FaceEvent, "expression"): _expression_columns,
    (TeacherExpressionMix, "mix"): _intensity_columns,
    # The store keeps printed faces out of the warehouse (core/stages/store.py): always false.
    (FaceEvent, "printed"): lambda values: ([], []),
}
"""Struct fields stored as several columns (or none), for analysts' and Grafana's sake."""
