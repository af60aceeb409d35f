"""``classroom dashboards generate | push``."""

from __future__ import annotations

from pathlib import Path

import click

from dashboards.generate import GENERATED_DIR, generate, rendered
from dashboards.push import PushError, push
from schemas.settings import load_settings


@click.group()
def dashboards() -> None:
    """Generate the Grafana dashboards and push them to a Grafana."""


@dashboards.command("generate")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the dashboard JSON files [default: dashboards/generated of this source "
    "checkout; an installed package needs --out].",
)
def generate_command(out: Path | None) -> None:
    """Write one JSON file per Grafana dashboard from the Python definitions."""
    if out is None and not (GENERATED_DIR.parent.parent / "pyproject.toml").is_file():
        raise click.UsageError(
            "this is an installed package, whose folder is no place for generated files: "
            "give --out DIR"
        )
    directory = GENERATED_DIR if out is None else _checked_out_dir(out)
    for path in generate(directory):
        click.echo(f"wrote {path}")


def _checked_out_dir(out: Path) -> Path:
    """Refuse a folder holding other JSON files: ``generate`` removes every JSON file that
    no dashboard produces (so a renamed dashboard leaves no stale copy)."""
    dashboards = set(rendered())
    others = sorted(p.name for p in out.glob("*.json") if p.name not in dashboards)
    if others:
        raise click.UsageError(
            f"{out} holds other JSON files ({', '.join(others[:3])}), which generating "
            "would delete: give an empty folder or one holding only these dashboards"
        )
    return out


@dashboards.command("push")
@click.option("--url", help="Grafana base URL [default: setting grafana.url].")
def push_command(url: str | None) -> None:
    """Upsert the ClickHouse datasource and every generated dashboard.

    The token is the setting grafana.token, read like every secret: from the file named by
    CLASSROOM_GRAFANA__TOKEN_FILE, or CLASSROOM_GRAFANA__TOKEN. The datasource comes from
    provisioning/datasources/clickhouse.yaml, its $VARIABLES (CLICKHOUSE_HOST,
    CLICKHOUSE_READONLY_PASSWORD, ...) from the environment, as Grafana's provisioning
    reads them.
    """
    grafana = load_settings().grafana
    url = url or grafana.url
    token = grafana.token.get_secret_value()
    if not url:
        raise click.UsageError("no Grafana: give --url or set CLASSROOM_GRAFANA__URL")
    if not token:
        raise click.UsageError(
            "no Grafana token: set CLASSROOM_GRAFANA__TOKEN_FILE to a file holding it"
        )
    try:
        result = push(url, token)
    except PushError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"datasource {result.datasource}")
    for uid in result.dashboards:
        click.echo(f"dashboard {uid} written")
