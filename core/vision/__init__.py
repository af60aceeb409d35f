"""The vision engine: frames in, one ``FaceEvent`` per visible face out.

Heavy modules (torch, dlib) load on first use of a name, so importing the package for
``FrameHeader`` or ``load_roster`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.vision.engine import VisionEngine
    from core.vision.evaluate import ExpressionScores, evaluate_folder
    from core.vision.frames import DecodedFrame, FrameError, FrameHeader, FrameResult, decode_jpeg
    from core.vision.registry import create_model, list_models

_EXPORTS = {
    "VisionEngine": "core.vision.engine",
    "DecodedFrame": "core.vision.frames",
    "FrameHeader": "core.vision.frames",
    "FrameResult": "core.vision.frames",
    "FrameError": "core.vision.frames",
    "decode_jpeg": "core.vision.frames",
    "ExpressionScores": "core.vision.evaluate",
    "evaluate_folder": "core.vision.evaluate",
    "create_model": "core.vision.registry",
    "list_models": "core.vision.registry",
}

__all__ = [
    "DecodedFrame",
    "ExpressionScores",
    "FrameError",
    "FrameHeader",
    "FrameResult",
    "VisionEngine",
    "create_model",
    "decode_jpeg",
    "evaluate_folder",
    "list_models",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'core.vision' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
