"""Consent per purpose and the teacher, end to end, on the roll-call lesson
(tests/attendance/conftest.py: ``classroom analyze --identity seat --roster``), where one
student withholds emotion consent (s-bowtie: ``consent: true`` with
``consent_emotion: false``), one recording consent (s-curls: ``consent_recording: false``)
and one face consent (s-purple, still named by their seat).

Controls, so that each check can fail: students of the same lesson who consent to
everything (the same scan finds their expressions and their rows), and the lesson whose
seats were moved off the people (``moved_seats_lesson``), where nobody is named and the
very same faces in s-bowtie's and s-curls' seats are read as anonymous tracks, expressions
included. With identity off, the report's teacher section says that teacher metrics need a
roster: tests/cli/test_docs_walk.py (both reports, end to end) and
tests/analyze/test_report_identity_and_windows.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from tests.attendance.conftest import (
    NO_EMOTION,
    NO_FACE,
    NO_RECORDING,
    SEEN_SEATS,
    TEACHER,
    Analysis,
)
from tests.reliability.warehouse_scan import EMOTION_COLUMN

CONSENTING = "s-braids"
"""A student in view who consents to everything: the controls' data."""


def query(dsn: str, sql: str) -> list[tuple]:
    with opened(dsn) as client:
        return client.query(sql).result_rows


@contextmanager
def opened(dsn: str) -> Iterator[Client]:
    client = clickhouse_connect.get_client(dsn=dsn)
    try:
        yield client
    finally:
        client.close()


PERSON_TABLE_COLUMNS = """
    SELECT table, name, type FROM system.columns
    WHERE database = currentDatabase() AND table IN (
        SELECT table FROM system.columns
        WHERE database = currentDatabase() AND name = 'person_id')
      AND table IN (
        SELECT name FROM system.tables
        WHERE database = currentDatabase() AND engine NOT LIKE '%View')
"""
"""Every column of every table (not view) that has a ``person_id``."""


def expression_values_of(dsn: str, person: str) -> dict[str, int]:
    """Per emotion-bearing column (p_*, expression*, emotion*, dominant_expression, mix*)
    of every table with a ``person_id``: how many of ``person``'s rows have a value."""
    filled = {}
    with opened(dsn) as client:
        for table, column, kind in client.query(PERSON_TABLE_COLUMNS).result_rows:
            if not EMOTION_COLUMN.search(column):
                continue
            if "Nullable" in kind:
                empty = f"isNull(`{column}`)"
            elif kind.startswith(("Map", "Array")):
                empty = f"empty(`{column}`)"
            else:
                empty = f"`{column}` = 0"
            [(count,)] = client.query(
                f"SELECT countIf(NOT {empty}) FROM `{table}` WHERE person_id = '{person}'"
            ).result_rows
            filled[f"{table}.{column}"] = count
    return filled


def filled_columns(dsn: str, person: str) -> dict[str, int]:
    """The emotion-bearing columns that hold a value for ``person``, with how many rows."""
    return {column: count for column, count in expression_values_of(dsn, person).items() if count}


def faces_in_seat(dsn: str, student: str, columns: str) -> list[tuple]:
    """``columns`` of every stored face whose centre is in ``student``'s seat, whoever it
    was named as (a student, or an anonymous track), in time order."""
    x, y, width, height = SEEN_SEATS[student]
    return query(
        dsn,
        f"SELECT {columns} FROM face_events "
        f"WHERE box_x + box_width / 2 BETWEEN {x} AND {x + width} "
        f"AND box_y + box_height / 2 BETWEEN {y} AND {y + height} "
        "ORDER BY captured_at, box_x, box_y",
    )


SIGNALS = (
    "captured_at, box_x, box_y, box_width, box_height, yaw, pitch, ear_left, ear_right, "
    "eye_closed, mar"
)
"""What a face event measures besides expressions and whom it names."""


def report_section(analysis: Analysis, section_id: str) -> str:
    html = analysis.report.read_text()
    start = html.index(f"<section id='{section_id}'>")
    return html[start : html.index("</section>", start)]


def test_without_emotion_consent_no_expression_value_anywhere(
    roll_call_lesson: Analysis, moved_seats_lesson: Analysis
) -> None:
    dsn = roll_call_lesson.dsn
    # Control: on a consenting student of the same lesson the scan finds expressions.
    control = expression_values_of(dsn, CONSENTING)
    assert control["face_events.expression_label"] > 0
    assert control["student_windows.expression_mix"] > 0
    assert CONSENTING in report_section(roll_call_lesson, "expression-mix")

    assert set(expression_values_of(dsn, NO_EMOTION)) == set(control)
    assert filled_columns(dsn, NO_EMOTION) == {}
    mix, _, withheld = report_section(roll_call_lesson, "expression-mix").partition(
        "<p class='withheld'>"
    )
    assert NO_EMOTION not in mix  # no bar, no confidence row
    assert NO_EMOTION in withheld and CONSENTING not in withheld  # said why, of her alone
    # Her faces are readable: named by nobody (the seats moved), the same faces have them.
    labels = faces_in_seat(moved_seats_lesson.dsn, NO_EMOTION, "expression_label")
    assert any(label is not None for (label,) in labels)
    assert faces_in_seat(dsn, NO_EMOTION, "expression_label") == [(None,)] * len(labels)


