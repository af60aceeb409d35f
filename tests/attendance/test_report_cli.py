"""``classroom report SESSION`` rebuilds a stored lesson's report from the warehouse alone,
its attendance section the same as the one ``classroom analyze`` wrote.

Control: a session the warehouse does not hold is a one-line error and no file.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from classroom.cli import main
from tests.attendance.conftest import SESSION, Analysis
from tests.attendance.test_roll_call import report_roll


def rebuild(analysis: Analysis, session: str, out: Path) -> tuple[int, str]:
    data_dir = Path(analysis.dsn.removeprefix("chdb://")).parent
    result = CliRunner().invoke(
        main, ["report", session, "--data-dir", str(data_dir), "--out", str(out)]
    )
    return result.exit_code, result.output


def test_the_rebuilt_report_has_the_same_roll_call(roll_call_lesson: Analysis, tmp_path) -> None:
    out = tmp_path / "rebuilt.html"
    code, output = rebuild(roll_call_lesson, SESSION, out)
    assert code == 0, output
    assert output.strip() == str(out)
    rebuilt = roll_call_lesson._replace(report=out)
    assert report_roll(rebuilt) == report_roll(roll_call_lesson)
    assert len(report_roll(rebuilt)) == 10


def test_control_an_unknown_session_is_a_one_line_error(
    roll_call_lesson: Analysis, tmp_path
) -> None:
    out = tmp_path / "none.html"
    code, output = rebuild(roll_call_lesson, "no-such-lesson", out)
    assert code != 0
    assert output.count("\n") == 1 and "no face events of session 'no-such-lesson'" in output
    assert not out.exists()
