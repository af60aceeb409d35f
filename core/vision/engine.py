"""The vision engine: a batch of frames in, one ``FaceEvent`` per visible face out.

Per batch, in order: check each frame (a bad one gets a ``FrameError``, the rest go on);
detect faces in all frames at once (every ``vision.detect_every``-th frame of a camera;
the frames between follow the previous frame's faces by their tracks); track them per
camera; 68 landmarks, eye and mouth openness, head pose and sharpness per face; identity
by policy, dropping the faces of people without recording consent before anything else is
read from them (docs/privacy.md, "Consent"); eye closure (both eyes of all kept faces large
enough to read them, one forward pass) and expression for all kept faces of the batch whose
person may have it read (emotion consent) in one forward pass (never loaded under
``policy.emotion == "off"``). Last, the faces of tracks found printed (a poster, a photo, a
screen: core/vision/liveness.py) are dropped: they are no person; the first of a track is
sent once, marked ``printed``, so that downstream takes back its earlier faces.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import msgspec
import numpy as np
import torch

from core.roster import Roster, Student
from core.vision.detectors import Detector, create_detector
from core.vision.device import resolve_device
from core.vision.expression import ExpressionClassifier
from core.vision.eyestate import EyeStateClassifier, eyes_readable
from core.vision.faces import Faces
from core.vision.frames import DecodedFrame, FrameError, FrameHeader, FrameResult, checked_bgr
from core.vision.headpose import head_pose
from core.vision.identity import Encoder, create_face_encoder
from core.vision.landmarks import (
    LandmarkModel,
    Landmarks,
    eye_ratios,
    mouth_aspect_ratio,
    sharpness,
)
from core.vision.liveness import FaceSample, LivenessJudge
from core.vision.seats import SeatMotion
from core.vision.shotcut import ShotCutDetector
from core.vision.tracking import FaceTracker, face_look
from schemas.events import EXPRESSIONS, FaceEvent
from schemas.settings import PolicySettings, VisionSettings


@dataclass
class TrackIdentity:
    """What face identity learnt about one track: a student, or when it last tried."""

    student: Student | None
    tried_at: float


@dataclass
class DetectionClock:
    """Frames of one camera since its last detection, and the time of its latest frame."""

    frames_since: int
    last_at: float


@dataclass
class FrameFaces:
    """The kept faces of one frame while the engine works on them; face i is row i of
    ``faces`` (track ids set) and of ``points``, and item i of ``identities``."""

    faces: Faces
    points: np.ndarray
    """(N, 68, 2) float32 landmarks."""
    identities: list[tuple[Student | None, str]]
    """(student or None, identity source) per face."""


Pose = tuple[float, float, float]
"""Yaw, pitch and roll of a head, in degrees."""


def head_pose_of(read: FrameFaces, position: int, image: np.ndarray) -> Pose:
    keypoints = read.faces.keypoints
    return head_pose(
        read.points[position],
        image.shape[1],
        image.shape[0],
        keypoints[position] if keypoints is not None else None,
    )


@dataclass(frozen=True)
class VisionModels:
    """The networks an engine runs, loaded once (seconds of CPU). None of them keeps state
    between calls but a scratch buffer, so engines made with the same settings may share
    one set (``VisionEngine.from_settings(..., models=)``) as long as no two of them run
    at the same time; trackers, clocks and identities stay each engine's own."""

    detector: Detector
    landmarks: LandmarkModel
    eye_state: EyeStateClassifier
    expression: ExpressionClassifier | None
    """None under ``policy.emotion == "off"``: never loaded."""
    encoder: Encoder | None
    """The face encoder, only under ``policy.identity == "face"``."""

    @classmethod
    def load(cls, vision: VisionSettings, policy: PolicySettings) -> VisionModels:
        """The models ``vision`` names that ``policy`` allows."""
        device = resolve_device(vision.device)
        return cls(
            detector=create_detector(vision),
            landmarks=LandmarkModel(),
            eye_state=EyeStateClassifier(vision.eye_state_model),
            expression=(
                ExpressionClassifier(
                    vision.expression_model,
                    device,
                    vision.expression_min_face_px,
                    vision.expression_precision,
                )
                if policy.emotion == "on"
                else None
            ),
            encoder=create_face_encoder(vision) if policy.identity == "face" else None,
        )


