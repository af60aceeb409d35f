"""The lesson report: one self-contained HTML file built from the warehouse.

Everything in it comes from SQL over the warehouse tables of one session, so a report
can be rebuilt at any time from what is stored (``write_report``). The page has inline
CSS and inline SVG charts only: no script, no font or image to fetch; it opens offline
and prints.

Sections (their ``id`` in the page): overview, class-concentration, student-heatmap,
expression-mix, alerts, teacher-mix, session-scores, attendance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from classroom import charts
from core.analytics import band
from core.private_files import write_private
from schemas.events import EXPRESSIONS, INTENSITY_CLASSES

if TYPE_CHECKING:
    from core.warehouse import Warehouse

SECTIONS: tuple[str, ...] = (
    "overview",
    "class-concentration",
    "student-heatmap",
    "expression-mix",
    "alerts",
    "teacher-mix",
    "session-scores",
    "attendance",
)

EXPRESSION_COLORS = {
    "angry": "#c62828",
    "disgust": "#6d4c41",
    "fear": "#7b1fa2",
    "happy": "#f9a825",
    "sad": "#1565c0",
    "surprise": "#00897b",
    "neutral": "#78909c",
}

HEATMAP_COLUMNS = 48
"""At most this many heat-map columns: a long lesson's windows are merged in groups."""

ALERT_NAMES = {
    "fatigue": "Fatigue",
    "looking_around": "Looking around",
    "head_rest": "Head resting on the desk",
    "absent": "Absent",
    "class_drop": "Class-wide drop",
}


ROSTER_DOC = "docs/analyze.md, section “Teacher metrics need a roster”"
IDENTITY_OFF_FACT = (
    "off: people are anonymous tracks, and a teacher in view is counted as one of them "
    "(role unknown)"
)
TEACHER_NEEDS_ROSTER = (
    "No teacher metrics: this session ran with identity off, so nobody is known to be the "
    "teacher, and a teacher in view is counted among the anonymous tracks of the other "
    "sections. Teacher metrics need a roster that marks the teacher with "
    "<code>role: teacher</code> and <code>consent: true</code>, and seat or face identity: "
    "<code>classroom analyze VIDEO "
    f"--identity seat --roster roster.yaml</code>. How to write one: {escape(ROSTER_DOC)}."
)
TEACHER_NOT_SEEN = (
    "No teacher was recognised in this session, expression inference was off, or the "
    "teacher's roster entry withholds emotion consent (<code>consent_emotion</code>, "
    "docs/privacy.md). Teachers are recognised by <code>role: teacher</code> in the "
    f"roster (see {escape(ROSTER_DOC)})."
)


class ReportError(RuntimeError):
    """The warehouse holds nothing to report for this session."""


@dataclass(frozen=True)
class Overview:
    session_id: str
    school_id: str
    classroom_id: str
    course: str
    started_at: float
    ended_at: float
    frames: int
    faces: int
    people: int


@dataclass(frozen=True)
class ClassPoint:
    window_start: float
    window_seconds: float
    present: int
    mean: float | None
    p10: float | None
    p90: float | None
    """None (unknown) where no present student's head state was known enough."""
    unknown_share: float = 0.0
    """Mean share of the present students' time with head state unknown."""
    share_unknown: float = 0.0
    """Share of the present students whose window is band unknown (not in the mean)."""
    front_yaw_deg: float | None = None
    front_pitch_deg: float | None = None
    front_source: str = "default"


@dataclass(frozen=True)
class StudentCell:
    person_id: str
    window_start: float
    concentration: float | None
    """None (unknown) when no head state was known in the window (or absent)."""
    presence: float
    band: str = ""
    """``unknown`` when the head state was unknown most of the window."""


@dataclass(frozen=True)
class AlertRow:
    person_id: str
    kind: str
    started_at: float
    raised_at: float
    reason: str


@dataclass(frozen=True)
class TeacherMix:
    person_id: str
    frames: int
    mix: dict[str, float]


@dataclass(frozen=True)
class ScoreRow:
    person_id: str
    role: str
    score: float
    mean_concentration: float | None
    """None (unknown) for an enrolled student never seen."""
    attention_share: float | None
    presence: float
    alerts: int
    explanation: str
    attendance: str | None = None
    """The roll call (present, late, left_early, absent); None without a roster."""
    first_seen_at: float | None = None
    last_seen_at: float | None = None
    minutes_present: float | None = None
    frames_seen: int | None = None
    identity_source: str | None = None


@dataclass(frozen=True)
class ExpressionReadings:
    """How surely one student's expressions were read."""

    mean_confidence: float | None
    """Mean top probability of the faces given an expression; None when none was."""
    faces: int
    unread: int
    """Faces given no expression: too small to read (``vision.expression_min_face_px``)."""


@dataclass
class ReportData:
    overview: Overview
    class_points: list[ClassPoint]
    student_cells: list[StudentCell]
    expression_mix: dict[str, dict[str, float]]
    """Per student: frames observed per expression; empty when emotion was off."""
    alerts: list[AlertRow]
    teacher_mixes: list[TeacherMix]
    scores: list[ScoreRow]
    notes: list[str] = field(default_factory=list)
    anonymous: bool = False
    """Every face was an anonymous track: identity was off (or the roster named nobody in
    view), so no one is known as the teacher and a teacher in view counts as a person."""
    expression_readings: dict[str, ExpressionReadings] = field(default_factory=dict)
    """Per student, the confidence of the expressions in ``expression_mix``."""
    emotion_withheld: list[str] = field(default_factory=list)
    """Enrolled students of the classroom whose roster entry (as ``v_roster`` holds it now)
    withholds emotion consent: no expression was inferred for them."""


# -- reading the warehouse ----------------------------------------------------------------


Rows = Callable[[str], Sequence[Sequence]]
"""Runs one SQL query with the ``{session:String}`` parameter bound; its rows."""


def load_report_data(warehouse: Warehouse, session_id: str) -> ReportData:
    """Every number of the report, by SQL over the warehouse tables of one session."""

    def rows(sql: str) -> Sequence[Sequence]:
        return warehouse.query(sql, {"session": session_id}).result_rows

    overview, anonymous = _load_overview(rows, session_id)
    class_points = [
        ClassPoint(*row)
        for row in rows(
            """
            SELECT toFloat64(window_start), window_seconds, students_present, concentration_mean,
                   concentration_p10, concentration_p90, unknown_share, share_unknown,
                   front_yaw_deg, front_pitch_deg, front_source
            FROM class_windows FINAL WHERE session_id = {session:String}
            ORDER BY window_start
            """
        )
    ]
    student_cells, expression_mix = _load_students(rows)
    alerts = [
        AlertRow(*row)
        for row in rows(
            """
            SELECT person_id, kind, toFloat64(started_at), toFloat64(raised_at), reason
            FROM alerts FINAL WHERE session_id = {session:String}
            ORDER BY started_at, person_id
            """
        )
    ]
    teacher_mixes = [
        TeacherMix(person, frames, dict(zip(INTENSITY_CLASSES, shares, strict=True)))
        for person, frames, *shares in rows(
            f"""
            SELECT person_id, frames, {", ".join(INTENSITY_CLASSES)}
            FROM teacher_expression_mix FINAL
            WHERE session_id = {{session:String}} ORDER BY person_id
            """
        )
    ]
    return ReportData(
        overview,
        class_points,
        student_cells,
        expression_mix,
        alerts,
        teacher_mixes,
        _load_scores(rows),
        anonymous=anonymous,
        expression_readings=_load_expression_readings(rows),
        emotion_withheld=[person for (person,) in rows(EMOTION_WITHHELD_SQL)],
    )


EMOTION_WITHHELD_SQL = """
    SELECT person_id FROM v_roster
    WHERE classroom_id IN (SELECT classroom_id FROM session_scores
                           WHERE session_id = {session:String})
      AND role = 'student' AND NOT consent_emotion
    ORDER BY person_id
"""


def _load_scores(rows: Rows) -> list[ScoreRow]:
    """Every session score, with the roll call of enrolled students (absent ones too)."""
    return [
        ScoreRow(*row)
        for row in rows(
            """
            SELECT person_id, role, score, mean_concentration, attention_share, presence,
                   alerts, explanation, attendance, toFloat64(first_seen_at),
                   toFloat64(last_seen_at), minutes_present, frames_seen, identity_source
            FROM session_scores FINAL WHERE session_id = {session:String}
            ORDER BY score DESC, person_id
            """
        )
    ]


