"""The inference stage: decoded frames in; per frame, its faces or why it failed.

No transport in here. The Kafka inference worker (``workers.infer``) decodes frame
messages into ``DecodedFrame``s, calls this stage and publishes what it returns; the
embedded runner of ``classroom analyze`` (``classroom.pipeline``) hands it the frames it
captured. A frame therefore yields the same faces whichever way it travelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.heap import release_free_memory
from core.vision.frames import DecodedFrame, FrameResult
from schemas.events import FaceEvent, FaceEventBatch, FrameHeader

if TYPE_CHECKING:
    from core.vision.engine import VisionEngine
    from schemas.settings import Settings

FrameObserver = Callable[[np.ndarray, FrameResult], None]
"""Called with each analysed frame's image and the engine's result, landmarks included
(the annotated video of ``classroom analyze`` uses it)."""


@dataclass(frozen=True)
class FrameFailure:
    """A frame the engine could not analyse (empty, wrong shape, too small...), and why."""

    header: FrameHeader
    reason: str


@dataclass(frozen=True)
class InferenceOutput:
    """What one batch of frames gave, and its counts for the health records."""

    frames: list[FaceEventBatch | FrameFailure]
    """One per input frame, in order. A frame in which nobody was found and no rostered
    seat moved gives an empty batch: invalid on the face-events topic, so it is not sent."""
    seconds: float
    """Time the batch took in the engine."""

    @property
    def batches(self) -> list[FaceEventBatch]:
        """The frames with at least one face or moved seat."""
        return [
            frame
            for frame in self.frames
            if isinstance(frame, FaceEventBatch) and (frame.faces or frame.seats_moved)
        ]

    @property
    def failures(self) -> list[FrameFailure]:
        return [frame for frame in self.frames if isinstance(frame, FrameFailure)]

    @property
    def events(self) -> list[FaceEvent]:
        """Every face of the batch, frame by frame."""
        return [face for batch in self.batches for face in batch.faces]


class InferenceStage:
    """Frames through the vision engine, one ``FaceEventBatch`` or ``FrameFailure`` each.

    The engine keeps per-camera state (trackers, detection clocks), so one stage should
    see a camera's frames in order.
    """

    def __init__(self, engine: VisionEngine, observer: FrameObserver | None = None) -> None:
        self.engine = engine
        self._observer = observer

    @classmethod
    def from_settings(cls, settings: Settings) -> InferenceStage:
        """A stage with the engine (and roster, if the policy names one) of ``settings``."""
        from core.roster import load_roster
        from core.vision import VisionEngine  # torch: only when inferring

        roster_path = settings.policy.roster_path
        roster = load_roster(roster_path) if roster_path else None
        return cls(VisionEngine.from_settings(settings.vision, settings.policy, roster))

    def run(self, frames: Sequence[DecodedFrame]) -> InferenceOutput:
        """Analyse a batch of frames; a frame that fails costs only itself."""
        started = time.monotonic()
        outcomes: list[FaceEventBatch | FrameFailure] = []
        for frame, result in zip(frames, self.engine.process(frames), strict=True):
            if result.error is not None:
                outcomes.append(FrameFailure(frame.meta, str(result.error)))
                continue
            outcomes.append(
                FaceEventBatch(
                    **frame.meta.event_fields(),
                    faces=tuple(result.events),
                    seats_moved=result.seats_moved,
                )
            )
            if self._observer is not None:
                self._observer(frame.image, result)
        release_free_memory()  # the batch's frame-sized copies: see core.heap
        return InferenceOutput(outcomes, time.monotonic() - started)
