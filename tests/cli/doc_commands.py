"""The shell commands of the README and docs, read from their ```bash blocks, and a runner
that tries them as a new user would: in order, in an empty folder, with nothing set.

A comment line right after a command (``# analysed 132 frames, ...``) is output the docs
say the command prints; ``expected_pattern`` turns it into a regular expression in which
every number matches any number, so a doc shows a real run without going stale on counts.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
NUMBER = r"-?\d+(?:\.\d+)?"
CLASSROOM_COMMAND = re.compile(r"(?<![\w/.-])(?:\.venv/bin/)?classroom(?= )")
HEREDOC = re.compile(r"<<'(\w+)'")
NOT_RUN = ("scripts/", ".venv/bin/pytest")
"""Setting up and running the test suite: the tests run inside what these set up."""


@dataclass
class DocCommand:
    where: str
    """``docs/analyze.md:12``: the file and line the command starts on."""
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ran:
    command: DocCommand
    exit_code: int
    output: str


def bash_blocks(path: Path) -> list[tuple[int, list[str]]]:
    """(line number of the first line, lines) of every ```bash block of ``path``."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if current is None and line.strip() == "```bash":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def documented_commands(path: Path) -> list[DocCommand]:
    """Every command of the ```bash blocks of ``path``, with the output shown after it.
    Setting up and running the test suite (``NOT_RUN``) are left out."""
    commands: list[DocCommand] = []
    for start, lines in bash_blocks(path):
        latest: DocCommand | None = None
        i = 0
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith("#"):
                if latest is not None and stripped != "#":
                    latest.expected.append(stripped[1:].strip())
                i += 1
                continue
            if not stripped:
                i += 1
                continue
            first = i
            text, i = _one_command(lines, i)
            latest = _without_setup(DocCommand(f"{path.name}:{start + first}", text))
            if latest is not None:
                commands.append(latest)
    return commands


def _one_command(lines: list[str], i: int) -> tuple[str, int]:
    """The command starting at ``lines[i]``, through continuation lines, open quotes and
    here-documents; and the index of the line after it."""
    text = lines[i]
    i += 1
    heredoc = HEREDOC.search(text)
    while i < len(lines) and (heredoc or text.endswith("\\") or not _complete(text)):
        text += "\n" + lines[i]
        if heredoc and lines[i].strip() == heredoc[1]:
            heredoc = None
        i += 1
    return text, i


def _complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def _without_setup(command: DocCommand) -> DocCommand | None:
    parts = [p for p in command.text.split(" && ") if not p.strip().startswith(NOT_RUN)]
    if not parts:
        return None
    command.text = " && ".join(parts)
    return command


def runnable(text: str) -> str:
    """The documented command with this checkout's ``classroom`` and data folder."""
    text = text.replace("../shared/data", str(SHARED_DATA))
    return CLASSROOM_COMMAND.sub(f"{shlex.quote(sys.executable)} -m classroom.cli", text)


def cold_environment() -> dict[str, str]:
    """This machine's environment without any CLASSROOM_* setting, 80 columns wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env["COLUMNS"] = "80"
    return env


def run_in_order(commands: list[DocCommand], folder: Path) -> list[Ran]:
    """Run each command in ``folder``; a command documented twice runs once (the second
    mention shows the same thing, e.g. the README's first command in docs/analyze.md)."""
    done: dict[str, Ran] = {}
    ran = []
    for command in commands:
        if command.text not in done:
            result = subprocess.run(
                ["bash", "-c", runnable(command.text)],
                cwd=folder,
                env=cold_environment(),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            done[command.text] = Ran(command, result.returncode, result.stdout + result.stderr)
        ran.append(Ran(command, done[command.text].exit_code, done[command.text].output))
    return ran


def expected_pattern(line: str) -> re.Pattern[str]:
    """``line`` as a regular expression: any number for a number, any run of blanks or line
    breaks for a blank, any run of dashes for a rule of dashes."""
    tokens = []
    for token in line.split():
        if len(token) > 3 and set(token) == {"-"}:
            tokens.append("-+")
            continue
        pieces = re.split(rf"({NUMBER})", token)
        tokens.append(
            "".join(NUMBER if re.fullmatch(NUMBER, p) else re.escape(p) for p in pieces if p)
        )
    return re.compile(r"\s+".join(tokens))


def missing_output(ran: Ran) -> list[str]:
    """The documented output lines that the command did not print."""
    missing = []
    for line in ran.command.expected:
        pattern = expected_pattern(line.replace("../shared/data", str(SHARED_DATA)))
        if not pattern.search(ran.output):
            missing.append(line)
    return missing
