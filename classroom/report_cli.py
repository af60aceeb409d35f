"""``classroom report SESSION``: the HTML report of a stored lesson, rebuilt from the
warehouse alone (no video, no models), attendance included. ``classroom analyze`` writes
the same report at the end of its run; this re-renders it later, e.g. after the roster or
the report's code changed, or for a lesson the distributed pipeline stored."""

from __future__ import annotations

import re
from pathlib import Path

import click

from classroom.report import ReportError, write_report
from core.warehouse import Warehouse, WarehouseError
from schemas.settings import Settings, load_settings
from workers.warehouse_options import require_written_warehouse, warehouse_options, with_warehouse


@click.command()
@click.argument("session_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML [default: the reports folder beside the warehouse, "
    "SESSION.html].",
)
@warehouse_options
def report(session_id: str, out: Path | None, data_dir: Path | None, dsn: str | None) -> None:
    """Rebuild the HTML report of the stored lesson SESSION from the warehouse."""
    settings = with_warehouse(load_settings(), data_dir, dsn)
    require_written_warehouse(settings)
    path = out or default_report_path(settings, session_id)
    try:
        with Warehouse.connect(settings.warehouse) as warehouse:
            write_report(warehouse, session_id, path)
    except (ReportError, WarehouseError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))


def default_report_path(settings: Settings, session_id: str) -> Path:
    """Where a lesson's report goes without ``--out`` (here and in ``classroom analyze``):
    SESSION.html beside an embedded warehouse, in its ``reports`` folder; with a server,
    in ./reports."""
    dsn = settings.warehouse.dsn
    if dsn.startswith("chdb://"):
        reports = Path(dsn.removeprefix("chdb://")).parent / "reports"
    else:
        reports = Path("reports")
    return reports / f"{safe_file_name(session_id)}.html"


def safe_file_name(text: str) -> str:
    """``text`` with every run of characters unsafe in a file name made one ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "session"
