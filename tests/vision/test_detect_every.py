"""vision.detect_every: faces detected on every n-th frame, followed by their tracks between."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from classroom.settings import VisionSettings
from workers.vision import DecodedFrame


def blanked(frame: DecodedFrame) -> DecodedFrame:
    return DecodedFrame(frame.meta, np.zeros_like(frame.image))


def test_followed_frames_keep_every_face_and_its_track(engine_factory, classroom_frames):
    engine = engine_factory(vision=VisionSettings(detect_every=4), emotion="off")
    results = engine.process(classroom_frames[:8])
    ids = [sorted(e.track_id for e in result.events) for result in results]
    assert len(ids[0]) >= 7
    assert all(frame_ids == ids[0] for frame_ids in ids[1:4])  # followed, not detected
    assert engine.stage_seconds["detect"] > 0


def test_a_new_face_appears_within_detect_every_frames(engine_factory, classroom_frames):
    engine = engine_factory(vision=VisionSettings(detect_every=3), emotion="off")
    frames = [blanked(classroom_frames[0]), *classroom_frames[1:6]]
    counts = [len(result.events) for result in engine.process(frames)]
    # Frame 0 is empty; 1 and 2 follow its (no) tracks; 3 is detected again.
    assert counts[:3] == [0, 0, 0]
    assert counts[3] >= 6 and counts[4:] == [counts[3]] * 2, counts


def test_a_frame_not_following_the_previous_one_is_detected(engine_factory, classroom_frames):
    engine = engine_factory(vision=VisionSettings(detect_every=10), emotion="off")
    first = classroom_frames[0]
    assert len(engine.process([first])[0].events) >= 7
    # Same time again (another image), and then long after: nothing to follow into them.
    assert engine.process([blanked(first)])[0].events == []
    later = replace(first.meta, captured_at=first.meta.captured_at + 5.0)
    assert len(engine.process([DecodedFrame(later, first.image)])[0].events) >= 7
    assert engine.process([blanked(DecodedFrame(later, first.image))])[0].events == []
