"""State carried from one closed window to the next within a session, as msgspec Structs
so a snapshot (the stream processor's checkpoint) can hold it: ``PersonCarry`` (blink,
yawn, look and rest detector states, open alert episodes, session totals) and
``SessionCarry`` (the class's people, each camera's learned front, running class level,
session totals). Updated only at window close,
never per event."""

from __future__ import annotations

import msgspec

from schemas.events import Role

from .eyes import BlinkCarry, YawnCarry
from .head import FrontCarry, LookCarry, RestCarry


class PersonCarry(msgspec.Struct, kw_only=True):
    """What one person's next window needs from the previous ones, and session totals."""

    person_id: str
    role: Role = "unknown"
    identity_source: str = "track"
    first_seen_at: float
    last_seen_at: float
    blink: BlinkCarry = BlinkCarry()
    yawn: YawnCarry = YawnCarry()
    look: LookCarry = LookCarry()
    rest: RestCarry = RestCarry()
    fatigue_since: float | None = None
    """Start of the current run of fatigued windows."""
    fatigue_alerted: bool = False
    absence_alerted: bool = False
    windows_present: int = 0
    concentration_sum: float = 0.0
    concentration_windows: int = 0
    """Windows with a known concentration (head state known some of the time)."""
    samples: int = 0
    """Frames with the head state known (front, down, away)."""
    attentive_samples: int = 0
    """Frames engaged: facing the front, or down at the desk and not resting."""
    frames_seen: int = 0
    alerts: int = 0
    intensity_counts: dict[str, int] = {}


class SessionCarry(msgspec.Struct, kw_only=True):
    """One classroom session's state across windows: people, class level, totals."""

    school_id: str
    classroom_id: str
    session_id: str
    course: str = ""
    window_seconds: float
    started_at: float | None = None
    ended_at: float | None = None
    windows: int = 0
    frames_sampled: int = 0
    persons: dict[str, PersonCarry] = {}
    fronts: dict[str, FrontCarry] = {}
    """Camera id -> its front learned from the class's head poses (``head.learn_front``)."""
    class_level: float | None = None
    """Running mean concentration of the class (exponential, frozen during a drop)."""
    class_level_windows: int = 0
    drop_since: float | None = None
