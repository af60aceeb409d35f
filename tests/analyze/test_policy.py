"""Policy flags of ``classroom analyze``: with ``--emotion off`` no expression is read,
stored or reported, and the attention and fatigue metrics are still there."""

from __future__ import annotations

from pathlib import Path

from schemas.warehouse import Warehouse
from tests.analyze.test_bad_input import analyze


def test_emotion_off_stores_and_reports_no_expression(
    tmp_path: Path, classroom_video: Path
) -> None:
    data_dir = tmp_path / "data"
    result = analyze(
        classroom_video, "--data-dir", data_dir, "--emotion", "off", "--sample-fps", "3",
        "--session", "no-emotion",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with Warehouse.connect_dsn(f"chdb://{data_dir / 'warehouse'}") as warehouse:
        [(faces, with_expression, windows, with_mix, attention)] = warehouse.query(
            """
            SELECT
                (SELECT count() FROM face_events),
                (SELECT countIf(p_happy IS NOT NULL OR expression_label IS NOT NULL)
                 FROM face_events),
                (SELECT count() FROM student_windows),
                (SELECT countIf(notEmpty(expression_mix) OR dominant_expression IS NOT NULL)
                 FROM student_windows),
                (SELECT max(attention) FROM student_windows)
            """
        ).result_rows
    assert faces > 0 and windows > 0
    assert (with_expression, with_mix) == (0, 0)
    assert attention > 0
    report = (data_dir / "reports" / "no-emotion.html").read_text()
    assert "Expression inference was off" in report
    for label in ("happy", "surprise", "disgust"):
        assert label not in report
