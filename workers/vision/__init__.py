"""The vision engine: frames in, one ``FaceEvent`` per visible face out.

Heavy modules (torch, dlib) load on first use of a name, so importing the package for
``FrameMeta`` or ``load_roster`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.vision.blink import ear_series
    from workers.vision.engine import VisionEngine
    from workers.vision.evaluate import ExpressionScores, evaluate_folder
    from workers.vision.frames import DecodedFrame, FrameError, FrameMeta, FrameResult, decode_jpeg
    from workers.vision.identity import Roster, RosterError, load_roster

_EXPORTS = {
    "VisionEngine": "workers.vision.engine",
    "DecodedFrame": "workers.vision.frames",
    "FrameMeta": "workers.vision.frames",
    "FrameResult": "workers.vision.frames",
    "FrameError": "workers.vision.frames",
    "decode_jpeg": "workers.vision.frames",
    "Roster": "workers.vision.identity",
    "RosterError": "workers.vision.identity",
    "load_roster": "workers.vision.identity",
    "ear_series": "workers.vision.blink",
    "ExpressionScores": "workers.vision.evaluate",
    "evaluate_folder": "workers.vision.evaluate",
}

__all__ = [
    "DecodedFrame",
    "ExpressionScores",
    "FrameError",
    "FrameMeta",
    "FrameResult",
    "Roster",
    "RosterError",
    "VisionEngine",
    "decode_jpeg",
    "ear_series",
    "evaluate_folder",
    "load_roster",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workers.vision' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
