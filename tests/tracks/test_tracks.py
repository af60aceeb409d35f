"""Tracks on real video against hand labels, shot cuts, re-linking; each with a control
that fails when the signal is replaced by noise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.vision import VisionEngine
from core.vision.shotcut import ShotCutDetector
from core.vision.shotcut_eval import cut_frames, gray_frames, sampled, score_cuts, shuffled_frames
from core.vision.track_eval import (
    TrackedBox,
    TrackScores,
    read_frames,
    read_person_labels,
    score_tracks,
    shuffled_ids,
    tracked_boxes,
)
from schemas.settings import PolicySettings, VisionSettings

LABELS = Path(__file__).resolve().parents[1] / "labels" / "classroom_people.csv"


def engine() -> VisionEngine:
    return VisionEngine.from_settings(VisionSettings(), PolicySettings(emotion="off"))


@pytest.fixture(scope="module")
def classroom_tracks(classroom_video) -> list[TrackedBox]:
    return tracked_boxes(engine(), read_frames(classroom_video))


def tracks_hold(scores: TrackScores) -> bool:
    """One track per labelled person, found on 90% of the labelled boxes, no switch."""
    return (
        scores.people == scores.labelled_people
        and scores.id_switches == scores.merges == scores.phantom_tracks == 0
        and scores.matched >= 0.9 * scores.labelled
    )


def test_classroom_people_and_id_switches(classroom_tracks):
    labels = read_person_labels(LABELS)
    scores = score_tracks(labels, classroom_tracks)
    print(scores)
    assert scores.labelled_people == 7  # teacher and six pupils, see the label file
    assert tracks_hold(scores)
    # What `classroom analyze` counts: every track id of the clip is one person.
    assert len({track_id for _, track_id, _ in classroom_tracks}) == 7


def test_shuffled_track_ids_fail_the_check(classroom_tracks):
    """Controls: the same boxes with their track ids shuffled among them, and with a new
    id for every box (a tracker that never links: one person per box)."""
    labels = read_person_labels(LABELS)
    shuffled = score_tracks(labels, shuffled_ids(classroom_tracks))
    assert shuffled.id_switches > 0 and not tracks_hold(shuffled)
    unlinked = [(frame, i, box) for i, (frame, _, box) in enumerate(classroom_tracks)]
    never_linked = score_tracks(labels, unlinked)
    assert never_linked.people > 7 and not tracks_hold(never_linked)


ONE_A_SECOND = 25
"""classroom.mp4 is 25 fps: every 25th frame is 1 frame/s, and exactly the labelled frames."""


@pytest.fixture(scope="module")
def classroom_tracks_at_one_fps(classroom_video) -> list[TrackedBox]:
    """Tracks of classroom.mp4 at 1 frame/s, cut detection on. The camera moves through the
    group: one second apart its frames differ pixel by pixel as much as two shots do, but
    not in their layout of grey levels (core/vision/shotcut.py), so no cut is found."""
    images = read_frames(classroom_video)[::ONE_A_SECOND]
    return tracked_boxes(engine(), images, step=ONE_A_SECOND)


def test_classroom_tracks_hold_at_one_frame_a_second(classroom_tracks_at_one_fps):
    """A face moves up to 1.2 face heights between frames a second apart and the detector
    misses one now and then: 7 people, no switch, each person on one track (before the
    gates scaled with the gap: 15 ids, 10 switches, one track on two people)."""
    scores = score_tracks(read_person_labels(LABELS), classroom_tracks_at_one_fps)
    print(scores)
    assert tracks_hold(scores) and scores.fragments == 0
    assert len({track_id for _, track_id, _ in classroom_tracks_at_one_fps}) == 7


def test_shuffled_track_ids_at_one_frame_a_second_fail_the_check(classroom_tracks_at_one_fps):
    """Controls at 1 frame/s: the same boxes with shuffled track ids, and a new id a box."""
    labels = read_person_labels(LABELS)
    shuffled = score_tracks(labels, shuffled_ids(classroom_tracks_at_one_fps))
    assert shuffled.id_switches > 0 and not tracks_hold(shuffled)
    unlinked = [(frame, i, box) for i, (frame, _, box) in enumerate(classroom_tracks_at_one_fps)]
    never_linked = score_tracks(labels, unlinked)
    assert never_linked.people > 7 and not tracks_hold(never_linked)


RATES = (1, 2, 5, 10, 25)
CUT_SCENES = (
    "video/classroom.mp4",
    "video/lecture_hall_1.mp4",
    "video/overhead_classroom.mp4",
    "blink/focus/soniya_test_5_low_fps.avi",
    "blink/EyeBlink8_5/calibration0_video5.mp4",
)
"""Five distinct places: the camera moving through the group, a still hall, a ceiling
camera, a webcam user who leans in, another webcam (bench/signals.py uses eight)."""


@pytest.fixture(scope="module")
def cut_scenes(shared_data) -> list[tuple[float, list[np.ndarray]]]:
    return [gray_frames(shared_data / path) for path in CUT_SCENES]


@pytest.mark.parametrize("rate", RATES)
def test_cuts_found_at_every_splice_and_nowhere_else(cut_scenes, rate):
    """Every ordered pair of the scenes spliced, sampled at 1 to 25 frames/s: each splice
    is a cut, no transition inside a scene is (the old thumbnail difference called 12 of
    classroom.mp4's 13 transitions at 1 frame/s cuts)."""
    scores = score_cuts([sampled(frames, fps, rate) for fps, frames in cut_scenes])
    print(rate, scores)
    assert scores.recall == 1.0 and scores.false_cuts_within == 0


def test_shuffled_frames_are_mostly_cuts_and_a_still_clip_has_none(cut_scenes):
    """Controls: the same frames at 1 frame/s in a random order fail the no-false-cut check
    (most transitions jump to another scene, and nearly all of those are found; a jump
    between distant moments of one scene may be too); a still frame spliced to itself
    fails the every-splice-found check."""
    scenes = [sampled(frames, fps, 1) for fps, frames in cut_scenes]
    shuffled, scene_of = shuffled_frames(scenes)
    found = cut_frames(shuffled)
    jumps = [i for i in range(1, len(shuffled)) if scene_of[i] != scene_of[i - 1]]
    assert len(set(found) & set(jumps)) > 0.9 * len(jumps)
    still = scenes[0][:1] * 10
    assert score_cuts([still, still]).recall == 0.0


def teacher_in_another_room(images: list[np.ndarray], room: list[np.ndarray]) -> list[np.ndarray]:
    """The classroom frames' teacher (and what is around his face) pasted at his place into
    frames of another room: after the splice a face stands exactly where his stood."""
    x, y, width, height = TEACHER
    top, bottom, left, right = max(y - height, 0), y + 2 * height, x - width, x + 2 * width
    pasted = []
    for image, other in zip(images, room, strict=True):
        other = cv2.resize(other, (image.shape[1], image.shape[0]))
        other[top:bottom, left:right] = image[top:bottom, left:right]
        pasted.append(other)
    return pasted


def tracks_before_and_after_a_cut(video: Path, hall: Path, detect_cuts: bool):
    images = read_frames(video, count=24)
    vision = engine()
    if not detect_cuts:
        vision.shot_cuts = NeverCut()  # type: ignore[assignment]
    second_shot = teacher_in_another_room(images, read_frames(hall, count=24))
    tracked = tracked_boxes(vision, images + second_shot)
    first = {track_id for frame, track_id, _ in tracked if frame < 24}
    second = {track_id for frame, track_id, _ in tracked if frame >= 24}
    return first, second


def test_no_track_continues_across_a_cut(shared_data, classroom_video):
    """The clip, then the teacher where he stood in another room (lecture_hall_1.mp4): the
    cut is found and his track ends there, though his face has not moved."""
    hall = shared_data / "video" / "lecture_hall_1.mp4"
    first, second = tracks_before_and_after_a_cut(classroom_video, hall, detect_cuts=True)
    assert len(first) >= 6 and len(second) >= 1
    assert not first & second


def test_the_teacher_keeps_his_track_without_cut_detection(shared_data, classroom_video):
    """Control: with cut detection switched off the teacher keeps his id across the splice,
    so the test above fails when the cut signal is ignored."""
    hall = shared_data / "video" / "lecture_hall_1.mp4"
    first, second = tracks_before_and_after_a_cut(classroom_video, hall, detect_cuts=False)
    assert first & second


class NeverCut(dict):
    """A stand-in for the engine's per-camera cut detectors that never reports a cut."""

    def setdefault(self, key, default=None):
        detector = ShotCutDetector(threshold=float("inf"))
        return super().setdefault(key, detector)


def hide_face(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, width, height = box
    hidden = image.copy()
    hidden[max(y - height // 2, 0) : y + 2 * height, max(x - width // 2, 0) : x + 2 * width] = 128
    return hidden


GLASSES_BOY = (975, 215, 64, 84)
"""P2 at frame 0 (label file); he stays within 40 px of it over the first 120 frames."""
TEACHER = (630, 66, 57, 72)


def ids_near_the_boy(tracked: list[TrackedBox], frame: int) -> set[int]:
    return {t for f, t, box in tracked if f == frame and abs(box[0] - GLASSES_BOY[0]) < 60}


def test_a_person_hidden_for_two_seconds_gets_their_track_back(classroom_video):
    """Hidden for 2 s (longer than a track lives): re-linked by look and place."""
    images = read_frames(classroom_video, count=120)
    hidden = [
        hide_face(image, GLASSES_BOY) if 30 <= i < 80 else image for i, image in enumerate(images)
    ]
    tracked = tracked_boxes(engine(), hidden)
    before, after = ids_near_the_boy(tracked, 25), ids_near_the_boy(tracked, 100)
    assert len(before) == 1 and before == after


def test_another_face_in_their_place_gets_a_new_id(classroom_video):
    """Control: after the gap the teacher's face (from frame 0) stands where the boy was;
    it must not inherit the boy's track."""
    images = read_frames(classroom_video, count=120)
    x, y, width, height = TEACHER
    teacher = cv2.resize(images[0][y : y + height, x : x + width], GLASSES_BOY[2:])
    swapped = []
    for i, image in enumerate(images):
        if i >= 30:
            image = hide_face(image, GLASSES_BOY)
        if i >= 80:
            bx, by, bw, bh = GLASSES_BOY
            image[by : by + bh, bx : bx + bw] = teacher
        swapped.append(image)
    tracked = tracked_boxes(engine(), swapped)
    before, after = ids_near_the_boy(tracked, 25), ids_near_the_boy(tracked, 100)
    assert len(before) == 1 and len(after) == 1 and not before & after
