"""Invariants over random events: bounds, partial order = one pass, order does not matter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.analytics import ClassroomAnalytics, StudentWindowState, band, finalize
from core.analytics.state import RoomInstants
from schemas.events import FaceEvent, StudentWindow
from schemas.settings import AnalyticsSettings

from .factory import T0, face_event

SETTINGS = AnalyticsSettings()

probabilities = st.lists(st.floats(0.01, 1.0), min_size=7, max_size=7).map(
    lambda raw: tuple(p / sum(raw) for p in raw)
)

face = st.fixed_dictionaries(
    {
        "frame": st.integers(0, 199),  # 10 fps over [0, 20): two 10 s windows or one 20 s window
        "person": st.sampled_from(["s1", "s2", "s3"]),
        "ear": st.floats(0.0, 0.5),
        "eye_closed": st.none() | st.floats(0.0, 1.0),
        "mar": st.floats(0.0, 1.2),
        "yaw": st.floats(-90, 90),
        "pitch": st.floats(-60, 60),
        "expression": st.none() | probabilities,
    }
)
faces = st.lists(face, min_size=1, max_size=120, unique_by=lambda f: (f["frame"], f["person"]))


def to_events(drawn: list[dict]) -> list[FaceEvent]:
    return [
        face_event(
            f["frame"] / 10,
            f["person"],
            seq=f["frame"],
            face_index=int(f["person"][1:]),
            ear=f["ear"],
            eye_closed=f["eye_closed"],
            mar=f["mar"],
            yaw=f["yaw"],
            pitch=f["pitch"],
            expression=f["expression"],
        )
        for f in drawn
    ]


def everything(events: list[FaceEvent], emotion: bool = True) -> tuple:
    analytics = ClassroomAnalytics(SETTINGS, emotion=emotion, window_seconds=20.0)
    out = analytics.add(events)
    end = analytics.close_session("lesson-1")
    return (
        out.student_windows + end.student_windows,
        out.class_windows + end.class_windows,
        out.alerts + end.alerts,
        end.session_scores,
    )


@settings(max_examples=150, deadline=None)
@given(faces, st.booleans())
def test_every_number_stays_within_its_bounds(drawn: list[dict], emotion: bool) -> None:
    analytics = ClassroomAnalytics(SETTINGS, emotion=emotion)
    out = analytics.add(to_events(drawn))
    end = analytics.close_session("lesson-1")
    for w in out.student_windows + end.student_windows:
        assert w.frames_seen <= w.frames_sampled
        # unseen in the window: absent, or present a moment after being seen, all unknown
        assert w.frames_seen > 0 or w.presence == 0 or w.unknown_share == 1.0
        states = (w.front_share, w.down_share, w.rest_share, w.away_share, w.unknown_share)
        for share in (w.presence, *states):
            assert 0.0 <= share <= 1.0
        assert w.presence == 0 or abs(sum(states) - 1.0) < 1e-9
        _check_concentration(w)
        assert w.yawns >= 0
        # blinks and blink rate are known together, and only where PERCLOS is (too sparse
        # samples leave the blinks unknown but not PERCLOS)
        assert (w.blinks is None) == (w.blink_rate_per_min is None)
        assert w.perclos is not None or w.blinks is None
        if w.perclos is not None:
            assert 0.0 <= w.perclos <= 1.0
        if w.blinks is not None:
            assert w.blinks >= 0 and w.blink_rate_per_min >= 0
        assert len(w.blink_starts) == len(w.blink_ends) == (w.blinks or 0)
        if w.emotion_weight is not None:
            assert 0.2 <= w.emotion_weight <= 0.9
            assert abs(sum(w.expression_mix.values()) - 1.0) < 1e-9
    for c in out.class_windows + end.class_windows:
        stats = (c.concentration_mean, c.concentration_p10, c.concentration_p50)
        if c.concentration_mean is None:  # nobody with a known concentration: all unknown
            assert stats == (None, None, None) and c.concentration_p90 is None
        else:
            assert c.concentration_p10 <= c.concentration_p50 <= c.concentration_p90 <= 100.0
        shares = c.share_high + c.share_nominal + c.share_low + c.share_unknown
        assert abs(shares - 1.0) < 1e-9 or c.students_present == 0
    for s in end.session_scores:
        if s.mean_concentration is None:  # no window with their concentration known
            assert s.score == 0.0
        else:
            assert 0.0 <= s.score <= s.mean_concentration <= 100.0
        assert 0.0 <= s.presence <= 1.0
        assert s.attention_share is None or 0.0 <= s.attention_share <= 1.0


def _check_concentration(w: StudentWindow) -> None:
    """A concentration and an attention are known exactly when some head state was, and
    the band follows the concentration."""
    known = w.front_share + w.down_share + w.rest_share + w.away_share
    assert (w.attention is None) == (w.concentration is None)
    if w.concentration is None:
        assert known == 0.0
        assert w.band == ("unknown" if w.presence > 0 else "low")  # unseen, or absent
        return
    assert known > 0.0
    assert 0.0 <= w.attention <= 1.0
    assert 0.0 <= w.concentration <= 100.0
    assert w.band == band(w.concentration) or (
        w.band == "unknown" and w.unknown_share > SETTINGS.unknown_band_share
    )


@settings(max_examples=150, deadline=None)
@given(faces, st.data())
def test_a_partial_filled_in_two_runs_in_either_order_equals_one_pass(
    drawn: list[dict], data: st.DataObject
) -> None:
    events = [e for e in to_events(drawn) if e.person_id == to_events(drawn)[0].person_id]
    cut = data.draw(st.integers(0, len(events)))
    whole = StudentWindowState.open(events[0], 20.0)
    swapped = StudentWindowState.open(events[0], 20.0)
    for event in events:
        whole.add(event)
    for event in events[cut:] + events[:cut]:
        swapped.add(event)
    seen = {(e.camera_id, e.frame_seq, e.captured_at) for e in events}
    frames = sorted(seen | {("cam-1", 200 + extra, T0 + 20 + extra) for extra in range(3)})
    instants = RoomInstants.of(frames)
    one_pass = finalize(whole, instants, None, SETTINGS, emotion=True)
    assert finalize(swapped, instants, None, SETTINGS, emotion=True) == one_pass


@settings(max_examples=100, deadline=None)
@given(faces, st.randoms(use_true_random=False))
def test_event_order_within_a_window_does_not_change_the_result(drawn, random) -> None:
    events = to_events(drawn)
    shuffled = list(events)
    random.shuffle(shuffled)
    assert everything(shuffled) == everything(events)
