"""``classroom db migrate|status``, ``classroom sql``, ``classroom schemas export``."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click
import msgspec

from classroom.sql_output import FORMATS, render, row_count
from core.warehouse import Warehouse, WarehouseError
from schemas import events
from schemas.settings import Settings, load_settings
from workers.warehouse_options import (
    require_written_warehouse,
    warehouse_options,
    with_warehouse,
)

JSONSCHEMA_DIR = Path(events.__file__).resolve().parent / "jsonschema"


def _settings(data_dir: Path | None, dsn: str | None) -> Settings:
    return with_warehouse(load_settings(), data_dir, dsn)


def _open_warehouse(settings: Settings) -> Warehouse:
    try:
        return Warehouse.connect(settings.warehouse)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def db() -> None:
    """Warehouse migrations and status."""


@db.command()
@warehouse_options
def migrate(data_dir: Path | None, dsn: str | None) -> None:
    """Apply pending migrations and a changed face-event TTL (safe to run any time)."""
    with _open_warehouse(_settings(data_dir, dsn)) as warehouse:
        try:
            applied = warehouse.migrate()
            ttl_changes = warehouse.apply_ttl()
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
    for line in [f"applied {name}" for name in applied] + ttl_changes:
        click.echo(line)
    if not applied and not ttl_changes:
        click.echo("up to date")


@db.command()
@warehouse_options
def status(data_dir: Path | None, dsn: str | None) -> None:
    """List every migration and whether it is applied."""
    from rich.console import Console
    from rich.table import Table

    settings = _settings(data_dir, dsn)
    require_written_warehouse(settings)
    with _open_warehouse(settings) as warehouse:
        statuses = warehouse.status()
    table = Table("version", "name", "state", "applied at")
    for s in statuses:
        table.add_row(f"{s.version:04d}", s.name, s.state, s.applied_at)
    Console().print(table)
    if any(s.state in ("changed", "unknown") for s in statuses):
        sys.exit(1)


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table: aligned columns, or one block per row when they do not fit the terminal; "
    "vertical: always one block per row; markdown, csv, json: for pasting and programs.",
)
@warehouse_options
def sql(query: str, output_format: str, data_dir: Path | None, dsn: str | None) -> None:
    """Run one SQL statement against the warehouse and print its result.

    QUERY "-" reads the statement from standard input (a saved query, or one that starts
    with a -- comment, which the shell would otherwise pass as an option).
    """
    if query == "-":
        query = sys.stdin.read()
    settings = _settings(data_dir, dsn)
    require_written_warehouse(settings)
    with _open_warehouse(settings) as warehouse:
        try:
            result = warehouse.query(query)
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
    rows = result.result_rows
    width = shutil.get_terminal_size().columns
    click.echo(render(list(result.column_names), rows, output_format, width))
    if output_format in ("table", "vertical"):
        click.echo(row_count(rows), err=True)


@click.group()
def schemas() -> None:
    """The event contracts as JSON Schema."""


@schemas.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=JSONSCHEMA_DIR)
def export(out: Path) -> None:
    """Write the JSON Schema of every event type to OUT/<Type>.json."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in json_schemas().items():
        (out / f"{name}.json").write_text(text)
        click.echo(f"wrote {out / name}.json")


def json_schemas() -> dict[str, str]:
    """Event type name to its JSON Schema document, as ``schemas export`` writes it."""
    documents = {}
    for event_type in sorted(events.Event.__subclasses__(), key=lambda t: t.__name__):
        schema = msgspec.json.schema(event_type)
        documents[event_type.__name__] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents
