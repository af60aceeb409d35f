"""ClassroomAnalytics end to end on synthetic events, with hand-computed expected values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from core.analytics import AnalyticsOutput, ClassroomAnalytics
from schemas.events import FaceEvent, FaceEventBatch, StudentWindow
from schemas.settings import AnalyticsSettings

from .factory import T0, face_event

NEUTRAL = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


def run(events: list[FaceEvent], emotion: bool = False, **settings: Any) -> AnalyticsOutput:
    """Everything the events produce, the session closed at the end."""
    analytics = ClassroomAnalytics(AnalyticsSettings(**settings), emotion=emotion)
    out = analytics.add(events)
    closed = analytics.close_session("lesson-1")
    out.student_windows += closed.student_windows
    out.class_windows += closed.class_windows
    out.alerts += closed.alerts
    out.session_scores = closed.session_scores
    out.teacher_mixes = closed.teacher_mixes
    return out


def windows_of(out: AnalyticsOutput, person_id: str) -> list[StudentWindow]:
    return [w for w in out.student_windows if w.person_id == person_id]


def test_presence_counts_only_frames_in_which_someone_was_seen() -> None:
    # 10 fps over [0, 10): s1 in frames 0-49, s2 in frames 0-79, nobody in 80-99
    events = [face_event(f / 10, "s1") for f in range(50)]
    events += [face_event(f / 10, "s2") for f in range(80)]
    # unseen counts as absent at once: presence is the share of frames seen
    s1, s2 = (windows_of(run(events, unseen_unknown_seconds=0), p)[0] for p in ("s1", "s2"))
    assert (s1.frames_sampled, s1.frames_seen, s1.presence) == (80, 50, 0.625)
    assert (s2.frames_seen, s2.presence) == (80, 1.0)
    # by default s1 stays present, unknown, in the 30 frames after they were last seen
    s1 = windows_of(run(events), "s1")[0]
    assert (s1.presence, s1.unknown_share, s1.front_share) == (1.0, 0.375, 0.625)


def test_attention_and_concentration_without_emotion() -> None:
    # 6 of 10 samples face the front: 100 x presence 1 x attention 0.6 x (1 - PERCLOS 0)
    events = [face_event(i, "s1", yaw=0.0 if i < 6 else 45.0) for i in range(10)]
    window = windows_of(run(events), "s1")[0]
    assert window.attention == pytest.approx(0.6)
    assert window.concentration == pytest.approx(60.0) and window.band == "nominal"
    assert window.expression_mix is None and window.emotion_weight is None


def test_concentration_with_emotion_applies_the_sharma_weight() -> None:
    events = [face_event(i, "s1", expression=NEUTRAL) for i in range(10)]
    window = windows_of(run(events, emotion=True), "s1")[0]
    assert window.dominant_expression == "neutral"
    assert window.emotion_weight == pytest.approx(0.9)
    assert window.concentration == pytest.approx(90.0) and window.band == "high"
    # the policy switch wins over what the events carry
    assert windows_of(run(events, emotion=False), "s1")[0].concentration == pytest.approx(100.0)


def test_eyes_blinks_rate_perclos_and_yawns() -> None:
    # 100 samples at 10 Hz; eyes closed 2.0-2.1 s and 6.0-6.1 s (two samples each);
    # mouth open 4-5.5 s
    closed_at = {20, 21, 60, 61}
    events = [
        face_event(
            i / 10,
            "s1",
            eye_closed=0.9 if i in closed_at else 0.02,
            mar=0.8 if 40 <= i <= 55 else 0.1,
        )
        for i in range(100)
    ]
    window = windows_of(run(events), "s1")[0]
    assert window.blinks == 2 and window.blink_rate_per_min == pytest.approx(12.0)
    assert window.blink_starts == (T0 + 2.0, T0 + 6.0)
    assert window.blink_ends == (T0 + 2.1, T0 + 6.1)
    assert window.perclos == pytest.approx(4 / 100)
    assert window.yawns == 1
    assert window.concentration == pytest.approx(100 * (1 - 0.04))


def test_unreadable_eyes_give_unknown_blinks_and_perclos_and_leave_them_out_of_concentration():
    events = [face_event(i / 2, "s1", eye_closed=None) for i in range(20)]
    window = windows_of(run(events), "s1")[0]
    assert window.blinks is None and window.blink_rate_per_min is None and window.perclos is None
    assert window.concentration == pytest.approx(100.0)  # attention alone, no eye factor


def test_class_window_statistics() -> None:
    # five students facing the front in 10, 8, 6, 4, 2 of their 10 samples
    events = [
        face_event(i, f"s{k}", yaw=0.0 if i < front else 45.0)
        for k, front in enumerate((10, 8, 6, 4, 2))
        for i in range(10)
    ]
    [window] = run(events).class_windows
    assert (window.students_present, window.students_known) == (5, 5)
    assert window.concentration_mean == pytest.approx(60.0)
    # sorted 20, 40, 60, 80, 100: p10 at rank 0.4, p90 at rank 3.6
    assert window.concentration_p10 == pytest.approx(28.0)
    assert window.concentration_p50 == pytest.approx(60.0)
    assert window.concentration_p90 == pytest.approx(92.0)
    assert (window.share_high, window.share_nominal, window.share_low) == pytest.approx(
        (0.4, 0.4, 0.2)
    )


def test_a_known_person_missing_from_a_window_gets_a_presence_0_window() -> None:
    events = [face_event(i, p) for i in range(10) for p in ("s1", "s2")]
    events += [face_event(10 + i, "s2") for i in range(10)]
    out = run(events, unseen_unknown_seconds=0)
    absent = windows_of(out, "s1")[1]
    assert (absent.window_start, absent.frames_sampled, absent.presence) == (T0 + 10, 10, 0.0)
    assert (absent.concentration, absent.band) == (None, "low")
    assert (out.class_windows[1].students_present, out.class_windows[1].students_known) == (1, 2)
    assert out.class_windows[1].concentration_mean == pytest.approx(100.0)


def test_a_lost_anonymous_track_is_not_an_absent_student() -> None:
    events = [face_event(i, "cam-1/t1", identity_source="track") for i in range(10)]
    events += [face_event(10 + i, "cam-1/t2", identity_source="track") for i in range(10)]
    assert len(windows_of(run(events), "cam-1/t1")) == 1


def test_late_events_within_lateness_land_in_their_window_later_ones_are_dropped() -> None:
    analytics = ClassroomAnalytics(AnalyticsSettings(allowed_lateness_seconds=5.0))
    out = analytics.add([face_event(1, "s1"), face_event(14, "s1"), face_event(8, "s2")])
    assert out.student_windows == [] and out.late_dropped == 0  # watermark 9 < 10
    out = analytics.add([face_event(16, "s1"), face_event(9, "s3"), face_event(12, "s3")])
    assert out.late_dropped == 1  # s3 at 9 s: window [0, 10) closed at watermark 11
    assert {w.person_id for w in out.student_windows} == {"s1", "s2"}
    out = analytics.flush()
    assert {w.person_id for w in out.student_windows} == {"s1", "s2", "s3"}
    s3 = next(w for w in out.student_windows if w.person_id == "s3")
    assert s3.window_start == T0 + 10 and s3.frames_seen == 1


def test_events_of_a_closed_session_are_dropped_as_late() -> None:
    analytics = ClassroomAnalytics(AnalyticsSettings())
    analytics.add([face_event(1, "s1")])
    analytics.close_session("lesson-1")
    assert analytics.add([face_event(2, "s1")]).late_dropped == 1


def test_a_replayed_event_counts_once() -> None:
    events = [face_event(i, "s1") for i in range(10)]
    window = windows_of(run(events + events[:5]), "s1")[0]
    assert (window.frames_sampled, window.frames_seen) == (10, 10)


def test_bad_events_are_rejected_with_a_reason_and_lose_nothing_else() -> None:
    events = [face_event(i, "s1") for i in range(10)]
    bad = face_event(3.5, "s1", yaw=math.nan)
    short = face_event(4.5, "s1", expression=(0.5, 0.5))
    out = run([*events[:5], bad, short, *events[5:]])
    assert [r.event for r in out.rejected] == [bad, short]
    assert "yaw is nan" in out.rejected[0].reason and "7" in out.rejected[1].reason
    assert windows_of(out, "s1")[0].frames_seen == 10


def test_fatigue_raises_one_alert_once_sustained_30_seconds() -> None:
    # every window: 2 of 10 samples with eyes closed -> PERCLOS 0.2 >= 0.15
    events = [face_event(i, "s1", eye_closed=0.9 if i % 10 in (3, 7) else 0.02) for i in range(50)]
    out = run(events)
    [alert] = out.alerts
    assert (alert.kind, alert.person_id) == ("fatigue", "s1")
    assert (alert.started_at, alert.raised_at) == (T0, T0 + 30)
    assert alert.values["perclos"] == pytest.approx(0.2)
    assert alert.values["sustained_seconds"] == pytest.approx(30.0)
    assert alert.alert_id == run(events).alerts[0].alert_id  # a replay gives the same id
    assert out.session_scores[0].alerts == 1


def test_looking_around_raises_one_alert_per_episode() -> None:
    yaws = [0, 45, 0, -45, 0, 45, 0, 0, 0, 0] * 2  # keeps turning in both windows
    events = [face_event(i, "s1", yaw=float(y)) for i, y in enumerate(yaws)]
    out = run(events)
    [alert] = out.alerts
    assert (alert.kind, alert.started_at) == ("looking_around", T0 + 3)
    assert [w.look_around_episodes for w in windows_of(out, "s1")] == [1, 0]


def test_absence_raises_one_alert_after_absent_after_seconds() -> None:
    events = [face_event(i, p) for i in range(10) for p in ("s1", "s2")]
    events += [face_event(i, "s2") for i in range(10, 60)]
    [alert] = run(events, unseen_unknown_seconds=0).alerts
    # last seen at 9 s; the window ending at 40 s is the first with 31 s >= 30 s unseen
    assert (alert.kind, alert.person_id) == ("absent", "s1")
    assert (alert.started_at, alert.raised_at) == (T0 + 9, T0 + 40)
    assert alert.values["absent_seconds"] == pytest.approx(31.0)


def test_class_drop_raises_one_alert_per_drop() -> None:
    # three windows all facing the front (100), then two at 50: a 50-point drop
    events = [
        face_event(i, p, yaw=45.0 if i >= 30 and i % 2 else 0.0)
        for i in range(50)
        for p in ("s1", "s2")
    ]
    [alert] = run(events).alerts
    assert (alert.kind, alert.person_id, alert.started_at) == ("class_drop", "", T0 + 30)
    assert alert.values["lesson_level"] == pytest.approx(100.0)
    assert alert.values["drop_points"] == pytest.approx(50.0)


def test_session_score_averages_concentration_over_the_lesson() -> None:
    # s1: window 0 at 100, window 1 at 60 (6 of 10 front), window 2 absent; s2 always there
    events = [face_event(i, "s2") for i in range(30)]
    events += [face_event(i, "s1") for i in range(10)]
    events += [face_event(10 + i, "s1", yaw=0.0 if i < 6 else 45.0) for i in range(10)]
    events.sort(key=lambda event: event.captured_at)
    scores = {s.person_id: s for s in run(events).session_scores}
    s1 = scores["s1"]
    assert s1.score == pytest.approx(160 / 3)
    assert s1.mean_concentration == pytest.approx(80.0)
    assert s1.presence == pytest.approx(20 / 30)
    assert s1.attention_share == pytest.approx(16 / 20)
    assert (s1.started_at, s1.ended_at) == (T0, T0 + 30)
    assert "Score 53/100" in s1.explanation and "3 windows of 10 s" in s1.explanation
    assert scores["s2"].score == pytest.approx(100.0)


def test_teacher_gets_an_intensity_mix_and_stays_out_of_class_statistics() -> None:
    happy = (0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.1)
    sad = (0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5)
    labels = [("neutral", "weak", NEUTRAL), ("neutral", "strong", NEUTRAL)]
    labels += [("happy", "strong", happy), ("sad", "weak", sad)]
    events = [
        face_event(
            i,
            "t1",
            role="teacher",
            expression=p,
            expression_label=label,
            expression_intensity=level,
            yaw=60.0,
        )
        for i, (label, level, p) in enumerate(labels)
    ]
    events += [face_event(i, "s1", expression=NEUTRAL) for i in range(4)]
    out = run(events, emotion=True)
    [mix] = out.teacher_mixes
    assert mix.person_id == "t1" and mix.frames == 4
    assert mix.mix["neutral"] == 0.5 and mix.mix["happy_strong"] == 0.25
    assert mix.mix["sad_weak"] == 0.25 and sum(mix.mix.values()) == pytest.approx(1.0)
    assert [s.person_id for s in out.session_scores] == ["s1"]
    assert out.class_windows[0].students_known == 1
    assert out.class_windows[0].concentration_mean == pytest.approx(90.0)
    assert out.alerts == []  # the teacher looking away is not an alert
    assert run(events, emotion=False).teacher_mixes == []


def test_events_after_a_flush_do_not_reopen_a_flushed_window() -> None:
    analytics = ClassroomAnalytics(AnalyticsSettings())
    analytics.add([face_event(11, "s1")])
    assert len(analytics.flush().student_windows) == 1
    out = analytics.add([face_event(12, "s1"), face_event(21, "s1")])
    assert out.late_dropped == 1
    assert [w.window_start for w in analytics.flush().student_windows] == [T0 + 20]


def test_a_restored_snapshot_continues_exactly_where_it_stopped() -> None:
    events = [face_event(i / 2, p, yaw=float(i % 7) * 10) for i in range(80) for p in ("s1", "s2")]
    whole = ClassroomAnalytics(AnalyticsSettings())
    expected = whole.add(events).student_windows + whole.close_session("lesson-1").student_windows

    first = ClassroomAnalytics(AnalyticsSettings())
    windows = first.add(events[:77]).student_windows
    second = ClassroomAnalytics(AnalyticsSettings())
    second.restore(first.snapshot())
    windows += second.add(events[77:]).student_windows
    windows += second.close_session("lesson-1").student_windows
    assert windows == expected


def seat_frames(times: list[float], person_id: str) -> list[FaceEventBatch]:
    """Frames at T0 + each of ``times`` in which ``person_id``'s seat moved (no face)."""
    return [
        FaceEventBatch(
            school_id="school-1",
            classroom_id="room-1",
            camera_id="cam-1",
            session_id="lesson-1",
            frame_seq=round(t * 10),
            captured_at=T0 + t,
            faces=(),
            seats_moved=(person_id,),
        )
        for t in times
    ]


