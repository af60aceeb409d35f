"""Privacy at the warehouse, on the real clip through the real command line.

``classroom analyze`` runs the same stages as the streaming processes (inference stage,
metric maths, sink batcher, migrations), so what it leaves in its warehouse and data
directory is what the services leave in ClickHouse. The runs:

- emotion off, identity by seat map, one pupil's seat without consent;
- the control: the same clip with emotion on and anonymous tracks, which shows that the
  checks below would see expressions and the pupil's face if they were there;
- identity by face, with the teacher enrolled from a photo (embeddings exist).

Every run has known secret values in its environment, and logs at DEBUG.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest

from classroom.annotate import conceal_all_but
from core.roster import embeddings_path
from core.warehouse import Warehouse
from tests.conftest import CLASSROOM_VIDEO, PROJECT_ROOT, write_teacher_photo
from tests.reliability.warehouse_scan import (
    cells_with_jpeg_or_embedding_bytes,
    filled_emotion_cells,
    float_array_columns,
    media_files,
)

NO_CONSENT_SEAT = (440, 150, 110, 130)
TIME_ARRAYS = {
    "default.student_windows.blink_starts: Array(Float64)",
    "default.student_windows.blink_ends: Array(Float64)",
}
"""Float arrays that are capture times (epoch seconds of each blink), not embeddings."""
"""Where the second pupil from the left sits in the opening shot (an identity-off run
finds a face there in the first six sampled frames)."""
SECRETS = {
    "CLASSROOM_KAFKA__SASL_USERNAME": "classroom",
    "CLASSROOM_KAFKA__SASL_PASSWORD": f"kafka-{secrets.token_hex(12)}",
    "CLASSROOM_WAREHOUSE__PASSWORD": f"clickhouse-{secrets.token_hex(12)}",
}
SEAT_ROSTER = f"""
students:
  - id: s-no-consent
    consent: false
    seats: [{{camera_id: cam-1, box: [{", ".join(map(str, NO_CONSENT_SEAT))}]}}]
  - id: s-anna
    consent: true
    seats: [{{camera_id: cam-1, box: [700, 180, 120, 130]}}]
  - id: teacher-1
    role: teacher
    consent: true
    seats: [{{camera_id: cam-1, box: [590, 0, 280, 175]}}]
"""


class Run(NamedTuple):
    data_dir: Path
    output: str

    def query(self, sql: str) -> list[tuple]:
        with Warehouse.connect_dsn(f"chdb://{self.data_dir / 'warehouse'}") as warehouse:
            return warehouse.query(sql).result_rows

    def scan(self, check):  # check: one of warehouse_scan's functions
        with Warehouse.connect_dsn(f"chdb://{self.data_dir / 'warehouse'}") as warehouse:
            return check(warehouse)


def classroom(*arguments: str | Path, cwd: Path = PROJECT_ROOT) -> str:
    env = {**os.environ, **SECRETS, "CLASSROOM_SERVICE__LOG_LEVEL": "DEBUG"}
    command = [sys.executable, "-m", "classroom.cli", *map(str, arguments)]
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def analyze(data_dir: Path, *options: str | Path) -> Run:
    output = classroom(
        "analyze", CLASSROOM_VIDEO, "--data-dir", data_dir, "--sample-fps", "1", "--camera",
        "cam-1", *options,
    )  # fmt: skip
    return Run(data_dir, output)


@pytest.fixture(scope="module")
def seat_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("seat")
    roster = tmp / "roster.yaml"
    roster.write_text(SEAT_ROSTER)
    return analyze(
        tmp / "data", "--emotion", "off", "--identity", "seat", "--roster", roster,
        "--session", "seat", "--annotate", tmp / "annotated.mp4",
    )  # fmt: skip


@pytest.fixture(scope="module")
def control_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("control")
    return analyze(tmp / "data", "--emotion", "on", "--identity", "off", "--session", "control")


@pytest.fixture(scope="module")
def face_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("face")
    photo = write_teacher_photo(tmp)
    roster = tmp / "roster.yaml"
    roster.write_text("students:\n  - {id: teacher-okafor, role: teacher, consent: true}\n")
    enroll_output = classroom(
        "roster", "enroll", "--roster", roster, "--student", "teacher-okafor", photo
    )
    run = analyze(tmp / "data", "--identity", "face", "--roster", roster, "--session", "face")
    return Run(run.data_dir, enroll_output + run.output)


def faces_in_seat(run: Run) -> int:
    x, y, width, height = NO_CONSENT_SEAT
    return run.query(
        f"""SELECT count() FROM face_events
        WHERE box_x + box_width / 2 BETWEEN {x} AND {x + width}
          AND box_y + box_height / 2 BETWEEN {y} AND {y + height}"""
    )[0][0]


def test_a_student_without_consent_leaves_no_event(seat_run: Run, control_run: Run) -> None:
    assert faces_in_seat(control_run) >= 3, "the control must see the pupil"
    assert faces_in_seat(seat_run) == 0
    people = dict(seat_run.query("SELECT person_id, count() FROM face_events GROUP BY person_id"))
    assert "s-no-consent" not in people
    assert people.get("s-anna", 0) > 0, people
    for table in ("student_windows", "session_scores", "alerts"):
        rows = seat_run.query(f"SELECT count() FROM {table} WHERE person_id = 's-no-consent'")
        assert rows == [(0,)], table


def test_personal_files_are_owner_only(seat_run: Run) -> None:
    reports = list((seat_run.data_dir / "reports").glob("*.html"))
    assert reports, "the run wrote its report"
    assert {stat.S_IMODE(path.stat().st_mode) for path in reports} == {0o600}
    assert stat.S_IMODE((seat_run.data_dir / "warehouse").stat().st_mode) == 0o700
    video = seat_run.data_dir.parent / "annotated.mp4"
    assert stat.S_IMODE(video.stat().st_mode) == 0o600


def concealment_error(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How far ``box`` of ``image`` is from its pixelated self: near 0 where it was
    pixelated already (a face no one may see), large where the face is shown."""
    x, y, width, height = box
    region = (slice(y, y + height), slice(x, x + width))
    return float(np.abs(image[region].astype(int) - conceal_all_but(image, [])[region]).mean())


