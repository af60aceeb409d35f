"""A hand-made ``ReportData`` for rendering tests that need no warehouse."""

from __future__ import annotations

from classroom.report import (
    AlertRow,
    ClassPoint,
    Overview,
    ReportData,
    ScoreRow,
    StudentCell,
    TeacherMix,
)
from schemas.events import EXPRESSIONS, INTENSITY_CLASSES

START = 1_763_800_000.0
PEOPLE = [f"cam-1/t{i}" for i in (1, 2, 3, 10)]


def sample_report_data(*, emotion: bool = True) -> ReportData:
    windows = [START + 10 * k for k in range(6)]
    cells = [
        StudentCell(person, start, value, 0.0 if (i, k) == (3, 2) else 1.0)
        for i, person in enumerate(PEOPLE)
        for k, start in enumerate(windows)
        for value in [(20 + 13 * i + 9 * k) % 100]
    ]
    mix = {
        p: {e: float(1 + (i + j) % 4) for j, e in enumerate(EXPRESSIONS)}
        for i, p in enumerate(PEOPLE)
    }
    return ReportData(
        overview=Overview(
            "classroom-20251122T080000",
            "school-1",
            "room-1",
            "maths",
            START,
            START + 59,
            590,
            4100,
            len(PEOPLE),
        ),
        class_points=[
            ClassPoint(s, 10.0, 4, 40 + 5 * k, 20 + 3 * k, 70 + k) for k, s in enumerate(windows)
        ],
        student_cells=cells,
        expression_mix=mix if emotion else {},
        alerts=[
            AlertRow("cam-1/t2", "fatigue", START + 21, START + 31, "PERCLOS 0.42 > 0.30 for 20 s"),
            AlertRow("", "class_drop", START + 40, START + 50, "class mean fell from 62 to 31"),
        ],
        teacher_mixes=[
            TeacherMix(
                "teacher-ms-lee", 300, {c: 1 / len(INTENSITY_CLASSES) for c in INTENSITY_CLASSES}
            )
        ]
        if emotion
        else [],
        scores=[
            ScoreRow(
                p,
                "student",
                30 + 15 * i,
                35 + 12 * i,
                0.5 + 0.1 * i,
                0.9,
                i,
                "mean concentration 41 (weight 0.6) + attention 60% (0.3) ...",
            )
            for i, p in enumerate(PEOPLE)
        ],
    )