def _load_overview(rows: Rows, session_id: str) -> tuple[Overview, bool]:
    """The session's overview, and whether every face was an anonymous track."""
    [(school, classroom, course, started, ended, frames, faces, people, identified)] = rows(
        """
        SELECT any(school_id), any(classroom_id), any(course),
               toFloat64(min(captured_at)), toFloat64(max(captured_at)),
               uniqExact(camera_id, frame_seq), count(), uniqExact(person_id),
               countIf(identity_source != 'track')
        FROM face_events FINAL WHERE session_id = {session:String}
        """
    )
    if not faces:
        raise ReportError(f"the warehouse holds no face events of session {session_id!r}")
    overview = Overview(
        session_id, school, classroom, course, started, ended, frames, faces, people
    )
    return overview, identified == 0


def _load_students(rows: Rows) -> tuple[list[StudentCell], dict[str, dict[str, float]]]:
    """Heat-map cells, and per student the frames observed per expression."""
    student_cells: list[StudentCell] = []
    expression_mix: dict[str, dict[str, float]] = {}
    for person, start, concentration, presence, band_name, frames_seen, mix in rows(
        """
        SELECT person_id, toFloat64(window_start), concentration, presence, band,
               frames_seen, expression_mix
        FROM student_windows FINAL
        WHERE session_id = {session:String} AND role != 'teacher'
        ORDER BY person_id, window_start
        """
    ):
        student_cells.append(StudentCell(person, start, concentration, presence, band_name))
        if frames_seen and mix:  # each window's mix weighted by the frames it saw
            totals = expression_mix.setdefault(person, dict.fromkeys(EXPRESSIONS, 0.0))
            for label, share in mix.items():
                totals[label] = totals.get(label, 0.0) + share * frames_seen
    return student_cells, expression_mix


def _load_expression_readings(rows: Rows) -> dict[str, ExpressionReadings]:
    """Per student, the mean confidence of their expression labels (NULL: none had one)
    and how many faces were left without one."""
    return {
        person: ExpressionReadings(confidence, faces, unread)
        for person, confidence, faces, unread in rows(
            """
            SELECT person_id, avg(expression_confidence), count(),
                   countIf(expression_label IS NULL)
            FROM face_events FINAL
            WHERE session_id = {session:String} AND role != 'teacher'
            GROUP BY person_id
            """
        )
    }


# -- rendering ----------------------------------------------------------------------------


def render_report(data: ReportData) -> str:
    """The report page for ``data``; pure, so it is tested without a warehouse."""
    sections = [
        _overview(data),
        _class_concentration(data),
        _student_heatmap(data),
        _expression_mix(data),
        _alerts(data),
        _teacher_mix(data),
        _session_scores(data),
        _attendance(data),
    ]
    template = Template(resources.files("classroom.templates").joinpath("report.html").read_text())
    return template.substitute(
        title=escape(f"Lesson report: {data.overview.classroom_id} {data.overview.session_id}"),
        sections="\n".join(sections),
        generated=_clock(datetime.now(UTC).timestamp()),
    )


def write_report(
    warehouse: Warehouse, session_id: str, path: Path, *, notes: Sequence[str] = ()
) -> Path:
    """Build the report of ``session_id`` and write it to ``path`` atomically and
    owner-only (it names students): a reader (or a crash) never sees a half-written file,
    and an older report stays until then."""
    data = load_report_data(warehouse, session_id)
    data.notes = list(notes)
    write_private(path, render_report(data).encode("utf-8"))
    return path


