"""Every analyst view and rollup on a small known data set, and replays that change nothing.

The data set: three lessons last week in room-1 (see builders.py).
* s-maths-1, Monday 09:00: 4 one-minute windows for three students, 1200 face events.
* s-maths-2, Tuesday 09:00: 4 windows of student-3.
* s-art-1, Wednesday 13:00: 4 windows of student-1, all low.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from schemas.events import Event
from tests.conftest import PROJECT_ROOT
from tests.warehouse.builders import (
    LESSON_START,
    alert,
    class_window,
    face_event,
    session_score,
    student_window,
    teacher_mix,
)

DAY = 86_400
CONCENTRATION = {
    "student-1": [0.8, 0.8, 0.8, 0.8],
    "student-2": [0.2, 0.3, 0.7, 0.7],
    "student-3": [0.5, 0.5, 0.5, 0.2],
}


def band(concentration: float) -> str:
    return "low" if concentration < 0.4 else "high" if concentration >= 0.8 else "nominal"


def known_batches() -> list[list[Event]]:
    maths_1 = [
        student_window(person, minute, c, band(c))
        for person, values in CONCENTRATION.items()
        for minute, c in enumerate(values)
    ]
    maths_2 = [
        student_window(
            "student-3",
            minute,
            0.6,
            "nominal",
            session_id="s-maths-2",
            window_start=LESSON_START + DAY + minute * 60,
        )
        for minute in range(4)
    ]
    art = [
        student_window(
            "student-1",
            minute,
            0.2,
            "low",
            session_id="s-art-1",
            course="art",
            window_start=LESSON_START + 2 * DAY + 4 * 3600 + minute * 60,
        )
        for minute in range(4)
    ]
    faces = [
        face_event(seq, index, expression_label="happy" if index == 0 else "neutral")
        for seq in range(600)
        for index in range(2)
    ]
    return [
        faces[:700],
        faces[700:],
        maths_1,
        maths_2,
        art,
        [class_window(minute, c) for minute, c in enumerate([0.5, 0.6, 0.7, 0.6])],
        [alert("student-2", 1), alert("student-3", 3, kind="looking_around")],
        [
            session_score(p, s)
            for p, s in [("student-1", 0.8), ("student-2", 0.475), ("student-3", 0.425)]
        ],
        [
            teacher_mix("s-maths-1", "maths", 0.3),
            teacher_mix("s-maths-2", "maths", 0.1),
            teacher_mix("s-art-1", "art", 0.5),
        ],
    ]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with Warehouse.connect_dsn(f"chdb://{tmp_path_factory.mktemp('views')}") as warehouse:
        warehouse.migrate()
        for batch in known_batches():
            warehouse.insert(batch)
        yield warehouse


def rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    return warehouse.query(sql).result_rows


def test_student_windows_view(loaded: Warehouse) -> None:
    result = rows(
        loaded,
        "SELECT person_id, avg(concentration), countIf(band = 'low'), "
        "min(window_end - window_start) FROM v_student_windows "
        "WHERE session_id = 's-maths-1' GROUP BY person_id ORDER BY person_id",
    )
    assert result == [
        ("student-1", pytest.approx(0.8), 0, 60),
        ("student-2", pytest.approx(0.475), 2, 60),
        ("student-3", pytest.approx(0.425), 1, 60),
    ]


def test_class_windows_and_sessions_views(loaded: Warehouse) -> None:
    assert rows(loaded, "SELECT count(), avg(concentration_mean) FROM v_class_windows") == [
        (4, pytest.approx(0.6))
    ]
    session = rows(
        loaded,
        "SELECT session_id, course, toUnixTimestamp(started_at), "
        "toUnixTimestamp(ended_at), students_present_max FROM v_class_sessions",
    )
    assert session == [("s-maths-1", "maths", LESSON_START, LESSON_START + 240, 2)]


def test_alerts_scores_and_teacher_mix_views(loaded: Warehouse) -> None:
    assert rows(
        loaded, "SELECT person_id, kind, values['perclos'] FROM v_alerts ORDER BY started_at"
    ) == [
        ("student-2", "fatigue", pytest.approx(0.4)),
        ("student-3", "looking_around", pytest.approx(0.4)),
    ]
    assert rows(
        loaded, "SELECT person_id, score FROM v_session_scores ORDER BY score DESC LIMIT 1"
    ) == [("student-1", pytest.approx(0.8))]
    assert rows(
        loaded,
        "SELECT session_id, happy_strong, neutral FROM v_teacher_expression_mix "
        "ORDER BY session_id",
    ) == [
        ("s-art-1", pytest.approx(0.5), pytest.approx(0.5)),
        ("s-maths-1", pytest.approx(0.3), pytest.approx(0.7)),
        ("s-maths-2", pytest.approx(0.1), pytest.approx(0.9)),
    ]


def test_face_activity_rollups(loaded: Warehouse) -> None:
    minutely = rows(
        loaded,
        "SELECT person_id, count(), sum(faces), sum(happy_faces), "
        "sum(neutral_faces), avg(ear), avg(abs_yaw) FROM v_face_activity_minutely "
        "GROUP BY person_id ORDER BY person_id",
    )
    assert minutely == [
        ("student-0", 2, 600, 600, 0, pytest.approx(0.31), pytest.approx(10.0)),
        ("student-1", 2, 600, 0, 600, pytest.approx(0.31), pytest.approx(10.0)),
    ]
    assert rows(loaded, "SELECT count(), sum(faces) FROM v_face_activity_hourly") == [(2, 1200)]


def test_concentration_rollups(loaded: Warehouse) -> None:
    hourly = rows(
        loaded,
        "SELECT person_id, windows, concentration, low_windows FROM v_concentration_hourly "
        "WHERE session_id = 's-maths-1' ORDER BY person_id",
    )
    assert hourly == [
        ("student-1", 4, pytest.approx(0.8), 0),
        ("student-2", 4, pytest.approx(0.475), 2),
        ("student-3", 4, pytest.approx(0.425), 1),
    ]
    daily = rows(
        loaded,
        "SELECT course, sessions, windows, concentration FROM v_concentration_daily "
        "WHERE person_id = 'student-1' ORDER BY day",
    )
    assert daily == [("maths", 1, 4, pytest.approx(0.8)), ("art", 1, 4, pytest.approx(0.2))]
    assert rows(
        loaded, "SELECT windows, concentration, share_high FROM v_class_concentration_hourly"
    ) == [(4, pytest.approx(0.6), pytest.approx(0.5))]


def test_low_engagement_last_week(loaded: Warehouse) -> None:
    # "now" is the day after the last lesson, so the result does not depend on today's date
    now = f"toDateTime({LESSON_START + 3 * DAY})"
    result = rows(loaded, analyst_query("low-engaged").replace("now()", now))
    assert result == [
        ("art", "student-1", pytest.approx(1.0), 1),
        ("maths", "student-2", pytest.approx(0.5), 1),
    ]


def test_concentration_by_hour_of_day(loaded: Warehouse) -> None:
    sql = analyst_query("hour-of-day").replace("'Europe/Berlin'", "'UTC'")
    assert rows(loaded, sql) == [(9, pytest.approx(9.2 / 16), 16), (13, pytest.approx(0.2), 4)]


def test_teacher_expression_mix_by_course(loaded: Warehouse) -> None:
    result = rows(loaded, analyst_query("teacher-mix"))
    assert [r[:3] for r in result] == [
        ("art", 1, pytest.approx(0.5)),
        ("maths", 2, pytest.approx(0.2)),
    ]


def test_every_example_in_the_analyst_guide_runs(loaded: Warehouse) -> None:
    for sql in ANALYST_EXAMPLES.values():
        loaded.query(sql)


def test_replaying_every_batch_leaves_what_analysts_see_unchanged(loaded: Warehouse) -> None:
    before = analyst_snapshot(loaded)
    for batch in known_batches():
        loaded.insert(batch)
    assert analyst_snapshot(loaded) == before


def analyst_snapshot(warehouse: Warehouse) -> dict[str, list[tuple]]:
    views = [
        name
        for (name,) in rows(
            warehouse,
            "SELECT name FROM system.tables "
            "WHERE database = currentDatabase() AND name LIKE 'v\\_%'",
        )
    ]
    assert len(views) == 15
    return {view: sorted(map(repr, rows(warehouse, f"SELECT * FROM {view}"))) for view in views}


ANALYST_GUIDE = PROJECT_ROOT / "docs" / "analysts.md"


def _examples(path: Path) -> dict[str, str]:
    """The guide's ```sql blocks, by the ``-- example: NAME`` line each starts with."""
    blocks = re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.S)
    return {
        re.match(r"-- example: ([\w-]+)", b)[1]: b for b in blocks if b.startswith("-- example:")
    }


ANALYST_EXAMPLES = _examples(ANALYST_GUIDE)


def analyst_query(name: str) -> str:
    return ANALYST_EXAMPLES[name]
