"""Inserting events: column mapping, bad batches, replays."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec
import pytest

from core.warehouse import (
    TABLE_FOR_EVENT,
    RosterRow,
    RowsRefused,
    Warehouse,
    WarehouseError,
    WarehouseUnavailable,
)
from schemas.events import DeadLetter, Frame, WorkerHealth
from schemas.migrate import split_statements
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


def count(warehouse: Warehouse, table: str) -> int:
    return warehouse.command(f"SELECT count() FROM {table}")


def test_face_events_land_column_by_column(warehouse: Warehouse) -> None:
    assert warehouse.insert([face_event(seq=5, face_index=1)]) == 1
    row = warehouse.query(
        "SELECT event_id, captured_at, box_x, box_width, p_happy, p_neutral, expression_label, "
        "person_id FROM face_events"
    ).result_rows[0]
    assert row[0] == "cam-1/5/1"
    assert row[1].replace(tzinfo=UTC) == datetime.fromtimestamp(LESSON_START + 1.0, UTC)
    assert row[2:4] == (180, 60)
    assert row[4] == pytest.approx(0.7)
    assert row[5] == pytest.approx(0.2)
    assert row[6:] == ("happy", "student-1")


def test_emotion_off_stores_null_probabilities(warehouse: Warehouse) -> None:
    warehouse.insert(
        [face_event(seq=1, expression=None, expression_label=None, expression_intensity=None)]
    )
    row = warehouse.query(
        "SELECT p_angry, p_neutral, expression_label FROM face_events"
    ).result_rows[0]
    assert row == (None, None, None)


def test_every_event_type_has_a_table(warehouse: Warehouse) -> None:
    batches = [
        [face_event(1)],
        [student_window("student-1", 0, 0.7, "nominal")],
        [class_window(0, 0.6)],
        [alert("student-1", 3)],
        [session_score("student-1", 0.7)],
        [teacher_mix("s-maths-1", "maths", 0.3)],
        [
            WorkerHealth(
                worker_id="infer-1",
                role="infer",
                at=LESSON_START,
                frames_in=50,
                faces=300,
                lag=4,
                drops=0,
                errors=0,
                batch_latency_ms=81.5,
            )
        ],
        [
            DeadLetter(
                source_topic="classroom.face-events.v1",
                partition=0,
                offset=17,
                reason="bad json",
                payload=b"{",
                payload_size=1,
                failed_at=LESSON_START,
                worker_id="sink-1",
            )
        ],
    ]
    assert {type(batch[0]) for batch in batches} == set(TABLE_FOR_EVENT)
    for batch in batches:
        assert warehouse.insert(batch) == 1
        assert count(warehouse, TABLE_FOR_EVENT[type(batch[0])]) == 1


def test_teacher_mix_has_one_column_per_intensity_class(warehouse: Warehouse) -> None:
    warehouse.insert([teacher_mix("s-maths-1", "maths", 0.25)])
    row = warehouse.query(
        "SELECT neutral, happy_strong, sad_weak FROM teacher_expression_mix"
    ).result_rows[0]
    assert row == pytest.approx((0.75, 0.25, 0.0))


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        (
            face_event(9, det_score=math.nan),
            r"face_events: batch violates the FaceEvent schema: "
            r"Expected `float`, got `null` - at `\$\[2\].det_score`",
        ),
        (face_event(9, role="principal"), r"Invalid enum value 'principal' - at `\$\[2\].role`"),
        (face_event(9, expression=(0.5, 0.5)), r"at \$\[2\]: expression has 2 values, expected 7"),
        (
            face_event(9, track_id=-1),
            r"at \$\[2\]: track_id, face_index and frame_seq must not be negative",
        ),
        (
            face_event(9, captured_at="yesterday"),
            r"Expected `float`, got `str` - at `\$\[2\].captured_at`",
        ),
    ],
)
def test_a_bad_batch_fails_clearly_and_inserts_nothing(
    warehouse: Warehouse, bad_event, message
) -> None:
    batch = [face_event(1), face_event(2), bad_event, face_event(3)]
    with pytest.raises(WarehouseError, match=message):
        warehouse.insert(batch)
    assert count(warehouse, "face_events") == 0
    assert count(warehouse, "face_activity_1m") == 0


def test_a_bad_teacher_mix_names_the_unknown_class(warehouse: Warehouse) -> None:
    mix = teacher_mix("s-1", "maths", 0.5)
    bad = msgspec.structs.replace(mix, mix={"bored": 1.0})
    with pytest.raises(WarehouseError, match=r"mix has unknown classes \['bored'\]"):
        warehouse.insert([bad])
    assert count(warehouse, "teacher_expression_mix") == 0


def test_mixed_event_types_and_frames_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(
        WarehouseError, match="one insert takes one event type: got FaceEvent mixed with Alert"
    ):
        warehouse.insert([face_event(1), alert("student-1", 1)])
    frame = Frame(
        school_id="s",
        classroom_id="r",
        camera_id="c",
        session_id="x",
        seq=1,
        captured_at=LESSON_START,
        jpeg=b"\xff\xd8",
    )
    with pytest.raises(WarehouseError, match="raw frames are never stored"):
        warehouse.insert([frame])
    assert count(warehouse, "face_events") == 0


def test_a_type_clickhouse_rejects_is_a_warehouse_error(warehouse: Warehouse) -> None:
    columns = ["worker_id", "role", "at", "frames_in"]
    rows = [["infer-1", "infer", 0, 10], ["infer-1", "infer", 1, "many"]]
    with pytest.raises(RowsRefused, match="insert into pipeline_health failed"):
        warehouse.insert_rows("pipeline_health", columns, rows)
    assert count(warehouse, "pipeline_health") == 0


def test_insert_errors_say_whether_the_rows_or_the_service_failed(warehouse: Warehouse) -> None:
    """The storage stage isolates refused rows and retries a failing service: the type says
    which, with ClickHouse's code and name."""
    warehouse.insert([face_event(1)])  # the insert context for face_events is now reused
    warehouse.command("ALTER TABLE face_events ADD CONSTRAINT plausible CHECK face_px < 5000")
    with pytest.raises(RowsRefused) as refused:
        warehouse.insert([face_event(2, face_px=9999)])
    assert (refused.value.code, refused.value.name) == (469, "VIOLATED_CONSTRAINT")

    # The control: a good row, but the table is gone, as in an outage.
    warehouse.command("DETACH TABLE face_events")
    with pytest.raises(WarehouseUnavailable) as unavailable:
        warehouse.insert([face_event(3)])
    assert unavailable.value.code == 60  # UNKNOWN_TABLE
    warehouse.command("ATTACH TABLE face_events")
    assert warehouse.insert([face_event(3)]) == 1
    assert count(warehouse, "face_events") == 2


