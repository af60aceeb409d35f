"""The metric maths of the classroom: plain Python, no Kafka, no database.

``ClassroomAnalytics`` runs it over a stream of ``FaceEvent``s in memory (the embedded
runner). The Faust app uses the pieces directly, with its state in tables:
``StudentWindowState`` / ``ClassWindowState`` are the per-window partial aggregates,
``close_window`` turns them into ``StudentWindow``s, a ``ClassWindow`` and alerts while
updating the ``SessionCarry``, and ``session_scores`` / ``teacher_mixes`` end a lesson.
docs/metrics.md explains every formula.
"""

from .carry import PersonCarry, SessionCarry
from .close import ClosedWindow, close_window, new_session
from .concentration import band, concentration_index
from .engine import AnalyticsOutput, ClassroomAnalytics, RejectedEvent
from .expression import EMOTION_WEIGHTS
from .eyes import detect_blinks, perclos
from .session import session_scores, teacher_mixes
from .state import (
    ClassWindowState,
    StudentWindowState,
    event_problem,
    group_by_window,
    is_late,
    window_start,
)
from .student import FinalizedWindow, finalize

__all__ = [
    "EMOTION_WEIGHTS",
    "AnalyticsOutput",
    "ClassWindowState",
    "ClassroomAnalytics",
    "ClosedWindow",
    "FinalizedWindow",
    "PersonCarry",
    "RejectedEvent",
    "SessionCarry",
    "StudentWindowState",
    "band",
    "close_window",
    "concentration_index",
    "detect_blinks",
    "event_problem",
    "finalize",
    "group_by_window",
    "is_late",
    "new_session",
    "perclos",
    "session_scores",
    "teacher_mixes",
    "window_start",
]
