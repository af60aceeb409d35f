"""The README's measured numbers (and docs/analyze.md's) are written by ``bench/readme.py``
from the results the bench scripts save, so they cannot go stale or be typed by hand."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli.doc_commands import PROJECT_ROOT

GENERATOR = PROJECT_ROOT / "bench" / "readme.py"
RESULTS = PROJECT_ROOT / "bench" / "results"
DOCS = ("README.md", "docs/analyze.md", "docs/metrics.md")  # every file bench/readme.py writes


def generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=60
    )


def copy_of_the_docs(tmp_path: Path) -> tuple[Path, Path]:
    root, results = tmp_path / "root", tmp_path / "results"
    for doc in DOCS:
        (root / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / doc, root / doc)
    shutil.copytree(RESULTS, results)
    return root, results


def test_the_tables_match_the_saved_bench_results() -> None:
    result = generate("--check")
    assert result.returncode == 0, result.stderr
    assert any(RESULTS.glob("*.json")), "no saved bench result"


def test_a_new_bench_result_changes_the_readme(tmp_path: Path) -> None:
    """Control: the number in the README follows the results file."""
    root, results = copy_of_the_docs(tmp_path)
    record = json.loads((results / "analytics.json").read_text())
    for run in record["values"]["runs"]:
        run["events_per_s"] = 123_456.0
    (results / "analytics.json").write_text(json.dumps(record))
    args = ("--root", str(root), "--results", str(results))
    assert generate(*args, "--check").returncode == 1
    assert generate(*args).returncode == 0
    assert "123,456–123,456 face events/s" in (root / "README.md").read_text()
    assert generate(*args, "--check").returncode == 0


def test_a_number_typed_into_the_table_is_caught(tmp_path: Path) -> None:
    root, results = copy_of_the_docs(tmp_path)
    readme = root / "README.md"
    text = readme.read_text()
    begin = text.index("<!-- bench:readme:begin -->")
    readme.write_text(
        text[:begin]
        + text[begin:].replace(
            "| analytics maths alone |", "| analytics maths alone | 999,999 |", 1
        )
    )
    result = generate("--root", str(root), "--results", str(results), "--check")
    assert result.returncode == 1 and "README.md" in result.stderr


def test_a_bench_without_a_saved_result_says_how_to_measure_it(tmp_path: Path) -> None:
    root, results = copy_of_the_docs(tmp_path)
    (results / "analytics.json").unlink()
    generate("--root", str(root), "--results", str(results))
    row = next(
        line
        for line in (root / "README.md").read_text().splitlines()
        if line.startswith("| analytics maths alone |")
    )
    assert row == "| analytics maths alone | not measured yet | | `bench/analytics.py` |"