def test_replaying_the_same_batch_changes_nothing(warehouse: Warehouse) -> None:
    faces = [face_event(seq, face_index) for seq in range(50) for face_index in range(2)]
    windows = [
        student_window(f"student-{i}", m, 0.5 + i / 10, "nominal")
        for i in range(2)
        for m in range(3)
    ]
    for _ in range(2):
        warehouse.insert(faces, dedup_token="face-events/0/0-99")
        warehouse.insert(windows)  # no token: an identical batch is recognised by its content
    assert count(warehouse, "face_events") == 100
    assert (
        warehouse.query("SELECT sum(faces) FROM v_face_activity_minutely").result_rows[0][0] == 100
    )
    assert count(warehouse, "student_windows") == 6
    assert warehouse.query("SELECT sum(windows) FROM v_concentration_hourly").result_rows[0][0] == 6


def test_a_replay_in_different_batches_is_counted_once_by_the_views(warehouse: Warehouse) -> None:
    windows = [
        student_window(f"student-{i}", m, 0.5, "nominal") for i in range(3) for m in range(4)
    ]
    warehouse.insert(windows)
    warehouse.insert(windows[5:9])  # the consumer restarted mid-way and re-read part of it
    assert count(warehouse, "v_student_windows") == 12
    assert warehouse.query(
        "SELECT count() FROM v_student_windows WHERE person_id = 'student-1'"
    ).result_rows == [(4,)]


