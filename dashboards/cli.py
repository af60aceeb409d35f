"""``classroom dashboards generate | push``."""

from __future__ import annotations

import click

from dashboards.generate import GENERATED_DIR, generate
from dashboards.push import PushError, push


@click.group()
def dashboards() -> None:
    """Generate the Grafana dashboards and push them to a Grafana."""


@dashboards.command("generate")
def generate_command() -> None:
    """Write dashboards/generated/*.json from the Python definitions."""
    for path in generate(GENERATED_DIR):
        click.echo(f"wrote {path}")


@dashboards.command("push")
@click.option("--url", required=True, envvar="GRAFANA_URL", help="Grafana base URL.")
@click.option(
    "--token",
    required=True,
    envvar="GRAFANA_TOKEN",
    help="Service-account token with the Admin role (or set GRAFANA_TOKEN).",
)
def push_command(url: str, token: str) -> None:
    """Upsert the ClickHouse datasource and every generated dashboard.

    The datasource comes from provisioning/datasources/clickhouse.yaml, its $VARIABLES
    (CLICKHOUSE_HOST, CLICKHOUSE_READONLY_PASSWORD, ...) from the environment.
    """
    try:
        result = push(url, token)
    except PushError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"datasource {result.datasource}")
    for uid in result.dashboards:
        click.echo(f"dashboard {uid} written")
