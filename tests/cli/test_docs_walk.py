"""Every command of the README and the docs, tried cold and in order (the session fixture
``walked_docs``), exits 0 and prints what the docs say it prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.conftest import WALKED_DOCS, Walk
from tests.cli.doc_commands import (
    PROJECT_ROOT,
    DocCommand,
    Ran,
    documented_commands,
    expected_pattern,
    missing_output,
    run_in_order,
)


def test_the_walk_covers_the_commands_a_new_user_meets_first(walked_docs: Walk) -> None:
    texts = [ran.command.text for ran in walked_docs.ran]
    assert texts[0] == ".venv/bin/classroom analyze ../shared/data/video/classroom.mp4"
    assert sum("classroom sql" in t for t in texts) >= 8
    assert any("--identity seat" in t for t in texts)


def test_every_documented_command_exits_0(walked_docs: Walk) -> None:
    failed = [
        f"{r.command.where}: exit {r.exit_code}\n{r.command.text}\n{r.output[-1500:]}"
        for r in walked_docs.ran
        if r.exit_code != 0
    ]
    assert not failed, "\n\n".join(failed)


def test_every_documented_command_prints_what_the_docs_show(walked_docs: Walk) -> None:
    checked = [r for r in walked_docs.ran if r.command.expected]
    assert len(checked) >= 5
    wrong = [
        f"{r.command.where}: {missing_output(r)} not in\n{r.output[-2000:]}"
        for r in checked
        if missing_output(r)
    ]
    assert not wrong, "\n\n".join(wrong)


def test_no_command_prints_a_traceback_or_a_cut_progress_bar(walked_docs: Walk) -> None:
    for ran in walked_docs.ran:
        assert "Traceback" not in ran.output, ran.command.where
        assert "…" not in ran.output and "━" not in ran.output, ran.command.where
    analyze = walked_docs.ran[0].output
    assert "progress: " in analyze  # plain lines, not a bar: the output is not a terminal


def test_files_the_docs_redirect_to_hold_rows(walked_docs: Walk) -> None:
    scores = (walked_docs.folder / "scores.csv").read_text().splitlines()
    assert scores[0].startswith("school_id,classroom_id,session_id") and len(scores) >= 8


def test_a_failing_command_or_a_wrong_output_is_caught(walked_docs: Walk, tmp_path: Path) -> None:
    """Control: the walk's checks fail on a command that fails and on output the command
    does not print."""
    doc = tmp_path / "doc.md"
    data_dir = walked_docs.lesson
    doc.write_text(
        "```bash\n"
        f'classroom sql --data-dir {data_dir} "SELECT count() AS faces FROM face_events"\n'
        "# faces\n"
        "# no such line\n"
        f'classroom sql --data-dir {data_dir} "SELECT * FROM no_such_view"\n'
        "```\n"
    )
    first, second = run_in_order(documented_commands(doc), tmp_path)
    assert first.exit_code == 0 and missing_output(first) == ["no such line"]
    assert second.exit_code == 1
    assert [line for line in second.output.splitlines() if line.strip()] == [
        next(line for line in second.output.splitlines() if line.startswith("Error: "))
    ]


def test_numbers_in_a_documented_line_match_any_number() -> None:
    pattern = expected_pattern("analysed 132 frames, 633 faces in 31.3 s; -- row 1 ------")
    assert pattern.search("analysed 7 frames, 20 faces in 2.5 s; -- row 12 ---")
    assert not pattern.search("analysed frames, 20 faces in 2.5 s")
    ran = Ran(DocCommand("x:1", "true", ["report: a/b.html"]), 0, "report: a/c.html")
    assert missing_output(ran) == ["report: a/b.html"]


def test_the_documented_bash_blocks_parse_as_bash() -> None:
    for doc in WALKED_DOCS:
        for command in documented_commands(PROJECT_ROOT / doc):
            syntax = subprocess.run(["bash", "-n", "-c", command.text], capture_output=True)
            assert syntax.returncode == 0, (command.where, syntax.stderr)


def teacher_section(data_dir: Path) -> str:
    [report] = (data_dir / "reports").glob("*.html")
    html = report.read_text()
    start = html.index("<section id='teacher-mix'>")
    return html[start : html.index("</section>", start)]


def test_the_reports_say_why_there_is_or_is_not_a_teacher(lesson: Path, walked_docs: Walk) -> None:
    anonymous = teacher_section(lesson)
    assert "identity off" in anonymous and "<svg" not in anonymous
    with_roster = teacher_section(walked_docs.teacher_lesson)
    assert "teacher-1" in with_roster and "<svg" in with_roster
    assert "identity off" not in with_roster