def test_a_recomputed_window_replaces_the_earlier_one(warehouse: Warehouse) -> None:
    warehouse.insert([student_window("student-1", 0, 0.4, "low")])
    warehouse.insert([student_window("student-1", 0, 0.6, "nominal")])
    rows = warehouse.query("SELECT concentration, band FROM v_student_windows").result_rows
    assert rows == [(pytest.approx(0.6), "nominal")]


def test_roster_rows_are_validated_and_upserted(warehouse: Warehouse) -> None:
    warehouse.insert_roster(
        [
            {"school_id": "school-1", "person_id": "student-1", "role": "student", "seat": "A1"},
            RosterRow(
                school_id="school-1", person_id="teacher-1", role="teacher", consent_face=True
            ),
        ]
    )
    warehouse.insert_roster(
        [
            {
                "school_id": "school-1",
                "person_id": "student-1",
                "role": "student",
                "seat": "B2",
                "consent_emotion": True,
            }
        ]
    )
    rows = warehouse.query(
        "SELECT person_id, seat, consent_emotion FROM v_roster ORDER BY person_id"
    ).result_rows
    assert rows == [("student-1", "B2", True), ("teacher-1", "", False)]
    with pytest.raises(WarehouseError, match=r"roster: Object missing required field `role`"):
        warehouse.insert_roster([{"school_id": "school-1", "person_id": "x"}])


def test_a_rebatched_replay_inflates_rollups_until_rebuilt_as_documented(
    warehouse: Warehouse,
) -> None:
    windows = [
        student_window(f"student-{i}", m, 0.5, "nominal") for i in range(3) for m in range(4)
    ]
    warehouse.insert(windows)
    warehouse.insert(windows[5:9])
    hourly = "SELECT sum(windows) FROM v_concentration_hourly"
    assert warehouse.query(hourly).result_rows == [(16,)]  # the documented tolerance
    year = str(datetime.fromtimestamp(LESSON_START, UTC).year)
    guide = (PROJECT_ROOT / "docs" / "warehouse.md").read_text()
    rebuild = next(b for b in re.findall(r"```sql\n(.*?)```", guide, re.S) if "DROP PARTITION" in b)
    for statement in split_statements(rebuild.replace("2026", year) + ";"):
        warehouse.command(statement)
    assert warehouse.query(hourly).result_rows == [(12,)]


def test_already_stored_finds_replayed_rows_by_identity(warehouse: Warehouse) -> None:
    windows = [
        student_window(f"student-{i}", m, 0.5, "nominal") for i in range(3) for m in range(4)
    ]
    warehouse.insert(windows[:8])
    recomputed = student_window("student-0", 1, 0.9, "high")  # same identity, new values
    other_room = student_window("student-0", 1, 0.5, "nominal", classroom_id="room-2")
    batch = [*windows[6:], recomputed, windows[9], other_room]
    assert warehouse.already_stored(batch) == [
        True, True, False, False, False, False, True, True, False,
    ]  # fmt: skip
    faces = [face_event(seq) for seq in range(5)]
    warehouse.insert(faces[:2])
    assert warehouse.already_stored(faces) == [True, True, False, False, False]
    assert warehouse.already_stored([session_score("student-0", 50.0)]) == [False]
    # A time no column can hold is left for the insert to refuse, not looked up.
    for seconds in (math.nan, math.inf, 1e300):
        assert warehouse.already_stored([face_event(9, captured_at=seconds)]) == [False]


def test_the_embedded_engine_drops_parts_replaced_by_merges_within_seconds(
    warehouse: Warehouse,
) -> None:
    """core/chdb.xml reaches the engine: without it, parts replaced by merges piled up in
    the sink's memory for minutes (the file says what was measured)."""
    rows = warehouse.query(
        "SELECT name, value FROM system.merge_tree_settings WHERE changed AND name IN "
        "('cleanup_delay_period', 'max_cleanup_delay_period', 'concurrent_part_removal_threshold')"
    ).result_rows
    assert dict(rows) == {
        "cleanup_delay_period": "5",
        "max_cleanup_delay_period": "10",
        "concurrent_part_removal_threshold": "1000000",
    }