def _section(section_id: str, title: str, how_to_read: str, body: str) -> str:
    return (
        f"<section id='{section_id}'><h2>{escape(title)}</h2>"
        f"<p class='hint'>{escape(how_to_read)}</p>{body}</section>"
    )


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _window_clock(epoch: float) -> str:
    """A window's real start, ``08:15:10``: windows are aligned to the clock, so the first
    one usually starts before the lesson, and a lesson time would read 0:00 for it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def _lesson_time(epoch: float, started: float) -> str:
    return charts.lesson_clock(epoch - started)


def _person(person_id: str) -> str:
    """Anonymous tracks read ``cam-1/t3``; shown as ``track 3 (cam-1)``."""
    camera, _, track = person_id.rpartition("/t")
    if camera and track.isdigit():
        return f"track {track} ({camera})"
    return person_id


def _overview(data: ReportData) -> str:
    o = data.overview
    emotion = "on" if data.expression_mix else "off (by policy, or no expression was read)"
    facts = [
        ("Session", o.session_id),
        ("School / classroom", f"{o.school_id} / {o.classroom_id}"),
        ("Course", o.course or "not given"),
        ("Recorded", f"{_clock(o.started_at)} to {_clock(o.ended_at)}"),
        ("Duration", _lesson_time(o.ended_at, o.started_at) + " min:s"),
        ("Frames with faces", str(o.frames)),
        ("Faces read", str(o.faces)),
        ("Face tracks", str(o.people)),
        ("Alerts", str(len(data.alerts))),
        ("Expression inference", emotion),
        ("Identity", IDENTITY_OFF_FACT if data.anonymous else "from the roster (seat or face)"),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    notes = "".join(f"<p class='note'>{escape(note)}</p>" for note in data.notes)
    return _section(
        "overview",
        "Overview",
        "Raw video frames are not stored; only the numbers below were kept.",
        f"{notes}<table class='facts'>{rows}</table>",
    )


def _class_concentration(data: ReportData) -> str:
    hint = (
        "Mean concentration of the class (0-100) per window; the shaded band holds the "
        "middle 80% of students. Above 65 is high engagement, below 25 low."
    )
    if not data.class_points:
        return _section(
            "class-concentration",
            "Class concentration over time",
            hint,
            "<p class='empty'>No class window was closed.</p>",
        )
    hint = f"{hint} {_head_state_note(data.class_points)}"
    # A window without a known class concentration (nobody present, or every present
    # student mostly unknown) has no mean to draw: it is left out, not drawn at 0.
    points = [_KnownPoint.of(p) for p in data.class_points if p.mean is not None]
    if not points:
        return _section(
            "class-concentration",
            "Class concentration over time",
            hint,
            "<p class='empty'>No window had enough known head states for a mean.</p>",
        )
    # Windows are aligned to the clock, so the first and last may stick out of the lesson:
    # each point sits in the middle of the part of its window that lies within it.
    started, ended = data.overview.started_at, data.overview.ended_at
    times = [
        (max(p.start, started) + min(p.start + p.seconds, ended)) / 2 - started for p in points
    ]
    chart = charts.concentration_over_time(
        times,
        [p.mean for p in points],
        [p.p10 for p in points],
        [p.p90 for p in points],
        duration=ended - started,
    )
    return _section(
        "class-concentration", "Class concentration over time", hint, f"<figure>{chart}</figure>"
    )


@dataclass(frozen=True)
class _KnownPoint:
    """A class window with its concentration known, as the chart draws it."""

    start: float
    seconds: float
    mean: float
    p10: float
    p90: float

    @classmethod
    def of(cls, point: ClassPoint) -> _KnownPoint:
        assert point.mean is not None and point.p10 is not None and point.p90 is not None
        return cls(point.window_start, point.window_seconds, point.mean, point.p10, point.p90)


def _head_state_note(points: list[ClassPoint]) -> str:
    """How much of the time was unknown, and the front the head states were measured from
    (docs/metrics.md, "Head states")."""
    weights = [p.present for p in points]
    unknown = sum(p.unknown_share * w for p, w in zip(points, weights, strict=True))
    note = (
        f"Head state unknown (face too small or unseen for a moment) in "
        f"{unknown / max(sum(weights), 1):.0%} of the present students' time; the mean "
        "leaves out students mostly unknown in a window."
    )
    last = points[-1]
    if last.front_yaw_deg is None or last.front_pitch_deg is None:
        return f"{note} Front: the camera's axis (not learned yet: too few readable faces)."
    return (
        f"{note} Front ({last.front_source}): yaw {last.front_yaw_deg:.0f}°, "
        f"pitch {last.front_pitch_deg:.0f}°."
    )


def _student_heatmap(data: ReportData) -> str:
    hint = (
        "One row per student, one column per window: the concentration index and its band "
        "(H high > 65, N nominal 25-65, L low < 25). Grey: not in view, or head state "
        "unknown most of the window (too little seen to tell)."
    )
    if not data.student_cells:
        return _section(
            "student-heatmap",
            "Concentration per student",
            hint,
            "<p class='empty'>No student window was closed.</p>",
        )
    starts = sorted({cell.window_start for cell in data.student_cells})
    group = -(-len(starts) // HEATMAP_COLUMNS)  # windows per column, rounded up
    hint += " Each column is headed by the clock time (UTC) its window starts."
    if group > 1:
        hint += f" Each column merges {group} windows (their mean)."
    column = {start: j // group for j, start in enumerate(starts)}
    people = sorted({cell.person_id for cell in data.student_cells}, key=_natural)
    row = {person: i for i, person in enumerate(people)}
    values: list[list[list[float]]] = [[[] for _ in starts[::group]] for _ in people]
    for cell in data.student_cells:
        if cell.presence > 0 and cell.band != "unknown" and cell.concentration is not None:
            values[row[cell.person_id]][column[cell.window_start]].append(cell.concentration)
    cells = [
        [(sum(v) / len(v), band(sum(v) / len(v))) if v else None for v in person_values]
        for person_values in values
    ]
    chart = charts.student_heatmap(
        [_person(p) for p in people],
        [_window_clock(s) for s in starts[::group]],
        cells,
    )
    return _section(
        "student-heatmap", "Concentration per student", hint, f"<figure>{chart}</figure>"
    )


def _expression_mix(data: ReportData) -> str:
    hint = "Share of each student's observed frames showing each facial expression."
    if not data.expression_mix:
        return _section(
            "expression-mix",
            "Expression mix",
            hint,
            "<p class='empty'>Expression inference was off for this session (policy "
            "<code>emotion=off</code>): no expression was read or stored.</p>",
        )
    people = sorted(data.expression_mix, key=_natural)
    chart = charts.stacked_bars(
        [_person(p) for p in people],
        EXPRESSIONS,
        [[data.expression_mix[p].get(e, 0.0) for e in EXPRESSIONS] for p in people],
        [EXPRESSION_COLORS[e] for e in EXPRESSIONS],
        label="expression mix per student",
    )
    body = f"<figure>{chart}</figure>{_expression_readings(data, people)}"
    return _section("expression-mix", "Expression mix", hint, body + _emotion_withheld(data))


def _emotion_withheld(data: ReportData) -> str:
    """Who is missing from the expression mix by their own choice, so nobody reads a
    missing bar as a fault."""
    if not data.emotion_withheld:
        return ""
    names = ", ".join(escape(_person(p)) for p in sorted(data.emotion_withheld, key=_natural))
    return (
        f"<p class='withheld'>No expression is inferred for {names}: their roster entry "
        "withholds emotion consent (<code>consent_emotion: false</code>).</p>"
    )


def _expression_readings(data: ReportData, people: list[str]) -> str:
    """The table of how surely each student's expressions were read."""
    rows = "".join(
        f"<tr><td>{escape(_person(p))}</td><td>{_confidence(r.mean_confidence)}</td>"
        f"<td>{r.unread} of {r.faces}</td></tr>"
        for p in people
        if (r := data.expression_readings.get(p)) is not None
    )
    if not rows:
        return ""
    return (
        "<p>Confidence: the model's probability of the expression it read (1/7 is a "
        "guess, 1 is certain), averaged over the student's faces. Faces too small to read "
        "get no expression, and count in no share above.</p>"
        "<table class='rows'><thead><tr><th>Student</th><th>Mean confidence</th>"
        f"<th>Faces too small to read</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _confidence(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def _alerts(data: ReportData) -> str:
    hint = "One line per episode, at the time it started (lesson time and clock)."
    if not data.alerts:
        return _section("alerts", "Alerts", hint, "<p class='empty'>No alert in this session.</p>")
    started = data.overview.started_at
    rows = "".join(
        f"<tr><td>{_lesson_time(a.started_at, started)}</td><td>{escape(_clock(a.started_at))}"
        f"</td><td>{escape(_person(a.person_id) or 'whole class')}</td>"
        f"<td class='kind {escape(a.kind)}'>{escape(ALERT_NAMES.get(a.kind, a.kind))}</td>"
        f"<td>{escape(a.reason)}</td></tr>"
        for a in data.alerts
    )
    table = (
        "<table class='rows'><thead><tr><th>Lesson time</th><th>Clock</th><th>Who</th>"
        f"<th>Alert</th><th>Why</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _section("alerts", "Alerts", hint, table)


def _teacher_mix(data: ReportData) -> str:
    hint = (
        "Per teacher: share of observed frames in each of 13 expression intensities "
        "(neutral, and weak or strong for the six others)."
    )
    if not data.teacher_mixes:
        why = TEACHER_NEEDS_ROSTER if data.anonymous else TEACHER_NOT_SEEN
        return _section(
            "teacher-mix", "Teacher expression mix", hint, f"<p class='empty'>{why}</p>"
        )
    figures = "".join(
        f"<h3>{escape(_person(mix.person_id))} <small>({mix.frames} frames)</small></h3>"
        + charts.bar_chart(
            [c.replace("_", " ") for c in INTENSITY_CLASSES],
            [mix.mix.get(c, 0.0) for c in INTENSITY_CLASSES],
            "#5e35b1",
            label=f"expression intensity mix of {mix.person_id}",
        )
        for mix in data.teacher_mixes
    )
    return _section("teacher-mix", "Teacher expression mix", hint, f"<figure>{figures}</figure>")


def _session_scores(data: ReportData) -> str:
    hint = (
        "One score per person for the whole session (0-100), with how it was reached. "
        "Use it as one input to grading, next to what you saw in class."
    )
    if data.anonymous:
        hint += " " + IDENTITY_OFF_FACT[0].upper() + IDENTITY_OFF_FACT[1:] + "."
    if not data.scores:
        return _section(
            "session-scores",
            "Session scores",
            hint,
            "<p class='empty'>No session score was computed.</p>",
        )
    rows = "".join(
        f"<tr><td>{escape(_person(s.person_id))}</td><td>{escape(s.role)}</td>"
        f"<td class='num'>{s.score:.0f} {charts.score_bar(s.score, band(s.score))}</td>"
        f"<td class='num'>{_unknown_or(s.mean_concentration, '.0f')}</td>"
        f"<td class='num'>{_unknown_or(s.attention_share, '.0%')}</td>"
        f"<td class='num'>{s.presence:.0%}</td>"
        f"<td class='num'>{s.alerts}</td><td>{escape(s.explanation)}</td></tr>"
        for s in data.scores
    )
    table = (
        "<table class='rows'><thead><tr><th>Person</th><th>Role</th><th>Score</th>"
        "<th>Mean concentration</th><th>Attention</th><th>Presence</th><th>Alerts</th>"
        f"<th>How the score was reached</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _section("session-scores", "Session scores", hint, table)


def _natural(person_id: str) -> tuple[str, int, str]:
    """Sort ``cam-1/t2`` before ``cam-1/t10``."""
    camera, _, track = person_id.rpartition("/t")
    if camera and track.isdigit():
        return (camera, int(track), "")
    return (person_id, -1, person_id)


def _unknown_or(value: float | None, spec: str) -> str:
    return "unknown" if value is None else format(value, spec)


ATTENDANCE_NAMES = {
    "present": "present",
    "late": "late",
    "left_early": "left early",
    "absent": "absent",
}


def _attendance(data: ReportData) -> str:
    """The roll call of every enrolled student (v_attendance), absent ones included."""
    roll = [s for s in data.scores if s.attendance is not None]
    hint = (
        "Every student on the roster: present, late (first seen after "
        "analytics.late_after_minutes), left early (not seen in the last "
        "analytics.left_early_minutes) or absent (never seen), with the evidence."
    )
    if not roll:
        return _section(
            "attendance",
            "Attendance",
            hint,
            "<p class='empty'>No roll call: this session ran without a roster, or with "
            "identity off, so nobody could be recognised as present or absent "
            "(<code>classroom analyze VIDEO --identity seat --roster roster.yaml</code>; "
            "see docs/deploy.md, section “Enrolling a roster and seat maps”).</p>",
        )
    counts = {name: sum(1 for s in roll if s.attendance == name) for name in ATTENDANCE_NAMES}
    summary = ", ".join(f"{n} {ATTENDANCE_NAMES[name]}" for name, n in counts.items() if n)
    rows = "".join(
        f"<tr class='attendance-{escape(s.attendance or '')}'>"
        f"<td>{escape(_person(s.person_id))}</td>"
        f"<td>{escape(ATTENDANCE_NAMES.get(s.attendance or '', s.attendance or ''))}</td>"
        f"<td>{_clock(s.first_seen_at) if s.first_seen_at is not None else '–'}</td>"
        f"<td>{_clock(s.last_seen_at) if s.last_seen_at is not None else '–'}</td>"
        f"<td class='num'>{s.minutes_present or 0:.1f}</td>"
        f"<td class='num'>{s.frames_seen or 0}</td>"
        f"<td>{escape(s.identity_source or '–')}</td></tr>"
        for s in sorted(roll, key=lambda s: s.person_id)
    )
    table = (
        f"<p class='summary'>{escape(summary)} of {len(roll)} enrolled.</p>"
        "<table class='rows'><thead><tr><th>Student</th><th>Attendance</th>"
        "<th>First seen</th><th>Last seen</th><th>Minutes present</th><th>Frames seen</th>"
        f"<th>Identified by</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _section("attendance", "Attendance", hint, table)
