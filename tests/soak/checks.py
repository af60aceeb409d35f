"""What a long lesson must leave in the warehouse, computed from the rows themselves; used
by the short soak test (tests/soak) and ``bench/soak.py``, for both runtimes.

Every function reads one session of an open ``Warehouse`` (close the writer first: chdb
opens one data directory per process at a time). Times come from the rows: ``captured_at``
(lesson time, from the video's start time) and ``stored_at`` (when the row was inserted, in
whole seconds: ``schemas/migrations/0006_retention_from_storage.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.analytics.eyes import CLOSED_AT
from core.warehouse import Warehouse


def face_rows(warehouse: Warehouse, session_id: str) -> int:
    """Face-event rows of the session, replays collapsed."""
    sql = "SELECT count() FROM face_events FINAL WHERE session_id = {session:String}"
    return warehouse.query(sql, {"session": session_id}).result_rows[0][0]


def missing_windows(warehouse: Warehouse, session_id: str, window_seconds: float) -> int:
    """(person, window) pairs in which the person has face rows but no window row that saw
    them: each is a person present in a window and missing from its metrics. People with
    no window at all are ``people_without_windows``."""
    sql = """
        SELECT count() FROM (
            SELECT DISTINCT person_id,
                   floor(toFloat64(toUnixTimestamp64Milli(captured_at)) / 1000
                         / {seconds:Float64}) * {seconds:Float64} AS start
            FROM face_events FINAL WHERE session_id = {session:String}
              AND person_id IN (SELECT person_id FROM student_windows
                                WHERE session_id = {session:String})
        ) AS present
        LEFT ANTI JOIN (
            SELECT person_id, toFloat64(toUnixTimestamp64Milli(window_start)) / 1000 AS start
            FROM student_windows FINAL
            WHERE session_id = {session:String} AND window_seconds = {seconds:Float64}
              AND frames_seen > 0
        ) AS windows USING (person_id, start)
    """
    parameters = {"session": session_id, "seconds": window_seconds}
    return warehouse.query(sql, parameters).result_rows[0][0]


def people_without_windows(warehouse: Warehouse, session_id: str) -> int:
    """People with face rows and no window in the session: a track judged printed (a
    poster) is taken back from every window, its earlier face rows stay; anyone else is
    a person lost from the metrics."""
    sql = """
        SELECT uniqExact(person_id) FROM face_events FINAL
        WHERE session_id = {session:String}
          AND person_id NOT IN (SELECT person_id FROM student_windows
                                WHERE session_id = {session:String})
    """
    return warehouse.query(sql, {"session": session_id}).result_rows[0][0]


def student_hours(warehouse: Warehouse, session_id: str) -> float:
    """Hours of students in view: each window of anyone but the teacher (whose windows
    raise no alerts) weighs its presence. Without a roster people are 'unknown'."""
    sql = """
        SELECT sum(presence * window_seconds) / 3600 FROM student_windows FINAL
        WHERE session_id = {session:String} AND role != 'teacher'
    """
    return float(warehouse.query(sql, {"session": session_id}).result_rows[0][0] or 0.0)


def alerts_by_kind(warehouse: Warehouse, session_id: str) -> dict[str, int]:
    sql = """
        SELECT kind, count() FROM alerts FINAL WHERE session_id = {session:String}
        GROUP BY kind ORDER BY kind
    """
    return dict(warehouse.query(sql, {"session": session_id}).result_rows)


def fatigue_on_open_eyes(warehouse: Warehouse, session_id: str) -> int:
    """Fatigue alerts whose person had the eyes read as closed in under a tenth of their
    readable face rows of the episode (started_at to raised_at): alerts on open eyes."""
    sql = """
        SELECT count() FROM (
            SELECT alert.alert_id,
                   countIf(face.eye_closed >= {closed_at:Float64})
                       / greatest(countIf(face.eye_closed IS NOT NULL), 1) AS closed_share
            FROM (SELECT alert_id, person_id, started_at, raised_at FROM alerts FINAL
                  WHERE session_id = {session:String} AND kind = 'fatigue') AS alert
            LEFT JOIN (SELECT person_id, captured_at, eye_closed FROM face_events FINAL
                       WHERE session_id = {session:String}) AS face
                ON face.person_id = alert.person_id
            WHERE face.captured_at BETWEEN alert.started_at AND alert.raised_at
            GROUP BY alert.alert_id
        ) WHERE closed_share < 0.1
    """
    parameters = {"session": session_id, "closed_at": CLOSED_AT}
    return warehouse.query(sql, parameters).result_rows[0][0]


@dataclass(frozen=True)
class Slice:
    """One slice of lesson time: its frames and faces, and when its rows were stored."""

    start_s: float
    """Seconds into the lesson."""
    frames: int
    faces: int
    first_stored: float
    last_stored: float
    """Epoch seconds, whole (``stored_at``)."""


def slices(warehouse: Warehouse, session_id: str, slice_seconds: float) -> list[Slice]:
    """The session's face rows by ``slice_seconds`` of lesson time, in order."""
    sql = """
        WITH (SELECT min(captured_at) FROM face_events WHERE session_id = {session:String})
            AS lesson_start
        SELECT floor(dateDiff('millisecond', lesson_start, captured_at) / 1000
                     / {seconds:Float64}) * {seconds:Float64} AS start_s,
               uniqExact(frame_seq), count(),
               toUnixTimestamp(min(stored_at)), toUnixTimestamp(max(stored_at))
        FROM face_events FINAL WHERE session_id = {session:String}
        GROUP BY start_s ORDER BY start_s
    """
    rows = warehouse.query(sql, {"session": session_id, "seconds": slice_seconds}).result_rows
    return [Slice(float(a), int(b), int(c), float(d), float(e)) for a, b, c, d, e in rows]


def stored_progress(warehouse: Warehouse, session_id: str) -> list[tuple[float, float]]:
    """(stored_at, seconds of lesson stored by then) per second that stored face rows."""
    sql = """
        WITH (SELECT min(captured_at) FROM face_events WHERE session_id = {session:String})
            AS lesson_start
        SELECT toUnixTimestamp(stored_at) AS stored,
               max(dateDiff('millisecond', lesson_start, captured_at)) / 1000
        FROM face_events FINAL WHERE session_id = {session:String}
        GROUP BY stored ORDER BY stored
    """
    rows = warehouse.query(sql, {"session": session_id}).result_rows
    reached, progress = 0.0, []
    for stored, lesson_s in rows:  # a running maximum: rows of one second may be older
        reached = max(reached, float(lesson_s))
        progress.append((float(stored), reached))
    return progress


def lesson_at(progress: list[tuple[float, float]], wall_time: float) -> float | None:
    """Seconds of lesson stored by ``wall_time`` (epoch); None before the first row."""
    reached = None
    for stored, lesson_s in progress:
        if stored > wall_time:
            break
        reached = lesson_s
    return reached


def present_pairs(warehouse: Warehouse, session_id: str, window_seconds: float) -> int:
    """(person, window) pairs in which the person has face rows: ``missing_windows`` of how
    many."""
    sql = """
        SELECT uniqExact(person_id, floor(toUnixTimestamp64Milli(captured_at) / 1000
                                          / {seconds:Float64}))
        FROM face_events FINAL WHERE session_id = {session:String}
    """
    parameters = {"session": session_id, "seconds": window_seconds}
    return warehouse.query(sql, parameters).result_rows[0][0]