def test_the_annotated_video_hides_the_student_without_consent(seat_run: Run) -> None:
    annotated = cv2.VideoCapture(str(seat_run.data_dir.parent / "annotated.mp4"))
    original = cv2.VideoCapture(str(CLASSROOM_VIDEO))
    ok, shown = annotated.read()
    _, source = original.read()  # the first analysed frame is the video's first
    annotated.release()
    original.release()
    assert ok and shown.shape == source.shape

    assert concealment_error(source, NO_CONSENT_SEAT) > 8  # control: the pupil is visible
    assert concealment_error(shown, NO_CONSENT_SEAT) < 3


def test_emotion_off_fills_no_emotion_column(seat_run: Run, control_run: Run) -> None:
    filled_on = control_run.scan(filled_emotion_cells)
    assert filled_on["face_events.p_happy"] > 0 and filled_on["student_windows.expression_mix"] > 0
    filled_off = seat_run.scan(filled_emotion_cells)
    assert set(filled_off) == set(filled_on)
    assert {column: count for column, count in filled_off.items() if count} == {}
    assert seat_run.query("SELECT count() FROM teacher_expression_mix") == [(0,)]
    assert seat_run.query("SELECT count() FROM face_events")[0][0] > 0
    assert seat_run.query("SELECT max(attention) FROM student_windows")[0][0] > 0


def test_emotion_off_reports_no_expression(seat_run: Run, control_run: Run) -> None:
    emotion_off = (seat_run.data_dir / "reports" / "seat.html").read_text()
    emotion_on = (control_run.data_dir / "reports" / "control.html").read_text()
    assert "Expression inference was off" in emotion_off
    assert "Expression inference was off" not in emotion_on
    for label in ("happy", "surprise", "disgust"):
        assert label in emotion_on, label  # control: the labels would show
        assert label not in emotion_off, label


@pytest.mark.parametrize("run_name", ["seat_run", "control_run", "face_run"])
def test_no_frame_and_no_embedding_reaches_the_warehouse_or_the_disk(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(run_name)
    arrays = [column for column in run.scan(float_array_columns) if column not in TIME_ARRAYS]
    assert arrays == []
    assert run.scan(cells_with_jpeg_or_embedding_bytes) == []
    assert media_files(run.data_dir) == []


def test_face_identity_stores_no_face_before_it_is_recognised(
    face_run: Run, control_run: Run
) -> None:
    """Consent is opt-in: a track whose identity (and so consent) is not known yet leaves
    no event, where identity off stores every face as an anonymous track."""
    anonymous = "SELECT count() FROM face_events WHERE identity_source = 'track'"
    assert control_run.query(anonymous)[0][0] > 0  # control: the same clip's anonymous faces
    assert face_run.query(anonymous) == [(0,)]
    assert face_run.query("SELECT count() FROM face_events")[0][0] > 0


def test_face_identity_keeps_embeddings_beside_the_roster_only(face_run: Run) -> None:
    people = {person for (person,) in face_run.query("SELECT DISTINCT person_id FROM face_events")}
    assert "teacher-okafor" in people, "the enrolled teacher was recognised"
    roster = face_run.data_dir.parent / "roster.yaml"
    assert embeddings_path(roster).is_file(), "embeddings live beside the roster"


@pytest.mark.parametrize("run_name", ["seat_run", "control_run", "face_run"])
def test_secrets_in_the_environment_are_never_written(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(run_name)
    written = [run.output] + [
        path.read_bytes().decode(errors="replace")
        for path in run.data_dir.rglob("*")
        if path.is_file()
    ]
    for name, value in SECRETS.items():
        if name.endswith("PASSWORD"):
            assert not any(value in text for text in written), f"{name} leaked"
