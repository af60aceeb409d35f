"""Tracks against hand labels: people counted, ID switches and fragments.

Labels name the person in a face box on some frames (``tests/labels/classroom_people.csv``:
``frame,person,x,y,width,height``). On each labelled frame every labelled box is matched to
the tracked box it overlaps most (IoU >= ``MATCH_IOU``, each box once). Then:

- people counted: distinct track ids that matched a labelled person;
- ID switch: a person matched by a different track id than on their previous matched frame;
- fragments: extra track ids per person (a person on 3 tracks is 2 fragments);
- merges: track ids matched to more than one person;
- phantom tracks: track ids on labelled frames that never matched a labelled face.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from core.vision.detection_eval import greedy_matches
from core.vision.frames import DecodedFrame, FrameHeader

MATCH_IOU = 0.5

TrackedBox = tuple[int, int, tuple[float, float, float, float]]
"""(frame index, track id, (x, y, width, height))."""
BATCH = 8


def read_frames(path: Path, first: int = 0, count: int = 100_000) -> list[np.ndarray]:
    """BGR frames ``first`` to ``first + count`` of a video, in order."""
    video = cv2.VideoCapture(str(path))
    video.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    while len(frames) < count:
        ok, image = video.read()
        if not ok:
            break
        frames.append(image)
    video.release()
    if not frames:
        raise ValueError(f"no frames could be read from {path} at frame {first}")
    return frames


def tracked_boxes(
    engine, images: list[np.ndarray], fps: float = 25.0, step: int = 1
) -> list[TrackedBox]:
    """(frame, track id, box) of every face a ``VisionEngine`` reports on ``images``, as
    one camera's frames, in batches like the inference worker's. ``images`` are every
    ``step``-th frame of a video of ``fps`` frames a second (step 25 at 25 fps: 1 frame/s);
    frames are numbered as in the video, so the labels' frame numbers still apply."""
    frames = [
        DecodedFrame(
            FrameHeader("school", "room", "cam", "lesson", "", i * step, i * step / fps), image
        )
        for i, image in enumerate(images)
    ]
    tracked = []
    for start in range(0, len(frames), BATCH):
        for index, result in enumerate(engine.process(frames[start : start + BATCH]), start):
            tracked += [(index * step, event.track_id, event.box) for event in result.events]
    return tracked


def shuffled_ids(tracked: list[TrackedBox], seed: int = 14) -> list[TrackedBox]:
    """The same boxes with their track ids shuffled among them: the negative control."""
    ids = [track_id for _, track_id, _ in tracked]
    np.random.default_rng(seed).shuffle(ids)
    return [(frame, i, box) for (frame, _, box), i in zip(tracked, ids, strict=True)]


@dataclass(frozen=True)
class PersonLabel:
    frame: int
    person: str
    box: tuple[float, float, float, float]
    """x, y, width, height."""


def read_person_labels(path: Path) -> list[PersonLabel]:
    """Labels of a CSV with ``#`` comment lines before its header."""
    with open(path) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [
            PersonLabel(
                int(row["frame"]),
                row["person"],
                tuple(float(row[k]) for k in ("x", "y", "width", "height")),  # type: ignore[arg-type]
            )
            for row in rows
        ]


@dataclass
class TrackScores:
    people: int
    labelled_people: int
    id_switches: int
    fragments: int
    merges: int
    phantom_tracks: int
    matched: int
    labelled: int


def corners(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, width, height = box
    return x, y, x + width, y + height


def score_tracks(labels: list[PersonLabel], tracked: list[TrackedBox]) -> TrackScores:
    """Compare tracked boxes with the hand labels (only labelled frames count)."""
    labels_by_frame: dict[int, list[PersonLabel]] = defaultdict(list)
    for label in labels:
        labels_by_frame[label.frame].append(label)
    tracked_by_frame: dict[int, list[tuple[int, tuple]]] = defaultdict(list)
    for frame, track_id, box in tracked:
        if frame in labels_by_frame:
            tracked_by_frame[frame].append((track_id, box))
    tracks_of_person: dict[str, list[int]] = defaultdict(list)
    seen_tracks: set[int] = set()
    matched = 0
    for frame in sorted(labels_by_frame):
        truth, found = labels_by_frame[frame], tracked_by_frame[frame]
        seen_tracks.update(track_id for track_id, _ in found)
        pairs = greedy_matches(
            np.array([corners(t.box) for t in truth]).reshape(-1, 4),
            np.array([corners(box) for _, box in found]).reshape(-1, 4),
            MATCH_IOU,
        )
        for label_index, found_index in pairs:
            tracks_of_person[truth[label_index].person].append(found[found_index][0])
            matched += 1
    switches = sum(sum(a != b for a, b in pairwise(ids)) for ids in tracks_of_person.values())
    persons_of_track: dict[int, set[str]] = defaultdict(set)
    for person, ids in tracks_of_person.items():
        for track_id in ids:
            persons_of_track[track_id].add(person)
    return TrackScores(
        people=len(persons_of_track),
        labelled_people=len({label.person for label in labels}),
        id_switches=switches,
        fragments=sum(len(set(ids)) - 1 for ids in tracks_of_person.values()),
        merges=sum(len(persons) > 1 for persons in persons_of_track.values()),
        phantom_tracks=len(seen_tracks - set(persons_of_track)),
        matched=matched,
        labelled=len(labels),
    )
