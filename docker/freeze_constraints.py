"""Write docker/constraints.txt, the project's lock: the exact version of every package the
project and its ``dev`` extra need, as installed in the environment that ran the tests.

    scripts/refresh-lock.sh     # upgrade within pyproject's ranges, re-freeze, run the tests
    .venv/bin/python docker/freeze_constraints.py    # re-freeze the current environment only

One file serves every install: ``scripts/setup.sh`` (so CI and every developer machine),
and the Docker images (which install only the runtime part; a pin for a package that is not
asked for is ignored by pip). A pip constraints file rather than a tool-specific lock
(uv, poetry): the images and setup already use pip, and pip is the one installer that finds
the local CPU torch wheel on this kind of machine.

torch is left out on purpose: setup and the CPU image pin it from the CPU-only build, and
the CUDA image keeps the build that its PyTorch base image ships.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

PROJECT = "classroom-analytics"
EXTRAS = ("dev",)
"""Extras of the project that the lock covers besides its runtime dependencies."""
LEFT_TO_THE_BASE_IMAGE = {"torch"}
CONSTRAINTS = Path(__file__).with_name("constraints.txt")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted_by_project(requirement: Requirement) -> bool:
    """Whether one of the project's own requirements is part of the lock."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *EXTRAS))


def closure(project: str) -> dict[str, str]:
    """Name -> installed version of everything ``project`` (with ``EXTRAS``) needs."""
    pinned: dict[str, str] = {}
    own = [Requirement(text) for text in distribution(project).requires or []]
    pending = [Requirement(r.name) for r in own if wanted_by_project(r)]
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
    pins = closure(PROJECT)
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    header = "# Written by docker/freeze_constraints.py from the tested environment.\n"
    CONSTRAINTS.write_text(header + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} pins to {CONSTRAINTS}")


if __name__ == "__main__":
    main()
