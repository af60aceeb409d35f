"""Render every dashboard to the JSON Grafana loads: ``dashboards/generated/<uid>.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import live, operations, session_report, student, teacher

GENERATED_DIR = Path(__file__).parent / "generated"

DASHBOARDS: tuple[Callable[[], Dashboard], ...] = (
    live.build,
    student.build,
    teacher.build,
    session_report.build,
    operations.build,
)


def render(dashboard: Dashboard) -> str:
    """Stable text (sorted keys, fixed indent) so the committed files diff cleanly."""
    return json.dumps(dashboard.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[str, str]:
    """File name to JSON text for every dashboard."""
    out = {}
    for build in DASHBOARDS:
        dashboard = build()
        out[f"{dashboard.build().uid}.json"] = render(dashboard)
    return out


def generate(directory: Path = GENERATED_DIR) -> list[Path]:
    """Write every dashboard and remove JSON files no dashboard produces any more."""
    directory.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
