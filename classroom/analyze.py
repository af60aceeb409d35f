"""``classroom analyze SOURCE``: a lesson video or camera to stored metrics and a report.

Runs capture, inference, analytics and storage in this one process (see
``classroom.pipeline``) into the embedded warehouse, then writes a self-contained HTML
report built from that warehouse. Exit codes: 0 done (also after Ctrl-C, which stops
cleanly and keeps what was analysed); 1 a stage failed, or storage failed for good (the run
stops within seconds; rows stored before are kept, no report); 2 bad input (source missing
or unreadable, a still image, no faces found), nothing stored; 3 the video ends early
(truncated or corrupt): what could be read is stored and reported, with a warning; 130
aborted (Ctrl-C while loading, or a second Ctrl-C): rows stored so far are kept, no report.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

import click
import cv2
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from classroom.pipeline import EmbeddedPipeline, PipelineError, SessionInfo
from classroom.report import ReportError, write_report
from classroom.report_cli import default_report_path, safe_file_name
from core.capture import SourceError, is_live, open_source
from core.roster import Roster, RosterError, load_roster
from core.warehouse import Warehouse, WarehouseError
from schemas.settings import Settings, load_settings
from workers.warehouse_options import warehouse_options, with_warehouse

if TYPE_CHECKING:
    from classroom.annotate import VideoAnnotator

DEFAULT_SAMPLE_FPS = 10.0
"""Blinks last 100-400 ms, so the eye metrics need about 10 samples a second; every other
metric (presence, attention, expression) is fine at 5. See docs/analyze.md."""

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_TRUNCATED = 3
EXIT_ABORTED = 130

console = Console(stderr=True, soft_wrap=True)  # messages stay whole for logs and greps
PROGRESS_BAR_MIN_WIDTH = 110
"""Narrower terminals get progress lines: the bar's columns would be cut to ellipses."""
PROGRESS_LINE_SECONDS = 5.0


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class OneLineFormatter(logging.Formatter):
    """A log record as one line: an exception adds its type and message, and its traceback
    only with ``CLASSROOM_DEBUG=1``, so a failing stage reads as a reason, not a dump."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info is None or os.environ.get("CLASSROOM_DEBUG") == "1":
            return super().format(record)
        exc = record.exc_info[1]
        line = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return f"{super().format(line)}: {type(exc).__name__}: {exc}"


def _log_to_console() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


@click.command()
@click.argument("source")
@warehouse_options
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML report [default: DATA_DIR/reports/SESSION.html].",
)
@click.option(
    "--annotate",
    "annotate_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an annotated video (MP4) with boxes, ids and labels.",
)
@click.option(
    "--sample-fps",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_SAMPLE_FPS,
    show_default=True,
    help="Frames analysed per second of video. Below 7, blink counts are unknown (NULL).",
)
@click.option("--emotion", type=click.Choice(["on", "off"]), help="Expression inference.")
@click.option(
    "--identity", type=click.Choice(["off", "seat", "face"]), help="How faces become students."
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Roster YAML (students, roles, seats, consent).",
)
@click.option("--school", "school_id", help="School id [default: from settings].")
@click.option("--classroom", "classroom_id", help="Classroom id [default: from settings].")
@click.option("--camera", "camera_id", help="Camera id [default: from settings].")
@click.option("--course", help="Course name, e.g. maths.")
@click.option("--session", "session_id", help="Session id [default: SOURCE name + start time].")
@click.option(
    "--start-time",
    type=datetime.fromisoformat,
    help="When a video file was recorded, ISO 8601 (no zone = UTC) [default: now].",
)
def analyze(
    source: str,
    data_dir: Path | None,
    dsn: str | None,
    report_path: Path | None,
    annotate_path: Path | None,
    sample_fps: float,
    emotion: str | None,
    identity: str | None,
    roster: Path | None,
    school_id: str | None,
    classroom_id: str | None,
    camera_id: str | None,
    course: str | None,
    session_id: str | None,
    start_time: datetime | None,
) -> None:
    """Analyse a lesson video file, camera index or RTSP/HTTP URL on this machine.

    Prints progress on standard error and, as the last line of standard output, the path
    of the HTML report. A still image is refused: a lesson is measured over time (see
    `classroom faces PHOTO` for the faces of one photo).
    """
    _log_to_console()
    settings = with_warehouse(load_settings(), data_dir, dsn)
    settings = _with_overrides(settings, emotion, identity, roster)
    if settings.policy.identity != "off" and settings.policy.roster_path is None:
        raise click.UsageError(f"--identity {settings.policy.identity} needs --roster FILE")
    started = _start_time(source, start_time)
    camera = settings.camera
    session = SessionInfo(
        school_id=school_id or camera.school_id,
        classroom_id=classroom_id or camera.classroom_id,
        camera_id=camera_id or camera.camera_id,
        session_id=session_id or default_session_id(source, started),
        course=course if course is not None else camera.course,
    )
    expected_seconds = _check_source(source)
    roster = _load_roster(settings.policy.roster_path, source, session)
    report_path = report_path or default_report_path(settings, session.session_id)
    run = Run(settings, source, session, roster, sample_fps, started, expected_seconds)
    try:
        run.execute(report_path, annotate_path)
    except (WarehouseError, ReportError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        console.print("[red]aborted[/]: rows stored so far are kept; no report was written")
        sys.exit(EXIT_ABORTED)


class ProgressDisplay(Protocol):
    def __enter__(self) -> object: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def update(self, frames: int, faces: int, elapsed: float, *, done: bool) -> None: ...


class ProgressBar:
    """A live bar, for a terminal wide enough to show it whole."""

    def __init__(self, description: str, total: int | None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("frames · {task.fields[faces]} faces · {task.fields[fps]:.1f} frames/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(description, total=total, faces=0, fps=0.0)

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def update(self, frames: int, faces: int, elapsed: float, *, done: bool) -> None:
        self.progress.update(self.task, completed=frames, faces=faces, fps=frames / elapsed)
        if done:  # the total was an estimate from the header: end the bar full
            self.progress.update(self.task, total=frames)


class ProgressLines:
    """Plain progress lines, for logs, pipes and narrow terminals, where a redrawn bar
    would be cut to ``━━ 1… frames … ETA 0:0…``: one once the first frames are analysed
    (so even a short run shows one), then one every ``PROGRESS_LINE_SECONDS``."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.next_line_at = 0.0

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, frames: int, faces: int, elapsed: float, *, done: bool) -> None:
        if done or frames == 0 or elapsed < self.next_line_at:  # a summary follows when done
            return
        self.next_line_at = elapsed + PROGRESS_LINE_SECONDS
        rate = frames / elapsed
        line = f"progress: {frames}"
        if self.total:
            line += f" of ~{self.total}"
        line += f" frames, {faces} faces, {rate:.1f} frames/s, {elapsed:.0f} s"
        if self.total and rate > 0:
            line += f", about {max(self.total - frames, 0) / rate:.0f} s left"
        console.print(line, highlight=False)


