"""Shot-cut detection on real clips spliced together, at a chosen sample rate.

A scene is one continuous real recording (one camera, one shot). Its frames are sampled at
the rate under test (every ``round(fps / rate)``-th frame) and kept as small grey images.
Within a scene no transition is a cut; splicing scene A's last sampled frame to scene B's
first is a cut. ``score_cuts`` counts, over every ordered pair of distinct scenes spliced
A then B, the cuts found at the splice (recall) and the false cuts inside A and B
(precision).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import cv2
import numpy as np

from core.vision.shotcut import SMALL_SIZE, ShotCutDetector

KEPT_SIZE = (SMALL_SIZE[0] * 4, SMALL_SIZE[1] * 4)
"""Frames are kept shrunk to this size: the detector shrinks them further anyway, and a
minute of full-size webcam frames would not fit in memory many times over."""

SCENES = {
    "classroom.mp4 (camera moving through the group)": "video/classroom.mp4",
    "lecture_hall_1.mp4": "video/lecture_hall_1.mp4",
    "overhead_classroom.mp4": "video/overhead_classroom.mp4",
    "blink/focus mahie_test_1 (webcam)": "blink/focus/mahie_test_1.avi",
    "blink/focus soniya_test_5 (webcam, leans in)": "blink/focus/soniya_test_5_low_fps.avi",
    "EyeBlink8_0 (webcam)": "blink/EyeBlink8_0/calibration0_video0.mp4",
    "EyeBlink8_2 (webcam)": "blink/EyeBlink8_2/calibration0_video2.mp4",
    "EyeBlink8_5 (webcam)": "blink/EyeBlink8_5/calibration0_video5.mp4",
}
"""Eight distinct places (relative to ``../shared/data``). EyeBlink8's other folders film
the same person in the same room as one of these, so a splice there is no visible cut."""


def gray_frames(path: Path) -> tuple[float, list[np.ndarray]]:
    """A video's frame rate and every frame, grey and shrunk to ``KEPT_SIZE``."""
    video = cv2.VideoCapture(str(path))
    fps, frames = video.get(cv2.CAP_PROP_FPS), []
    while True:
        ok, image = video.read()
        if not ok:
            break
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        frames.append(cv2.resize(gray, KEPT_SIZE, interpolation=cv2.INTER_AREA))
    video.release()
    if not frames:
        raise ValueError(f"no frames could be read from {path}")
    return fps, frames


def sampled(frames: list[np.ndarray], fps: float, rate: float) -> list[np.ndarray]:
    """Every ``round(fps / rate)``-th frame (all of them when the video's own rate is
    lower than ``rate``)."""
    return frames[:: max(1, round(fps / rate))]


def cut_frames(frames: list[np.ndarray], detector: ShotCutDetector | None = None) -> list[int]:
    """Indices of the frames a fresh detector calls cuts, in order."""
    detector = detector or ShotCutDetector()
    return [i for i, frame in enumerate(frames) if detector.is_cut(frame)]


@dataclass(frozen=True)
class CutScores:
    splices: int
    found_at_splices: int
    transitions_within: int
    """Transitions inside the scenes, each scene counted once."""
    false_cuts_within: int
    false_cuts_in_pairs: int
    """False cuts summed over the spliced pairs: a scene's count once per pair it is in."""

    @property
    def recall(self) -> float:
        return self.found_at_splices / self.splices

    @property
    def precision(self) -> float:
        """Of the cuts found on the spliced pairs, the share found at a splice."""
        found = self.found_at_splices + self.false_cuts_in_pairs
        return self.found_at_splices / found if found else 1.0


def score_cuts(scenes: list[list[np.ndarray]]) -> CutScores:
    """Cuts found on every ordered pair of distinct scenes spliced one after the other."""
    false_in = [len(cut_frames(frames)) for frames in scenes]
    found = false_in_pairs = 0
    for a, b in permutations(range(len(scenes)), 2):
        found += len(cut_frames([scenes[a][-1], scenes[b][0]])) == 1
        false_in_pairs += false_in[a] + false_in[b]
    return CutScores(
        splices=len(scenes) * (len(scenes) - 1),
        found_at_splices=found,
        transitions_within=sum(len(frames) - 1 for frames in scenes),
        false_cuts_within=sum(false_in),
        false_cuts_in_pairs=false_in_pairs,
    )


def shuffled_frames(
    scenes: list[list[np.ndarray]], seed: int = 0
) -> tuple[list[np.ndarray], list[int]]:
    """Control: every frame of every scene in a random order, so that nearly every
    transition jumps to another scene or to another moment of the same one; with the scene
    of each frame."""
    labelled = [(frame, scene) for scene, frames in enumerate(scenes) for frame in frames]
    random.Random(seed).shuffle(labelled)
    return [frame for frame, _ in labelled], [scene for _, scene in labelled]
