"""``classroom db migrate|status``, ``classroom sql``, ``classroom schemas export``."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from pathlib import Path

import click
import msgspec

from classroom.settings import load_settings
from schemas import events
from schemas.warehouse import Warehouse, WarehouseError

JSONSCHEMA_DIR = Path(__file__).resolve().parent / "jsonschema"


def _open_warehouse() -> Warehouse:
    try:
        return Warehouse.connect(load_settings().warehouse)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def db() -> None:
    """Warehouse migrations and status."""


@db.command()
def migrate() -> None:
    """Apply pending migrations and a changed face-event TTL (safe to run any time)."""
    with _open_warehouse() as warehouse:
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
def status() -> None:
    """List every migration and whether it is applied."""
    from rich.console import Console
    from rich.table import Table

    with _open_warehouse() as warehouse:
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
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def sql(query: str, output_format: str) -> None:
    """Run one SQL statement against the warehouse and print its result."""
    with _open_warehouse() as warehouse:
        try:
            result = warehouse.query(query)
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
    columns, rows = list(result.column_names), result.result_rows
    if output_format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif output_format == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        click.echo(json.dumps(records, default=_json_value, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(value) for value in row))
        Console().print(table)


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


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
