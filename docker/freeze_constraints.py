"""Write docker/constraints.txt: the exact versions of every runtime dependency installed in
the environment that ran the tests, so images install what was tested.

    .venv/bin/python docker/freeze_constraints.py

torch is left out on purpose: the CPU image pins it from the CPU-only index, and the CUDA
image keeps the build that its PyTorch base image ships.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

PROJECT = "classroom-analytics"
LEFT_TO_THE_BASE_IMAGE = {"torch"}
CONSTRAINTS = Path(__file__).with_name("constraints.txt")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(project: str) -> dict[str, str]:
    """Name -> installed version of everything ``project`` needs at run time."""
    pinned: dict[str, str] = {}
    pending = [Requirement(text) for text in distribution(project).requires or []]
    while pending:
        requirement = pending.pop()
        name = canonical(requirement.name)
        if name in pinned or name in LEFT_TO_THE_BASE_IMAGE:
            continue
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            found = distribution(requirement.name)
        except PackageNotFoundError:
            continue  # an optional dependency of a dependency, not installed here
        pinned[name] = found.version
        pending.extend(Requirement(text) for text in found.requires or [])
    return pinned


def main() -> None:
    pins = runtime_closure(PROJECT)
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    header = "# Written by docker/freeze_constraints.py from the tested environment.\n"
    CONSTRAINTS.write_text(header + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} pins to {CONSTRAINTS}")


if __name__ == "__main__":
    main()
