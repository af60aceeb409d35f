"""``classroom report SESSION`` rebuilds a stored lesson's report from the warehouse alone,
its attendance section the same as the one ``classroom analyze`` wrote.

Control: a session the warehouse does not hold is a one-line error and no file.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import classroom.analyze
from classroom.cli import main
from classroom.report_cli import default_report_path
from schemas.settings import Settings, WarehouseSettings
from tests.attendance.conftest import ON_THE_ROLL, SESSION, Analysis
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
    assert len(report_roll(rebuilt)) == len(ON_THE_ROLL)  # nine: one refuses recording


def test_control_an_unknown_session_is_a_one_line_error(
    roll_call_lesson: Analysis, tmp_path
) -> None:
    out = tmp_path / "none.html"
    code, output = rebuild(roll_call_lesson, "no-such-lesson", out)
    assert code != 0
    assert output.count("\n") == 1 and "no face events of session 'no-such-lesson'" in output
    assert not out.exists()


def test_without_out_the_report_goes_where_analyze_writes_it(tmp_path: Path) -> None:
    """One helper names the default path for both commands: beside an embedded warehouse,
    the session id made safe for a file name; with a server, ./reports."""
    embedded = Settings(warehouse=WarehouseSettings(dsn=f"chdb://{tmp_path / 'warehouse'}"))
    assert default_report_path(embedded, "maths 7b/monday") == (
        tmp_path / "reports" / "maths-7b-monday.html"
    )
    server = Settings(warehouse=WarehouseSettings(dsn="https://clickhouse:8443/classroom"))
    assert default_report_path(server, "e2e") == Path("reports") / "e2e.html"
    assert classroom.analyze.default_report_path is default_report_path
