"""``classroom dashboards generate --out DIR`` writes there, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from classroom.cli import main
from dashboards.generate import GENERATED_DIR, rendered


def package_files() -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in GENERATED_DIR.glob("*.json")}


def test_out_gets_every_dashboard_and_the_package_folder_is_untouched(tmp_path: Path) -> None:
    before = package_files()
    out = tmp_path / "dashboards"
    result = CliRunner().invoke(main, ["dashboards", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.json")) == sorted(rendered())
    assert all(str(out) in line for line in result.output.splitlines())
    assert package_files() == before


def test_a_folder_with_other_json_files_is_refused_and_kept(tmp_path: Path) -> None:
    mine = tmp_path / "budget.json"
    mine.write_text("{}")
    result = CliRunner().invoke(main, ["dashboards", "generate", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "budget.json" in result.output
    assert mine.read_text() == "{}"
    assert not any(tmp_path.glob("classroom-*.json"))


def test_an_installed_package_needs_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where dashboards/ is not in a source checkout (site-packages), there is no default:
    the package's own folder is no place for generated files."""
    installed = tmp_path / "site-packages" / "dashboards" / "generated"
    monkeypatch.setattr("dashboards.cli.GENERATED_DIR", installed)
    result = CliRunner().invoke(main, ["dashboards", "generate"])
    assert result.exit_code == 2 and "give --out DIR" in result.output
    assert not installed.exists()