class Run:
    """One ``analyze`` run: build the stages, show progress, report, pick the exit code."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        session: SessionInfo,
        roster: Roster | None,
        sample_fps: float,
        started: float,
        expected_seconds: float | None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.session = session
        self.roster = roster
        self.sample_fps = sample_fps
        self.started = started
        self.expected_seconds = expected_seconds
        self.pipeline_seconds = 0.0

    def execute(self, report_path: Path, annotate_path: Path | None) -> None:
        # torch: loaded once the source and roster are known good (bad input: told at once)
        from classroom.roster_cli import store_roster
        from core.vision import VisionEngine

        settings = self.settings
        with console.status("loading models and opening the warehouse"):
            engine = VisionEngine.from_settings(settings.vision, settings.policy, self.roster)
            warehouse = Warehouse.connect(settings.warehouse)
        try:
            warehouse.migrate()
            emotion = settings.policy.emotion == "on"
            annotator = self._annotator(annotate_path)
            pipeline = EmbeddedPipeline(
                source=self.source,
                sample_fps=self.sample_fps,
                start_time=self.started,
                session=self.session,
                engine=engine,
                analytics=settings.analytics,
                emotion=emotion,
                warehouse=warehouse,
                batch_size=settings.infer.batch_size,
                live_buffer_frames=settings.camera.buffer_frames,
                storage_batch_rows=settings.sink.batch_rows,
                storage_max_wait_s=settings.sink.max_wait_s,
                service=settings.service,
                observer=annotator,
                # With identity off nobody is recognised: no roll (it would say all absent).
                roster=self.roster if settings.policy.identity != "off" else None,
            )
            if self.roster is not None:
                store_roster(
                    warehouse, self.roster, self.session.school_id, self.session.classroom_id
                )
            try:
                self._run_with_progress(pipeline)
            except PipelineError as exc:
                self._report_failure(pipeline, exc)
                sys.exit(EXIT_FAILED)
            finally:
                if annotator is not None:
                    annotator.close()
            stats = pipeline.stats
            if stats.faces == 0:
                raise BadInput(self._no_faces_message(stats.frames_analysed))
            notes = self._notes(pipeline)
            write_report(warehouse, self.session.session_id, report_path, notes=notes)
        finally:
            warehouse.close()
        self._print_summary(pipeline, report_path, annotate_path)
        if self._truncated(pipeline):
            console.print(f"[red]error:[/] {self._truncation_note(pipeline)}")
            sys.exit(EXIT_TRUNCATED)

    def _annotator(self, annotate_path: Path | None) -> VideoAnnotator | None:
        if annotate_path is None:
            return None
        from classroom.annotate import VideoAnnotator  # scipy: only with --annotate

        analytics = self.settings.analytics
        return VideoAnnotator(
            annotate_path,
            fps=self.sample_fps,
            front_yaw_deg=analytics.front_yaw_limit_deg,
            front_pitch_deg=analytics.front_pitch_limit_deg,
        )

    def _print_summary(
        self, pipeline: EmbeddedPipeline, report_path: Path, annotate_path: Path | None
    ) -> None:
        stats, seconds = pipeline.stats, self.pipeline_seconds
        printed = f" ({stats.printed_tracks} printed, left out)" if stats.printed_tracks else ""
        console.print(
            f"analysed {stats.frames_analysed} frames, {stats.faces} faces{printed} in "
            f"{seconds:.1f} s "
            f"({stats.frames_analysed / seconds:.2f} frames/s, {stats.faces / seconds:.1f} "
            f"faces/s); {stats.rows_stored} rows of session [bold]{self.session.session_id}[/] "
            f"stored in {self.settings.warehouse.dsn}"
        )
        if annotate_path is not None:
            console.print(f"annotated video: {annotate_path}")
        console.print(f"report: [bold]{report_path}[/]")
        click.echo(str(report_path))  # the last line of stdout, for scripts

    def _run_with_progress(self, pipeline: EmbeddedPipeline) -> None:
        total = None
        if self.expected_seconds is not None:
            total = int(self.expected_seconds * self.sample_fps) + 1
        if console.is_terminal and console.width >= PROGRESS_BAR_MIN_WIDTH:
            progress: ProgressDisplay = ProgressBar(self.session.session_id, total)
        else:
            progress = ProgressLines(total)

        def request_stop(signum: int, _frame: object) -> None:
            if pipeline.stopping:  # a second Ctrl-C: give up on a clean stop
                raise KeyboardInterrupt
            console.print("stopping: finishing the analysed frames and writing the report")
            pipeline.stop()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            with progress:
                console.print(f"analysing {self.source} as session {self.session.session_id}")
                pipeline.start()
                while True:
                    done = pipeline.wait(timeout=0.25)
                    stats = pipeline.stats
                    elapsed = max(time.monotonic() - stats.started_monotonic, 1e-6)
                    progress.update(stats.frames_analysed, stats.faces, elapsed, done=done)
                    if done:
                        self.pipeline_seconds = elapsed
                        break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _no_faces_message(self, frames_analysed: int) -> str:
        if frames_analysed == 0:
            return f"no frame could be read from {self.source}: nothing was analysed or stored"
        return (
            f"no faces found in the {frames_analysed} frames analysed of {self.source}: "
            "nothing to report. Check that the camera sees the pupils' faces; faces smaller "
            f"than {self.settings.vision.min_face_px} px are not looked for "
            "(CLASSROOM_VISION__MIN_FACE_PX)."
        )

    def _report_failure(self, pipeline: EmbeddedPipeline, exc: PipelineError) -> None:
        stored = pipeline.stats.rows_stored
        if pipeline.storage_failure is not None:
            console.print(
                f"[red]error:[/] storage failed, analysis stopped: {pipeline.storage_failure}"
            )
            in_doubt = pipeline.stats.rows_in_doubt
            console.print(
                f"the {stored} rows stored before the failure are kept; the {in_doubt} rows "
                "being inserted when it failed may or may not have been stored; "
                "no report was written"
            )
        else:
            console.print(f"[red]error:[/] analysis failed: {exc}")
            console.print(f"what was analysed before the failure is stored ({stored} rows)")

    def _truncated(self, pipeline: EmbeddedPipeline) -> bool:
        last = pipeline.stats.last_captured_at
        if pipeline.stopping or self.expected_seconds is None or last is None:
            return False
        # The last sampled frame lies within one sampling interval of the end.
        return last - self.started < self.expected_seconds - 1.0 / self.sample_fps - 0.5

    def _truncation_note(self, pipeline: EmbeddedPipeline) -> str:
        read = (pipeline.stats.last_captured_at or self.started) - self.started
        return (
            f"{self.source} ends after {read:.1f} s of the {self.expected_seconds:.1f} s its "
            "header announces: the file is truncated or corrupt. The part that could be read "
            "was analysed, stored and reported."
        )

    def _notes(self, pipeline: EmbeddedPipeline) -> list[str]:
        stats = pipeline.stats
        notes = []
        if self._truncated(pipeline):
            notes.append(self._truncation_note(pipeline))
        elif pipeline.stopping and not is_live(self.source):
            notes.append(
                "The analysis was stopped before the end of the video "
                f"({stats.frames_skipped} frames already read were left unanalysed)."
            )
        if stats.frames_dropped:
            notes.append(
                f"{stats.frames_dropped} camera frames were dropped because analysis could "
                "not keep up; lower --sample-fps for complete eye metrics."
            )
        if stats.frame_errors:
            notes.append(f"{stats.frame_errors} frames could not be analysed (see the log).")
        if stats.rows_refused:
            notes.append(
                f"{stats.rows_refused} rows were refused by the warehouse and are missing "
                f"from this report; the last reason: {pipeline.last_refusal}"
            )
        if stats.printed_tracks:
            notes.append(
                f"{stats.printed_tracks} face tracks were judged printed (a poster, a photo, "
                "a screen) and left out of every count."
            )
        if stats.rejected:
            notes.append(f"{stats.rejected} face observations were invalid and left out.")
        if stats.late_dropped:
            notes.append(f"{stats.late_dropped} face observations arrived too late to count.")
        return notes


def _with_overrides(
    settings: Settings,
    emotion: str | None,
    identity: str | None,
    roster: Path | None,
) -> Settings:
    policy_changes: dict[str, object] = {}
    if emotion is not None:
        policy_changes["emotion"] = emotion
    if identity is not None:
        policy_changes["identity"] = identity
    if roster is not None:
        policy_changes["roster_path"] = roster
    return settings.model_copy(update={"policy": settings.policy.model_copy(update=policy_changes)})


def _start_time(source: str, given: datetime | None) -> float:
    if given is None:
        return time.time()
    if is_live(source):
        raise click.UsageError("--start-time applies to video files; a camera uses the clock")
    if given.tzinfo is None:
        given = given.replace(tzinfo=UTC)
    return given.timestamp()


def _check_source(source: str) -> float | None:
    """Fail early on a source that cannot be read; the length of a file in seconds."""
    try:
        capture = open_source(source)
    except SourceError as exc:
        raise BadInput(str(exc)) from exc
    try:
        if is_live(source):
            return None
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if frames == 1:  # OpenCV opens a photo as a one-frame video
        raise BadInput(
            f"{source} is a still image: classroom analyze needs a video file, camera index "
            f"or stream URL, since a lesson is measured over time. For the faces of one "
            f"photo, run: classroom faces {source}"
        )
    return frames / fps if frames > 0 and fps > 0 else None


def _load_roster(path: Path | None, source: str, session: SessionInfo) -> Roster | None:
    """The roster, checked before any frame is read: its seats must be on this session's
    camera (or one the file lists) and inside the video's frame, and it must be the roll
    of this classroom."""
    if path is None:
        return None
    try:
        roster = load_roster(path)
        roster.check_cameras({session.camera_id: _frame_size(source)})
    except RosterError as exc:
        raise BadInput(str(exc)) from exc
    if not roster.covers(session.classroom_id):
        raise BadInput(
            f"{path} is the roster of classroom {roster.classroom_id!r}, not of "
            f"{session.classroom_id!r}: give --classroom {roster.classroom_id}"
        )
    return roster


def _frame_size(source: str) -> tuple[int, int] | None:
    """Width and height of a video file's frames; None for a live source (not opened
    twice) or when the header does not say."""
    if is_live(source):
        return None
    capture = open_source(source)
    try:
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    return (width, height) if width > 0 and height > 0 else None


def default_session_id(source: str, started: float) -> str:
    """``{source name}-{UTC start yyyymmddTHHMMSS}``, e.g. ``classroom-20261122T081500``."""
    if source.isdigit():
        name = f"camera{source}"
    elif "://" in source:
        url = urlparse(source)
        name = Path(url.path).stem or url.hostname or "stream"
    else:
        name = Path(source).stem
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{safe_file_name(name)}-{stamp}"
