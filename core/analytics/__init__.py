"""The metric maths of the classroom: plain Python, no Kafka, no database.

``ClassroomAnalytics`` (``engine.py``) runs it over a stream of ``FaceEvent``s in memory;
both runtimes drive it through the window stage ``core.stages.windows``. Its pieces, one
way down: ``state.py`` holds the partial aggregates of open windows
(``StudentWindowState``, ``ClassWindowState``), ``carry.py`` what one window hands the next
(``PersonCarry``, ``SessionCarry``), ``student.py`` closes one person's window,
``close.py`` a whole classroom window with its alerts (``close_window``), and
``session.py`` ends a lesson (``session_scores``, ``teacher_mixes``).
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
    "is_late",
    "new_session",
    "perclos",
    "session_scores",
    "teacher_mixes",
    "window_start",
]
