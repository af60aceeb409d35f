"""Looking for personal data where it must not be: warehouse columns and data files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from core.warehouse import Warehouse

JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF"
"""How every JPEG that OpenCV (the camera) writes begins: ten bytes, no chance match."""
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".mp4", ".avi", ".mkv", ".npz"}
EMBEDDING_SIZES = {128 * 4, 128 * 8}
"""A 128-D descriptor as raw float32 or float64 bytes."""
EMOTION_COLUMN = re.compile(r"^(p_|expression|emotion|dominant_expression|mix)")


def user_columns(warehouse: Warehouse) -> list[tuple[str, str, str, str]]:
    """(database, table, column, type) of every table we created, views excluded."""
    return warehouse.query(
        """
        SELECT database, table, name, type FROM system.columns
        WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')
          AND (database, table) IN (
              SELECT database, name FROM system.tables WHERE NOT is_temporary
                AND engine NOT IN ('View', 'MaterializedView'))
        ORDER BY database, table, name
        """
    ).result_rows


def float_array_columns(warehouse: Warehouse) -> list[str]:
    return [
        f"{db}.{table}.{column}: {kind}"
        for db, table, column, kind in user_columns(warehouse)
        if re.search(r"(Array|Tuple)\(.*Float", kind)
    ]


def string_columns(warehouse: Warehouse) -> Iterator[tuple[str, str, str]]:
    for db, table, column, kind in user_columns(warehouse):
        if "String" in kind and "Array" not in kind and "Map" not in kind:
            yield db, table, column


def cells_with_jpeg_or_embedding_bytes(warehouse: Warehouse) -> list[str]:
    """String cells that hold a JPEG header or exactly one embedding's worth of bytes."""
    found = []
    sizes = ", ".join(map(str, sorted(EMBEDDING_SIZES)))
    for db, table, column in string_columns(warehouse):
        cell = f"toString(`{column}`)"
        [(jpegs, embedding_sized)] = warehouse.query(
            f"SELECT countIf(position({cell}, unhex('FFD8FFE000104A464946')) > 0), "
            f"countIf(length({cell}) IN ({sizes})) FROM `{db}`.`{table}`"
        ).result_rows
        if jpegs or embedding_sized:
            found.append(f"{db}.{table}.{column}: {jpegs} JPEG, {embedding_sized} embedding-sized")
    return found


def filled_emotion_cells(warehouse: Warehouse) -> dict[str, int]:
    """Per emotion-bearing column, how many rows have a value (not NULL, not empty)."""
    filled = {}
    for db, table, column, kind in user_columns(warehouse):
        if not EMOTION_COLUMN.search(column):
            continue
        empty = (
            "isNull(`{c}`)"
            if kind.startswith(("Nullable", "LowCardinality(Nullable"))
            else ("empty(`{c}`)" if kind.startswith(("Map", "Array", "String")) else "`{c}` = 0")
        )
        [(count,)] = warehouse.query(
            f"SELECT countIf(NOT {empty.format(c=column)}) FROM `{db}`.`{table}`"
        ).result_rows
        filled[f"{table}.{column}"] = count
    return filled


def media_files(directory: Path) -> list[str]:
    """Files under ``directory`` that are, or contain, an image, a video or embeddings."""
    found = []
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if (
            path.suffix.lower() in MEDIA_SUFFIXES
            or JPEG_HEADER in data
            or data.startswith(b"\x89PNG")
            or data[4:8] == b"ftyp"
        ):
            found.append(str(path.relative_to(directory)))
    return found
