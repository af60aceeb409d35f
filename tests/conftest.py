"""Fixtures shared by every test folder. The real data lives in ../shared/data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import cv2
import msgspec
import pytest

from core.warehouse import Warehouse
from schemas.events import EXPRESSIONS, FaceEvent
from schemas.settings import PolicySettings, VisionSettings

if TYPE_CHECKING:
    import torch

    from core.vision.engine import VisionModels
    from core.vision.expression import ExpressionClassifier
    from core.vision.landmarks import LandmarkModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
CLASSROOM_VIDEO = SHARED_DATA / "video" / "classroom.mp4"


def stored_face_events(dsn: str, session_id: str) -> list[FaceEvent]:
    """The face events a session stored in the warehouse at ``dsn``, in time order, as the
    events the analytics read: for replaying an analysed video through the analytics."""
    with Warehouse.connect_dsn(dsn) as warehouse:
        result = warehouse.query(
            "SELECT * FROM face_events FINAL WHERE session_id = {s:String} "
            "ORDER BY captured_at, face_index",
            {"s": session_id},
        )
    faces = []
    for row in result.result_rows:
        values = dict(zip(result.column_names, row, strict=True))
        probabilities = [values.pop(f"p_{label}") for label in EXPRESSIONS]
        values["box"] = tuple(values.pop(f"box_{k}") for k in ("x", "y", "width", "height"))
        values["expression"] = None if probabilities[0] is None else tuple(probabilities)
        values["captured_at"] = values["captured_at"].timestamp()
        fields = {k: v for k, v in values.items() if k in FaceEvent.__struct_fields__}
        faces.append(msgspec.convert(fields, FaceEvent))
    return faces


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared test data is missing: expected {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def classroom_video(shared_data: Path) -> Path:
    return CLASSROOM_VIDEO


def shared_vision_models(vision: VisionSettings, policy: PolicySettings) -> VisionModels:
    """The models of ``VisionModels.load(vision, policy)``, with the two that take seconds
    to load (landmarks ~1 s and expression ~3 s of CPU) loaded once per test process and
    set of arguments; the others (detector, eye state, face encoder: ~0.1 s) are new.
    None keeps state between calls but a scratch buffer, which is safe to share as no
    test runs two engines at once; each engine keeps its own trackers, clocks and
    identities."""
    from core.vision.detectors import create_detector  # torch: only for the tests that need it
    from core.vision.device import resolve_device
    from core.vision.engine import VisionModels
    from core.vision.eyestate import EyeStateClassifier
    from core.vision.identity import create_face_encoder

    device = resolve_device(vision.device)
    return VisionModels(
        detector=create_detector(vision),
        landmarks=_shared_landmark_model(),
        eye_state=EyeStateClassifier(vision.eye_state_model),
        expression=(
            _shared_expression_classifier(
                vision.expression_model, device, vision.expression_min_face_px
            )
            if policy.emotion == "on"
            else None
        ),
        encoder=create_face_encoder(vision) if policy.identity == "face" else None,
    )


@cache
def _shared_landmark_model() -> LandmarkModel:
    from core.vision.landmarks import LandmarkModel

    return LandmarkModel()


@cache
def _shared_expression_classifier(
    name: str, device: torch.device, min_face_px: int
) -> ExpressionClassifier:
    from core.vision.expression import ExpressionClassifier

    return ExpressionClassifier(name, device, min_face_px)


@pytest.fixture(scope="session")
def migrated_warehouse_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded warehouse with every migration applied (default settings) and no row,
    closed. Migrating takes 5-20 s on 2 cores, copying this folder about one."""
    data_dir = tmp_path_factory.mktemp("migrated") / "warehouse"
    with Warehouse.connect_dsn(f"chdb://{data_dir}") as warehouse:
        warehouse.migrate()
    return data_dir


