"""Models and detectors are chosen by name from a registry (a dict of factories)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Entry = TypeVar("Entry")


def registered(registry: Mapping[str, Entry], name: str, kind: str) -> Entry:
    """The entry ``name``, or a ValueError that lists the names known for this ``kind``."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(registry)}") from None
