"""Seat motion: which rostered seats moved between a camera's consecutive frames.

Under a camera mounted high, pupils working at their desks show the crown of the head,
not a face: on ``overhead_classroom.mp4`` the detector finds 7 of 14 pupils even on frames
upscaled 2x. The roster's seat map says where each pupil sits (``core.roster``), and a seat
with someone in it moves: writing, turning a page, shifting on the chair. An empty chair
does not. Measured there (``tests/attendance/test_seat_motion.py``, seats drawn by hand in
``tests/labels/overhead_roster.yaml``): at 1 frame a second the seats of 14 of 14 pupils
moved, those of empty chairs in 0 frames.

This is evidence that a seat is taken, for the roll call only (``RollCall.observe_seats``):
it says nothing of who is there (a neighbour leaning over, someone walking past) nor of
what they do, so it makes no window, head state or concentration.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.roster import Roster

MOTION_LEVEL = 20
"""Gray levels (0-255, after a 5x5 blur) a pixel must change by to count as moved: above
sensor noise and video compression, which stay under ~10 on the still parts of real clips."""
MOVED_SHARE = 0.02
"""Share of a seat's pixels that must move for the seat to count as taken in a frame."""
WHOLE_FRAME_SHARE = 0.1
"""Above this share of the whole frame moving, the camera moved or the light changed: no
seat is judged from that pair of frames. A fixed camera over a working class changes
1-4.5% of its frame from one frame to the next (``overhead_classroom.mp4`` at 1-5 frames a
second); a handheld or panning one 16-47% (``classroom.mp4``, ``lecture_hall_1.mp4`` at 2),
where a seat's motion says nothing."""


class SeatMotion:
    """The seats of consenting students on the roster, per camera, and each camera's
    previous frame, blurred."""

    def __init__(self, roster: Roster) -> None:
        self.seats: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {}
        """Camera -> (student id, seat box x, y, width, height) of its seats."""
        for student in roster.enrolled():
            if not student.consent:  # no recording consent: not watched, not even a seat
                continue
            for seat in student.seats:
                self.seats.setdefault(seat.camera_id, []).append((student.id, seat.box))
        self.previous: dict[str, np.ndarray] = {}

    def moved(self, camera_id: str, gray: np.ndarray) -> tuple[str, ...]:
        """The students whose seat on ``camera_id`` moved since the camera's previous frame
        (``gray``, uint8); none on a camera's first frame or after a change of frame size."""
        seats = self.seats.get(camera_id)
        if not seats:
            return ()
        blurred = cv2.GaussianBlur(gray, (5, 5), 0)
        previous = self.previous.get(camera_id)
        self.previous[camera_id] = blurred
        if previous is None or previous.shape != blurred.shape:
            return ()
        changed = cv2.absdiff(previous, blurred) > MOTION_LEVEL
        if changed.mean() > WHOLE_FRAME_SHARE:
            return ()
        return tuple(
            student_id
            for student_id, (x, y, width, height) in seats
            if changed[y : y + height, x : x + width].mean() >= MOVED_SHARE
        )