def test_without_emotion_consent_attention_and_fatigue_are_still_measured(
    roll_call_lesson: Analysis, moved_seats_lesson: Analysis
) -> None:
    """Everything but expression is read as without the refusal: her faces' pose, eyes and
    mouth are those of the same faces where nobody is named (the seats moved), and her
    windows carry presence, attention and fatigue signals."""
    dsn, anonymous = roll_call_lesson.dsn, moved_seats_lesson.dsn
    read = faces_in_seat(dsn, NO_EMOTION, SIGNALS)
    assert read and read == faces_in_seat(anonymous, NO_EMOTION, SIGNALS)
    assert {person for (person,) in faces_in_seat(dsn, NO_EMOTION, "person_id")} == {NO_EMOTION}
    # Control: the same comparison fails where a refusal did drop faces (s-curls).
    assert faces_in_seat(dsn, NO_RECORDING, SIGNALS) != faces_in_seat(
        anonymous, NO_RECORDING, SIGNALS
    )

    measured = query(
        dsn,
        "SELECT window_start, presence, attention, look_around_episodes, blinks, perclos, "
        f"yawns FROM student_windows FINAL WHERE person_id = '{NO_EMOTION}'",
    )
    # some window has an attention above 0 (NULL, unknown, in those where none was known)
    assert any(attention for _, _, attention, *_ in measured)
    [(status, score)] = query(
        dsn,
        f"SELECT attendance, mean_concentration FROM v_session_scores "
        f"WHERE person_id = '{NO_EMOTION}'",
    )
    assert status == "present" and score is not None
    assert NO_EMOTION in report_section(roll_call_lesson, "student-heatmap")


def test_without_recording_consent_nothing_at_all(
    roll_call_lesson: Analysis, moved_seats_lesson: Analysis
) -> None:
    def rows_of(person: str, table: str) -> int:
        sql = f"SELECT count() FROM {table} WHERE person_id = '{person}'"
        return query(roll_call_lesson.dsn, sql)[0][0]

    tables = ("face_events", "student_windows", "session_scores")
    # Control: a consenting student of the same lesson has rows in each.
    assert all(rows_of(CONSENTING, table) > 0 for table in tables)
    for table in (*tables, "alerts"):
        assert rows_of(NO_RECORDING, table) == 0, table
    # Nor are her faces kept as an anonymous track's: where nobody is named, they are there.
    assert faces_in_seat(moved_seats_lesson.dsn, NO_RECORDING, "person_id")
    assert faces_in_seat(roll_call_lesson.dsn, NO_RECORDING, "person_id") == []


def test_without_face_consent_a_seat_still_names_the_student(
    roll_call_lesson: Analysis, moved_seats_lesson: Analysis
) -> None:
    """Seat identity compares no face: face consent does not matter to it."""

    def sources(lesson: Analysis) -> list[tuple]:
        sql = f"SELECT DISTINCT identity_source FROM face_events WHERE person_id = '{NO_FACE}'"
        return query(lesson.dsn, sql)

    assert sources(roll_call_lesson) == [("seat",)]
    assert sources(moved_seats_lesson) == []  # control: with her seat moved, nobody is her


def test_v_roster_holds_each_purpose(roll_call_lesson: Analysis) -> None:
    rows = query(
        roll_call_lesson.dsn,
        "SELECT person_id, consent_recording, consent_emotion, consent_face FROM v_roster",
    )
    consent = {person: purposes for person, *purposes in rows}
    assert consent[NO_EMOTION] == [True, False, True]
    assert consent[NO_RECORDING] == [False, True, True]
    assert consent[NO_FACE] == [True, True, False]
    assert consent[CONSENTING] == [True, True, True]  # the old single consent: all three


def test_the_teacher_is_known_by_seat_and_kept_out_of_student_aggregates(
    roll_call_lesson: Analysis,
) -> None:
    dsn = roll_call_lesson.dsn
    assert query(dsn, f"SELECT DISTINCT role, identity_source FROM face_events "
                      f"WHERE person_id = '{TEACHER}'") == [("teacher", "seat")]  # fmt: skip
    per_window = query(
        dsn,
        """
        SELECT c.window_start, c.students_known, c.students_present,
               countIf(s.role != 'teacher'), countIf(s.role != 'teacher' AND s.presence > 0),
               countIf(s.role = 'teacher' AND s.presence > 0)
        FROM class_windows AS c FINAL
        JOIN student_windows AS s FINAL
          ON s.session_id = c.session_id AND s.window_start = c.window_start
             AND s.window_seconds = c.window_seconds
        GROUP BY c.window_start, c.students_known, c.students_present
        """,
    )
    # The teacher was in view in a window, so counting them would show there.
    assert any(teacher_present for *_, teacher_present in per_window)
    for _, known, present, students, students_present, _ in per_window:
        assert (known, present) == (students, students_present)
    for table in ("session_scores", "alerts", "v_attendance"):
        assert query(dsn, f"SELECT count() FROM {table} WHERE person_id = '{TEACHER}'") == [(0,)]
    [(frames,)] = query(
        dsn, f"SELECT frames FROM teacher_expression_mix FINAL WHERE person_id = '{TEACHER}'"
    )
    assert frames > 0
    assert TEACHER not in report_section(roll_call_lesson, "student-heatmap")