def test_a_moving_seat_keeps_a_hidden_student_present_and_unknown() -> None:
    """s1's face is seen for 10 s, then only their seat moves, every second; s2 is seen
    throughout. s1 is never absent and raises no absence alert: present, head unknown."""
    settings = AnalyticsSettings(unseen_unknown_seconds=5)
    analytics = ClassroomAnalytics(settings, emotion=False)
    out = analytics.add([face_event(i, p) for i in range(10) for p in ("s1", "s2")])
    for i in range(10, 60):
        analytics.add_seats(seat_frames([i + 0.5], "s1"))
        out.extend(analytics.add([face_event(i, "s2")]))
    out.extend(analytics.close_session("lesson-1"))
    later = windows_of(out, "s1")[1:]
    assert len(later) == 5 and all(w.presence == 1.0 for w in later)
    assert all(w.band == "unknown" and w.attention is None for w in later)
    assert not [a for a in out.alerts if a.kind == "absent"]
    # Control: the same lesson without the seat: s1 is absent and the alert is raised.
    control = run(
        [face_event(i, p) for i in range(10) for p in ("s1", "s2")]
        + [face_event(i, "s2") for i in range(10, 60)],
        unseen_unknown_seconds=5,
    )
    assert [w.presence for w in windows_of(control, "s1")[2:]] == [0.0] * 4
    assert [a.person_id for a in control.alerts if a.kind == "absent"] == ["s1"]
