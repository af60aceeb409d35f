"""The README's and docs' commands, walked once per test session as a new user would: in
order, in an empty folder, with no CLASSROOM_* setting. The walk analyses the classroom clip
twice: the README's first command (identity off) and the docs' teacher example (a seat
roster, 5 frames/s); every test of this folder reads those two warehouses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.doc_commands import PROJECT_ROOT, Ran, documented_commands, run_in_order

WALKED_DOCS = ("README.md", "docs/analyze.md", "docs/analysts.md")


@dataclass(frozen=True)
class Walk:
    folder: Path
    ran: list[Ran]

    @property
    def lesson(self) -> Path:
        """The data dir of the README's first command (the default, ./classroom-data)."""
        return self.folder / "classroom-data"

    @property
    def teacher_lesson(self) -> Path:
        """The data dir of the docs' teacher example (identity by seat map)."""
        return self.folder / "teacher-lesson"


@pytest.fixture(scope="session")
def walked_docs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Walk:
    folder = tmp_path_factory.mktemp("new-user")
    commands = [c for doc in WALKED_DOCS for c in documented_commands(PROJECT_ROOT / doc)]
    return Walk(folder, run_in_order(commands, folder))


@pytest.fixture(scope="session")
def lesson(walked_docs: Walk) -> Path:
    first = walked_docs.ran[0]
    if first.exit_code != 0:
        pytest.fail(f"the README's first command failed ({first.exit_code}):\n{first.output}")
    return walked_docs.lesson
