"""``--data-dir`` and ``--dsn``: the same two options on every command that touches the
warehouse, so ``classroom analyze X --data-dir D`` is followed by ``classroom sql ... --data-dir D``
rather than an environment variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from schemas.settings import Settings

Command = TypeVar("Command", bound=Callable[..., object])


def warehouse_options(command: Command) -> Command:
    """Add ``--data-dir DIR`` and ``--dsn DSN``; the command passes both to ``with_warehouse``."""
    command = click.option(
        "--dsn",
        metavar="DSN",
        help="Warehouse to use: chdb://DIR (embedded) or https://host:8443/db "
        "[default: CLASSROOM_WAREHOUSE__DSN, else chdb://classroom-data/warehouse].",
    )(command)
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Embedded warehouse in DIR/warehouse (and reports in DIR/reports), as "
        "`classroom analyze --data-dir DIR` wrote them.",
    )(command)
    return command


def with_warehouse(settings: Settings, data_dir: Path | None, dsn: str | None) -> Settings:
    """``settings`` with the warehouse that ``--data-dir`` or ``--dsn`` names, if either."""
    if data_dir is not None and dsn is not None:
        raise click.UsageError("give --data-dir or --dsn, not both")
    if data_dir is not None:
        dsn = f"chdb://{data_dir / 'warehouse'}"
    if dsn is None:
        return settings
    warehouse = settings.warehouse.model_copy(update={"dsn": dsn})
    return settings.model_copy(update={"warehouse": warehouse})


def require_written_warehouse(settings: Settings) -> None:
    """Refuse to query an embedded warehouse that was never written: chdb would create an
    empty one, and the user would read "unknown table" instead of the real cause."""
    dsn = settings.warehouse.dsn
    if not dsn.startswith("chdb://"):
        return
    directory = Path(dsn.removeprefix("chdb://"))
    if not directory.is_dir():
        raise click.ClickException(
            f"no warehouse at {directory}: run `classroom analyze VIDEO --data-dir DIR` first, "
            "then query it with --data-dir DIR (or give --dsn)"
        )