class VisionEngine:
    def __init__(
        self,
        vision: VisionSettings,
        policy: PolicySettings,
        models: VisionModels,
        roster: Roster | None,
    ) -> None:
        """``models`` must be ``VisionModels.load(vision, policy)`` or a set loaded with
        the same settings: the policy is checked against them, not trusted."""
        if policy.identity != "off" and roster is None:
            raise ValueError(f"policy.identity={policy.identity!r} needs a roster")
        if (policy.emotion == "on") != (models.expression is not None):
            raise ValueError(f"models loaded for another policy.emotion than {policy.emotion!r}")
        if (policy.identity == "face") != (models.encoder is not None):
            raise ValueError(f"models loaded for another policy.identity than {policy.identity!r}")
        self.vision = vision
        self.policy = policy
        self.models = models
        self.roster = roster
        if vision.torch_threads:
            # Process-wide. These nets are small: on 2 cores with other work around, two
            # OpenMP threads waiting for each other made the engine 1.1-4x slower than one
            # (docs/vision.md, "Speed").
            # Use more cores by running more workers.
            torch.set_num_threads(vision.torch_threads)
            # OpenCV's own pool too: its 2-thread area resize was slower than one thread.
            cv2.setNumThreads(vision.torch_threads)
        self.detector = models.detector
        self.landmarks = models.landmarks
        self.expression = models.expression
        self.eye_state = models.eye_state
        self.encoder = models.encoder
        if self.encoder is not None and roster is not None:
            roster.check_embeddings_model(vision.identity_model)
        self.trackers: dict[str, FaceTracker] = {}
        self.shot_cuts: dict[str, ShotCutDetector] = {}
        self.detection_clocks: dict[str, DetectionClock] = {}
        self.previous_faces: dict[str, Faces] = {}
        """Per camera, the tracked faces of its latest frame: followed between detections."""
        self.track_identities: dict[tuple[str, int], TrackIdentity] = {}
        self.stage_seconds: dict[str, float] = defaultdict(float)
        """Time spent so far per stage (detect, track, landmarks, identity, eyes,
        expression, pose): for the vision benchmark (bench/vision.py)."""
        self.liveness = LivenessJudge(vision)
        self.seat_motion = SeatMotion(roster) if roster is not None and vision.seat_motion else None
        """Which rostered seats move, for the roll call (``core.vision.seats``)."""

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] += time.perf_counter() - start

    @classmethod
    def from_settings(
        cls,
        vision: VisionSettings,
        policy: PolicySettings,
        roster: Roster | None = None,
        models: VisionModels | None = None,
    ) -> VisionEngine:
        """An engine with fresh state; its models loaded here unless ``models`` (loaded
        with the same settings) are given."""
        return cls(vision, policy, models or VisionModels.load(vision, policy), roster)

    def process(self, frames: Sequence[DecodedFrame]) -> list[FrameResult]:
        """One result per frame, in order; a frame that cannot be read carries its error."""
        results = [FrameResult(frame.meta) for frame in frames]
        images: dict[int, np.ndarray] = {}
        for index, frame in enumerate(frames):
            try:
                images[index] = checked_bgr(frame.image)
            except FrameError as exc:
                results[index].error = exc
        order = sorted(images)
        detected = [i for i in order if self._needs_detection(frames[i].meta)]
        with self._stage("detect"):
            rgbs = {i: cv2.cvtColor(images[i], cv2.COLOR_BGR2RGB) for i in order}
            found = self.detector.detect([rgbs[i] for i in detected]) if detected else []
        detections = dict(zip(detected, found, strict=True))
        read: dict[int, FrameFaces] = {}
        grays: dict[int, np.ndarray] = {}
        for index in order:
            grays[index] = cv2.cvtColor(rgbs[index], cv2.COLOR_RGB2GRAY)
            read[index] = self._read_faces(
                frames[index], rgbs[index], grays[index], detections.get(index)
            )
            if self.seat_motion is not None:
                camera_id = frames[index].meta.camera_id
                results[index].seats_moved = self.seat_motion.moved(camera_id, grays[index])
        # (frame index, row in its FrameFaces): the faces of the whole batch, which the
        # expression and eye networks take in one forward pass each.
        faces = [(index, row) for index in order for row in range(len(read[index].faces))]
        with self._stage("pose"):
            poses = [head_pose_of(read[index], row, images[index]) for index, row in faces]
        with self._stage("expression"):
            probabilities = self._expressions(faces, read, grays)
        with self._stage("eyes"):
            eyes_closed = self._eyes_closed(
                [(grays[i], read[i].faces.xyxy[row], read[i].points[row]) for i, row in faces],
                poses,
            )
        for position, (index, row) in enumerate(faces):
            event = self._event(
                frames[index],
                grays[index],
                read[index],
                row,
                poses[position],
                probabilities[position],
                eyes_closed[position],
            )
            event = self._unless_printed(event, read[index].points[row])
            if event is None:
                continue
            results[index].events.append(event)
            results[index].landmarks.append(read[index].points[row])
        return results

    def _unless_printed(self, event: FaceEvent, points: np.ndarray) -> FaceEvent | None:
        """``event``, unless its face is a printed face (poster, photo, screen) by its
        track's liveness (core/vision/liveness.py): such a face is no person. The first
        printed face of a track is sent once more marked ``printed`` (downstream takes back
        what its undecided faces counted); later ones are dropped. All are counted in
        ``liveness.printed_faces``."""
        alive = {track.track_id for track in self._tracker(event.camera_id).tracks}
        self.liveness.forget(event.camera_id, alive)
        sample = FaceSample(
            event.captured_at,
            event.box,
            points,
            (event.yaw, event.pitch, event.roll),
            event.eye_closed,
        )
        if self.liveness.judge(event.camera_id, event.track_id, sample) != "printed":
            return event
        if self.liveness.announce(event.camera_id, event.track_id):
            return msgspec.structs.replace(event, printed=True)
        return None

    def _expressions(
        self,
        faces: list[tuple[int, int]],
        read: dict[int, FrameFaces],
        grays: dict[int, np.ndarray],
    ) -> list[np.ndarray | None]:
        """Per face of the batch (frame index, row), its expression probabilities, or None
        where none may be read: everyone under ``policy.emotion == "off"``, a student
        without emotion consent (the network never sees their face), a face too small."""
        probabilities: list[np.ndarray | None] = [None] * len(faces)
        if self.expression is None:
            return probabilities
        # A face nobody is named as is an anonymous track, read as under identity off
        # (under face identity such faces were dropped already: consent unknown).
        readable = [
            position
            for position, (index, row) in enumerate(faces)
            if (student := read[index].identities[row][0]) is None or student.consent_emotion
        ]
        crops = [
            face_crop(grays[index], read[index].faces.xyxy[row])
            for index, row in (faces[position] for position in readable)
        ]
        for position, value in zip(readable, self.expression.classify(crops), strict=True):
            probabilities[position] = value
        return probabilities

    def _eyes_closed(
        self, faces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], poses: list[Pose]
    ) -> list[float | None]:
        """Per face (its frame's gray image, its box and its 68 points; and its head
        pose), the probability that its
        eyes are closed; None where the eyes cannot be read, and the eye network is not
        run on them: a face under ``vision.eyes_min_face_px`` (too few pixels), or one
        turned, looking down or smiling (``eyes_readable``; docs/metrics.md, "Eyes")."""
        readable = [
            position
            for position, ((_, box, points), (yaw, pitch, _)) in enumerate(
                zip(faces, poses, strict=True)
            )
            if face_px(box) >= self.vision.eyes_min_face_px and eyes_readable(points, yaw, pitch)
        ]
        closed = self.eye_state.faces_closed([(faces[p][0], faces[p][2]) for p in readable])
        eyes_closed: list[float | None] = [None] * len(faces)
        for position, value in zip(readable, closed, strict=True):
            eyes_closed[position] = round(value, 4)
        return eyes_closed

    def largest_face_descriptor(self, image: np.ndarray, encoder: Encoder) -> np.ndarray | None:
        """128-D identity descriptor of the largest face in a BGR image (for enrolment)."""
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        faces = self.detector.detect([rgb])[0]
        if not len(faces):
            return None
        largest = faces[int(np.argmax(faces.areas()))]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        shape = self.landmarks.shapes(gray, largest, self.detector.landmark_box_adjust)[0]
        return encoder.encode(rgb, [shape])[0]

    def _needs_detection(self, meta: FrameHeader) -> bool:
        """Whether to run the detector on this frame, or follow the previous frame's faces.

        Every ``vision.detect_every``-th frame of a camera is detected, so a new face shows
        up within that many frames. So is any frame that does not closely follow its
        camera's previous one (the first, one more than ``vision.follow_max_gap_seconds``
        after it, a repeated or out-of-order time): a face moves too far between such frames
        to be re-read where its track predicts it (at 1 frame/s, up to a face height).
        """
        clock = self.detection_clocks.get(meta.camera_id)
        follows = (
            clock is not None
            and clock.frames_since + 1 < self.vision.detect_every
            and 0 < meta.captured_at - clock.last_at <= self.vision.follow_max_gap_seconds
        )
        if follows:
            clock.frames_since += 1
            clock.last_at = meta.captured_at
        else:
            self.detection_clocks[meta.camera_id] = DetectionClock(0, meta.captured_at)
        return not follows

    def _followed_faces(
        self, camera_id: str, tracker: FaceTracker, at: float, rgb: np.ndarray
    ) -> Faces:
        """The previous frame's faces of a camera, moved to where their tracks predict them
        at ``at`` and re-read there by the detector; the landmarks then re-fit each face."""
        previous = self.previous_faces.get(camera_id, Faces.empty())
        row_of = {track_id: row for row, track_id in enumerate(previous.tracker_id.tolist())}
        rows, predicted = [], []
        for track in tracker.tracks:
            if track.track_id in row_of:
                rows.append(row_of[track.track_id])
                predicted.append(track.box + track.velocity * (at - track.seen_at))
        if not rows:
            return Faces.empty()
        return self.detector.follow(rgb, previous[rows].moved_to(np.array(predicted)))

    def _read_faces(
        self, frame: DecodedFrame, rgb: np.ndarray, gray: np.ndarray, faces: Faces | None
    ) -> FrameFaces:
        """Tracked, landmarked, identified faces of one frame; no-consent faces and tentative
        tracks (doubtful new faces not confirmed yet, ``FaceTracker``) removed. ``faces``
        None: no detection ran on this frame; follow the previous frame's faces, unless the
        shot cut here."""
        meta = frame.meta
        tracker = self._tracker(meta.camera_id)
        with self._stage("track"):
            cut = self._starts_new_shot(meta, gray)
        if cut and faces is None:
            with self._stage("detect"):
                faces = self.detector.detect([rgb])[0]
        if faces is None:
            with self._stage("track"):
                faces = self._followed_faces(meta.camera_id, tracker, meta.captured_at, rgb)
        corners = faces.xyxy
        with self._stage("track"):
            track_ids = tracker.update(
                corners,
                meta.captured_at,
                # float64, as the tracker compares them with a float setting.
                scores=faces.confidence.astype(np.float64),
                seen=faces.seen,
                looks=[face_look(rgb, corner) for corner in corners],
            )
            self._forget_lost_tracks(meta.camera_id, tracker)
            faces = self.previous_faces[meta.camera_id] = faces.with_tracker_ids(track_ids)
        faces = faces[np.array([tracker.is_confirmed(t) for t in track_ids], bool)]
        with self._stage("landmarks"):
            fitted = self.landmarks.fit(gray, faces, self.detector.landmark_box_adjust)
        with self._stage("identity"):
            identities = self._identify(meta.camera_id, meta.captured_at, rgb, faces, fitted)
        # Consent is opt-in, so under face identity a track not recognised yet (whose
        # consent is unknown) leaves no face either, until it is recognised.
        consented = [
            student.consent if student else self.policy.identity != "face"
            for student, _ in identities
        ]
        points = [landmarks.points for landmarks, ok in zip(fitted, consented, strict=True) if ok]
        return FrameFaces(
            faces[np.array(consented, bool)],
            np.array(points, np.float32).reshape(-1, 68, 2),
            [identity for identity, ok in zip(identities, consented, strict=True) if ok],
        )

    def _tracker(self, camera_id: str) -> FaceTracker:
        tracker = self.trackers.get(camera_id)
        if tracker is None:
            tracker = self.trackers[camera_id] = FaceTracker(
                self.vision.track_lost_seconds,
                relink_seconds=self.vision.track_relink_seconds,
                confirm_score=self.vision.track_confirm_score,
            )
        return tracker

    def _starts_new_shot(self, meta: FrameHeader, gray: np.ndarray) -> bool:
        """Whether this frame starts a new shot of its camera. At a cut every track of the
        camera ends (no re-linking: nobody is where they were) and the detection clock
        restarts here, so the frames after it follow this frame's faces."""
        detector = self.shot_cuts.setdefault(meta.camera_id, ShotCutDetector())
        if not detector.is_cut(gray):
            return False
        self._tracker(meta.camera_id).end_all()
        self.previous_faces[meta.camera_id] = Faces.empty()
        self.detection_clocks[meta.camera_id] = DetectionClock(0, meta.captured_at)
        return True

    def _forget_lost_tracks(self, camera_id: str, tracker: FaceTracker) -> None:
        """Drop what face identity knew about tracks that ended: the student is free to be
        found again on a new track, and memory stays bounded over a long lesson."""
        alive = {track.track_id for track in tracker.tracks}
        for key in [k for k in self.track_identities if k[0] == camera_id and k[1] not in alive]:
            del self.track_identities[key]

    def _identify(
        self,
        camera_id: str,
        at: float,
        rgb: np.ndarray,
        faces: Faces,
        fitted: list[Landmarks],
    ) -> list[tuple[Student | None, str]]:
        """(student or None, identity source) per face, by ``policy.identity``."""
        if self.policy.identity == "off" or self.roster is None:
            return [(None, "track")] * len(faces)
        owners = [
            self.roster.seat_owner(camera_id, (x1 + x2) / 2, (y1 + y2) / 2)
            for x1, y1, x2, y2 in faces.xyxy.tolist()
        ]
        if self.policy.identity == "seat":
            return [(owner, "seat" if owner else "track") for owner in owners]
        # A student who declines face recognition can be named by their seat only: a face
        # in that seat is never encoded, so it is compared with no one's.
        by_seat = [owner if owner and not owner.consent_face else None for owner in owners]
        self._recognise(camera_id, at, rgb, faces, fitted, [s is None for s in by_seat])
        results: list[tuple[Student | None, str]] = []
        for track_id, seated in zip(faces.tracker_id.tolist(), by_seat, strict=True):
            identity = self.track_identities.get((camera_id, track_id))
            if identity is not None and identity.student is not None:
                results.append((identity.student, "face"))
            else:
                results.append((seated, "seat") if seated else (None, "track"))
        return results

    def _recognise(
        self,
        camera_id: str,
        at: float,
        rgb: np.ndarray,
        faces: Faces,
        fitted: list[Landmarks],
        may_encode: list[bool],
    ) -> None:
        """Face identity: compare the faces that ``may_encode`` with the enrolled faces,
        and remember per track whom each one is (``track_identities``)."""
        # Face identity is ~90 ms per face on a CPU: decide once per track, and retry an
        # unknown track at most every identity_retry_seconds.
        track_ids = faces.tracker_id.tolist()
        pending = []
        for position, track_id in enumerate(track_ids):
            known = self.track_identities.get((camera_id, track_id))
            due = known is None or (
                known.student is None and at - known.tried_at >= self.vision.identity_retry_seconds
            )
            if due and may_encode[position]:
                pending.append(position)
        if not pending or self.encoder is None or self.roster is None:
            return
        descriptors = self.encoder.encode(rgb, [fitted[p].dlib_shape() for p in pending])
        taken = {
            identity.student.id
            for (camera, _), identity in self.track_identities.items()
            if camera == camera_id and identity.student is not None
        }
        for position, descriptor in zip(pending, descriptors, strict=True):
            student = self.roster.nearest(descriptor, self.vision.identity_max_distance)
            if student is not None and student.id in taken:
                student = None  # one person is in one place: the first track keeps them
            self.track_identities[(camera_id, track_ids[position])] = TrackIdentity(student, at)
            if student is not None:
                taken.add(student.id)

    def _event(
        self,
        frame: DecodedFrame,
        gray: np.ndarray,
        read: FrameFaces,
        face_index: int,
        pose: Pose,
        probs: np.ndarray | None,
        eye_closed: float | None,
    ) -> FaceEvent:
        """The event of face ``face_index`` (its row in ``read``) of a frame."""
        meta = frame.meta
        box = read.faces.xyxy[face_index]
        x1, y1, x2, y2 = box.tolist()
        x, y = round(x1), round(y1)
        width, height = round(x2 - x1), round(y2 - y1)
        points = read.points[face_index]
        ear_left, ear_right = eye_ratios(points)
        yaw, pitch, roll = pose
        expression = label = confidence = intensity = None
        if probs is not None:
            expression = tuple(round(float(p), 4) for p in probs)
            top = int(np.argmax(probs))
            label = EXPRESSIONS[top]
            confidence = round(float(probs[top]), 4)
            if label != "neutral":
                strong = probs[top] >= self.vision.strong_expression_prob
                intensity = "strong" if strong else "weak"
        student, source = read.identities[face_index]
        track_id = int(read.faces.tracker_id[face_index])
        return FaceEvent(
            event_id=f"{meta.camera_id}/{meta.seq}/{face_index}",
            **meta.event_fields(),
            face_index=face_index,
            frame_faces=len(read.faces),
            track_id=track_id,
            person_id=student.id if student else f"{meta.camera_id}/t{track_id}",
            role=student.role if student else "unknown",
            identity_source=source,
            box=(x, y, width, height),
            det_score=round(float(read.faces.confidence[face_index]), 4),
            face_px=min(width, height),
            sharpness=round(sharpness(gray, box), 2),
            ear_left=round(ear_left, 4),
            ear_right=round(ear_right, 4),
            mar=round(mouth_aspect_ratio(points), 4),
            eye_closed=eye_closed,
            yaw=round(yaw, 2),
            pitch=round(pitch, 2),
            roll=round(roll, 2),
            expression=expression,
            expression_label=label,
            expression_confidence=confidence,
            expression_intensity=intensity,
        )


def face_crop(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face ``box`` (x1, y1, x2, y2) cut from the frame (clipped to it), never empty."""
    height, width = gray.shape
    left, top, right, bottom = (int(value) for value in box)
    x1, y1 = min(max(left, 0), width - 1), min(max(top, 0), height - 1)
    x2, y2 = max(min(right, width), x1 + 1), max(min(bottom, height), y1 + 1)
    return gray[y1:y2, x1:x2]


def face_px(box: np.ndarray) -> float:
    """The smaller side of a face ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box.tolist()
    return min(x2 - x1, y2 - y1)
