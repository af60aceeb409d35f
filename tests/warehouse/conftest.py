"""A fresh, migrated embedded warehouse per test.

chdb opens one data directory per process, so every fixture closes its warehouse before
the next one opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.connect_dsn(f"chdb://{tmp_path / 'warehouse'}") as wh:
        wh.migrate()
        yield wh