@pytest.fixture
def warehouse(tmp_path: Path, migrated_warehouse_dir: Path) -> Iterator[Warehouse]:
    """An empty, migrated warehouse of this test's own, open, at ``tmp_path / "warehouse"``:
    a copy of ``migrated_warehouse_dir``. It is closed after the test (chdb opens one data
    directory per process at a time). A module that needs rows in it overrides this
    fixture with one of the same name that takes this one and fills it."""
    data_dir = tmp_path / "warehouse"
    # symlinks=True: the engine's data/ folder links into its store/ by relative paths.
    shutil.copytree(migrated_warehouse_dir, data_dir, symlinks=True)
    with Warehouse.connect_dsn(f"chdb://{data_dir}") as opened:
        yield opened


class AnalyzedWarehouse(NamedTuple):
    dsn: str
    """``chdb://…/warehouse``: open it with ``core.warehouse.Warehouse.connect_dsn`` and
    close it after use (chdb opens one data directory per process at a time)."""
    report: Path
    session_id: str
    data_dir: Path
    output: str
    """What ``classroom analyze`` printed (stdout and stderr)."""


def write_teacher_photo(folder: Path) -> Path:
    """``folder/teacher.jpg``: frame 300 of the clip, the teacher's close-up, standing in
    for the staff photo a school would enroll him from."""
    video = cv2.VideoCapture(str(CLASSROOM_VIDEO))
    video.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, close_up = video.read()
    video.release()
    assert ok, f"cannot read frame 300 of {CLASSROOM_VIDEO}"
    photo = folder / "teacher.jpg"
    cv2.imwrite(str(photo), close_up)
    return photo


ANALYZED_SESSION = "e2e-classroom"
TEACHER_SEAT_MAP = PROJECT_ROOT / "tests" / "dashboards" / "teacher_seat.yaml"


def analyze_classroom_clip(data_dir: Path, session: str, *options: str) -> AnalyzedWarehouse:
    """``classroom analyze ../shared/data/video/classroom.mp4`` through the real command
    line into ``data_dir``, as lesson ``session`` of classroom room-e2e (course maths), its
    report at ``data_dir / "report.html"``; ``options`` go after those. A failed run fails
    the test."""
    report = data_dir / "report.html"
    command = [
        sys.executable, "-m", "classroom.cli", "analyze", str(CLASSROOM_VIDEO),
        "--data-dir", str(data_dir), "--report", str(report),
        "--session", session, "--classroom", "room-e2e", "--course", "maths", *options,
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"classroom analyze exited with {result.returncode}:\n{output[-4000:]}")
    return AnalyzedWarehouse(
        dsn=f"chdb://{data_dir / 'warehouse'}",
        report=report,
        session_id=session,
        data_dir=data_dir,
        output=output,
    )


@pytest.fixture(scope="session")
def analyzed_warehouse(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> AnalyzedWarehouse:
    """The clip analysed once per test session with the default settings (10 frames/s,
    emotion on, identity off: anonymous tracks): a warehouse filled by the whole pipeline
    (face events, windows, alerts, session scores), its HTML report and the annotated
    video ``data_dir / "annotated.mp4"``. Read by tests/analyze, tests/attendance,
    tests/dashboards and tests/security."""
    data_dir = tmp_path_factory.mktemp("analyzed")
    annotated = str(data_dir / "annotated.mp4")
    return analyze_classroom_clip(data_dir, ANALYZED_SESSION, "--annotate", annotated)


@pytest.fixture(scope="session")
def teacher_lesson(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> AnalyzedWarehouse:
    """The clip analysed once per test session with identity by seat map
    (tests/dashboards/teacher_seat.yaml names the teacher, who stands at the back) at 5
    frames/s, as in docs/analyze.md's teacher example: a lesson whose teacher is known, so
    it has a teacher expression mix. Read by the Teacher dashboard's tests in
    tests/dashboards and tests/security."""
    data_dir = tmp_path_factory.mktemp("teacher-lesson")
    return analyze_classroom_clip(
        data_dir, "e2e-teacher", "--identity", "seat", "--roster", str(TEACHER_SEAT_MAP),
        "--sample-fps", "5",
    )  # fmt: skip
