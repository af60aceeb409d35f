"""Warehouse benchmark: ingest rate and dashboard / analyst query latency.

Generates a year of synthetic history inside ClickHouse (``numbers()``, no Python per row):
classrooms x lessons x students, with face events sampled from every lesson, the matching
10-second student and class windows, through the real migrations, so the materialized
views fill the rollups as in production. Then it measures:

* ingest: rows/s of the bulk generator (rollups attached), and of ``Warehouse.insert`` with
  FaceEvent structs in sink-sized batches (the Python path the sink uses);
* p50/p95 latency of the live-panel and analyst queries, each on the raw tables and on the
  rollups where one applies, plus every example in docs/analysts.md.

    .venv/bin/python bench/warehouse.py --events 10M
    .venv/bin/python bench/warehouse.py --events 100M --dir /tmp/wh-bench --keep

The data directory is deleted afterwards unless ``--keep``. Face events get a 400-day TTL
here, because the history spans a year.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from record import save
from rich.console import Console
from rich.table import Table

from core.warehouse import Warehouse
from schemas.events import FaceEvent
from schemas.settings import WarehouseSettings

ROOT = Path(__file__).resolve().parent.parent
ANALYST_GUIDE = ROOT / "docs" / "analysts.md"
WINDOWS_PER_LESSON = 270  # 45 minutes of 10-second windows
LESSON_SECONDS = 2700
console = Console()


@dataclass(frozen=True)
class Shape:
    classrooms: int
    lessons: int
    """Lessons per classroom over the year."""
    students: int
    frames: int
    """Sampled frames per lesson (scaled so that the total matches --events)."""
    start: int
    """Epoch seconds of the first day: a year before now."""

    @property
    def face_events(self) -> int:
        return self.classrooms * self.lessons * self.students * self.frames

    def sql(self, template: str) -> str:
        """Fill the shape into generator SQL: ``lesson`` numbers run over classrooms first."""
        values = {
            "C": self.classrooms,
            "L": self.lessons,
            "S": self.students,
            "F": self.frames,
            "W": WINDOWS_PER_LESSON,
            "START": self.start,
            "LESSON_SECONDS": LESSON_SECONDS,
        }
        return re.sub(r"\$(\w+)", lambda m: str(values[m[1]]), template)


# A lesson's start: its day spread over the year, 08:00-14:00 UTC by a hash of the lesson.
LESSON_DAY = "intDiv(intDiv(lesson_no, $C) * 365, $L)"
LESSON_TIME = f"($START + {LESSON_DAY} * 86400 + (8 + cityHash64(lesson_no) % 7) * 3600)"
LESSON_COLUMNS = f"""
    concat('room-', toString(lesson_no % $C)) AS classroom,
    concat('room-', toString(lesson_no % $C), '/L', toString(intDiv(lesson_no, $C))) AS session,
    ['maths', 'english', 'biology', 'history', 'art'][1 + cityHash64(lesson_no, 1) % 5] AS subject,
    {LESSON_TIME} AS lesson_start
"""

FACE_EVENTS = f"""
INSERT INTO face_events (* EXCEPT (stored_at))
SELECT
    concat(classroom, '/', toString(frame), '/', toString(student)) AS event_id,
    'school-1', classroom, concat(classroom, '-cam'), session, subject,
    frame, toDateTime64(lesson_start + frame * $LESSON_SECONDS / $F, 3),
    student, $S, student, concat(classroom, '/s', toString(student)), 'student', 'seat',
    100 + student * 40, 200, 60, 64, 0.9 + (rand32(1) % 100) / 1000, 60, 100,
    0.25 + (rand32(2) % 100) / 1000, 0.25 + (rand32(3) % 100) / 1000, (rand32(4) % 50) / 100,
    (rand32(8) % 100) / 1000,
    toFloat32(rand32(5) % 60) - 30, toFloat32(rand32(6) % 40) - 20, 0,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    ['neutral', 'happy', 'surprise', 'sad'][1 + rand32(7) % 4], 'weak'
FROM (
    SELECT number % $S AS student, intDiv(number, $S) % $F AS frame,
           intDiv(number, $S * $F) AS lesson_no, {LESSON_COLUMNS}
    FROM numbers({{offset}}, {{count}})
)
"""

STUDENT_WINDOWS = f"""
INSERT INTO student_windows (* EXCEPT (stored_at))
SELECT
    'school-1', classroom, session, subject, concat(classroom, '/s', toString(student)),
    'student', toDateTime64(lesson_start + window * 10, 3), 10, 50, 45, 0.9,
    concentration, rand32(1) % 3, rand32(2) % 5, 12, (rand32(3) % 30) / 100, [], [],
    rand32(4) % 2, NULL,
    map(), NULL, NULL, concentration,
    multiIf(concentration < 0.4, 'low', concentration < 0.75, 'nominal', 'high')
FROM (
    SELECT number % $S AS student, intDiv(number, $S) % $W AS window,
           intDiv(number, $S * $W) AS lesson_no, {LESSON_COLUMNS},
           greatest(0, least(1, 0.6 + (student % 5 - 2) / 10 - window / 2000
                                 + (rand32(9) % 100 - 50) / 250)) AS concentration
    FROM numbers({{offset}}, {{count}})
)
"""

CLASS_WINDOWS = f"""
INSERT INTO class_windows
SELECT
    'school-1', classroom, session, subject, toDateTime64(lesson_start + window * 10, 3), 10,
    $S - rand32(1) % 3, $S, mean, mean - 0.2, mean, mean + 0.2, 0.3, 0.5, 0.2
FROM (
    SELECT number % $W AS window, intDiv(number, $W) AS lesson_no, {LESSON_COLUMNS},
           0.6 - window / 2000 + (rand32(9) % 100 - 50) / 500 AS mean
    FROM numbers({{offset}}, {{count}})
)
"""


Parameters = Callable[[random.Random], dict]


@dataclass(frozen=True)
class Query:
    name: str
    source: str
    sql: str
    parameters: Parameters = lambda rng: {}


def in_lesson(time_column: str) -> str:
    """The filter of a per-lesson panel. Grafana adds the dashboard's time range to every
    panel query (here the lesson's day), which lets ClickHouse skip the other months."""
    return (
        "classroom_id = {room:String} AND session_id = {session:String} AND "
        f"{time_column} >= {{day_start:DateTime}} "
        f"AND {time_column} < {{day_start:DateTime}} + INTERVAL 1 DAY"
    )


STUDENT = "classroom_id = {room:String} AND person_id = {person:String}"


def panel_queries(shape: Shape) -> list[Query]:
    """The obvious live-panel queries, on raw tables and on rollups, with random targets."""

    def lesson(rng: random.Random) -> dict:
        room, index = rng.randrange(shape.classrooms), rng.randrange(shape.lessons)
        return {
            "room": f"room-{room}",
            "session": f"room-{room}/L{index}",
            "day_start": shape.start + index * 365 // shape.lessons * 86400,
        }

    def room(rng: random.Random) -> dict:
        return {"room": f"room-{rng.randrange(shape.classrooms)}"}

    def student(rng: random.Random) -> dict:
        r = rng.randrange(shape.classrooms)
        return {"room": f"room-{r}", "person": f"room-{r}/s{rng.randrange(shape.students)}"}

    by_hour = "concentration by hour of day, all rooms, a year"
    faces_per_minute = "faces per minute over a lesson"
    class_per_day = "class concentration per day, one room, a year"
    student_per_day = "student concentration per day, a year"
    faces_per_hour = "faces per hour, all rooms, last 30 days"
    # fmt: off
    return [
        Query("class concentration over a lesson", "raw", f"""
            SELECT window_start, concentration_mean, students_present FROM v_class_windows
            WHERE {in_lesson('window_start')} ORDER BY window_start""", lesson),
        Query("per-student windows of a lesson", "raw", f"""
            SELECT person_id, window_start, concentration, band FROM v_student_windows
            WHERE {in_lesson('window_start')} ORDER BY person_id, window_start""", lesson),
        Query(faces_per_minute, "raw", f"""
            SELECT toStartOfMinute(captured_at) AS m, count(), uniqExact(person_id)
            FROM face_events FINAL WHERE {in_lesson('captured_at')}
            GROUP BY m ORDER BY m""", lesson),
        Query(faces_per_minute, "rollup", f"""
            SELECT minute, sum(faces), uniqExact(person_id) FROM v_face_activity_minutely
            WHERE {in_lesson('minute')} GROUP BY minute ORDER BY minute""", lesson),
        Query(class_per_day, "raw", """
            SELECT toDate(window_start) AS d, avg(concentration_mean) FROM v_class_windows
            WHERE classroom_id = {room:String} GROUP BY d ORDER BY d""", room),
        Query(class_per_day, "rollup", """
            SELECT toDate(hour) AS d, sum(concentration_total) / sum(concentration_windows)
            FROM v_class_concentration_hourly WHERE classroom_id = {room:String}
            GROUP BY d ORDER BY d""", room),
        Query(student_per_day, "raw", f"""
            SELECT toDate(window_start) AS d, avg(concentration) FROM v_student_windows
            WHERE {STUDENT} GROUP BY d ORDER BY d""", student),
        Query(student_per_day, "rollup", f"""
            SELECT day, sum(concentration_total) / sum(concentration_windows)
            FROM v_concentration_daily WHERE {STUDENT} GROUP BY day ORDER BY day""", student),
        Query(by_hour, "raw", """
            SELECT toHour(window_start) AS h, avg(concentration) FROM v_student_windows
            GROUP BY h ORDER BY h"""),
        Query(by_hour, "rollup", """
            SELECT toHour(hour) AS h, sum(concentration_total) / sum(concentration_windows)
            FROM v_concentration_hourly GROUP BY h ORDER BY h"""),
        # The sums in a rollup table add up directly, skipping the view's GROUP BY.
        Query(by_hour, "rollup table", """
            SELECT toHour(hour) AS h, sum(concentration_sum) / sum(concentration_windows)
            FROM student_concentration_1h GROUP BY h ORDER BY h"""),
        Query(faces_per_hour, "raw", """
            SELECT toStartOfHour(captured_at) AS h, count() FROM face_events FINAL
            WHERE captured_at >= now() - INTERVAL 30 DAY GROUP BY h ORDER BY h"""),
        Query(faces_per_hour, "rollup", """
            SELECT hour, sum(faces) FROM v_face_activity_hourly
            WHERE hour >= now() - INTERVAL 30 DAY GROUP BY hour ORDER BY hour"""),
    ]
    # fmt: on


def analyst_examples() -> list[Query]:
    """Every ```sql block of the analyst guide, named by its ``-- example: NAME`` line."""
    blocks = re.findall(r"```sql\n(.*?)```", ANALYST_GUIDE.read_text(), flags=re.S)
    named = (re.match(r"-- example: ([\w-]+)", block) for block in blocks)
    return [Query(f"docs example: {m[1]}", "view", m.string) for m in named if m]


def timed(warehouse: Warehouse, sql: str, parameters: dict) -> float:
    """Seconds to run a query and receive its result in ClickHouse's Native format, as
    Grafana's plugin does, without turning every value into a Python object."""
    started = time.perf_counter()
    warehouse.client.raw_query(sql, parameters, fmt="Native")
    return time.perf_counter() - started


def generate(warehouse: Warehouse, shape: Shape, chunk: int) -> tuple[Table, dict[str, float]]:
    """The ingest table, and rows/s by ingest path for bench/results/warehouse.json."""
    table = Table("ingest", "rows", "seconds", "rows/s", title="Ingest")
    rates = {}
    windows = shape.classrooms * shape.lessons * shape.students * WINDOWS_PER_LESSON
    class_windows = shape.classrooms * shape.lessons * WINDOWS_PER_LESSON
    for name, template, total in [
        ("face_events (+2 rollups), SQL generator", FACE_EVENTS, shape.face_events),
        ("student_windows (+2 rollups), SQL generator", STUDENT_WINDOWS, windows),
        ("class_windows (+2 rollups), SQL generator", CLASS_WINDOWS, class_windows),
    ]:
        started = time.perf_counter()
        for offset in range(0, total, chunk):
            sql = shape.sql(template).format(offset=offset, count=min(chunk, total - offset))
            warehouse.command(sql)
        seconds = time.perf_counter() - started
        table.add_row(name, f"{total:,}", f"{seconds:.1f}", f"{total / seconds:,.0f}")
        rates[name] = total / seconds
        console.print(f"generated {name}: {total:,} rows in {seconds:.1f} s")
    for batch_size in (1_000, 10_000):
        events = python_face_events(40_000, batch_size)
        started = time.perf_counter()
        for i in range(0, len(events), batch_size):
            warehouse.insert(events[i : i + batch_size])
        seconds = time.perf_counter() - started
        table.add_row(
            f"Warehouse.insert(FaceEvent) batches of {batch_size:,}",
            f"{len(events):,}",
            f"{seconds:.1f}",
            f"{len(events) / seconds:,.0f}",
        )
        rates[f"Warehouse.insert(FaceEvent) batches of {batch_size}"] = len(events) / seconds
    return table, rates


def python_face_events(count: int, tag: int) -> list[FaceEvent]:
    now = time.time()
    return [
        FaceEvent(
            event_id=f"py-{tag}/{i // 25}/{i % 25}",
            school_id="school-1",
            classroom_id="room-py",
            camera_id="cam-py",
            session_id=f"py-{tag}",
            course="maths",
            frame_seq=i // 25,
            captured_at=now - 3600 + i / 125,
            face_index=i % 25,
            frame_faces=25,
            track_id=i % 25,
            person_id=f"room-py/s{i % 25}",
            role="student",
            identity_source="seat",
            box=(10, 20, 60, 64),
            det_score=0.95,
            face_px=60,
            sharpness=100.0,
            ear_left=0.3,
            ear_right=0.3,
            mar=0.1,
            yaw=5.0,
            pitch=-3.0,
            roll=0.0,
            expression=(0.1, 0.0, 0.0, 0.6, 0.1, 0.1, 0.1),
            expression_label="happy",
            expression_intensity="strong",
        )
        for i in range(count)
    ]


def measure(warehouse: Warehouse, shape: Shape, repeat: int) -> tuple[Table, list[dict]]:
    """The latency table, and one record per query for bench/results/warehouse.json."""
    rng = random.Random(7)
    table = Table("query", "source", "p50 ms", "p95 ms", "rows", title="Query latency")
    records = []
    for query in panel_queries(shape) + analyst_examples():
        # The first run warms the caches, as a dashboard's first refresh would.
        rows = len(warehouse.query(query.sql, query.parameters(rng)).result_rows)
        latencies = sorted(
            timed(warehouse, query.sql, query.parameters(rng)) * 1000 for _ in range(repeat)
        )
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        p95_text = f"[red]{p95:.1f}[/]" if p95 > 300 else f"{p95:.1f}"
        table.add_row(
            query.name, query.source, f"{statistics.median(latencies):.1f}", p95_text, str(rows)
        )
        records.append({"query": query.name, "source": query.source, "p95_ms": p95, "rows": rows})
    return table, records


def parse_count(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a count like 500k, 10M or 100M")
    return int(float(match[1]) * {"": 1, "k": 10**3, "m": 10**6}[match[2].lower()])


@click.command()
@click.option("--events", default="10M", show_default=True, help="face events to generate")
@click.option("--classrooms", default=20, show_default=True)
@click.option("--lessons", default=200, show_default=True, help="lessons per classroom in the year")
@click.option("--students", default=25, show_default=True)
@click.option("--repeat", default=20, show_default=True, help="timed runs per query")
@click.option("--chunk", default="10M", show_default=True, help="rows per generating INSERT")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(path_type=Path),
    default=Path("/tmp/classroom-bench-warehouse"),
)
@click.option("--keep", is_flag=True, help="keep the data directory (and reuse it next time)")
def main(
    events: str,
    classrooms: int,
    lessons: int,
    students: int,
    repeat: int,
    chunk: str,
    data_dir: Path,
    keep: bool,
) -> None:
    frames = max(1, parse_count(events) // (classrooms * lessons * students))
    start = int(time.time()) - 365 * 86400
    shape = Shape(classrooms, lessons, students, frames, start - start % 86400)
    reuse = keep and data_dir.exists()
    settings = WarehouseSettings(dsn=f"chdb://{data_dir}", face_event_ttl_days=400)
    console.print(
        f"{shape.face_events:,} face events: {classrooms} rooms x {lessons} lessons x "
        f"{students} students x {frames} sampled frames; data in {data_dir}"
    )
    try:
        with Warehouse.connect(settings) as warehouse:
            warehouse.migrate()
            ingest: dict[str, float] = {}
            if not reuse:
                ingest_table, ingest = generate(warehouse, shape, parse_count(chunk))
                console.print(ingest_table)
            size = warehouse.query(
                "SELECT table, sum(rows), formatReadableSize(sum(bytes_on_disk)), count() "
                "FROM system.parts WHERE active AND database = currentDatabase() "
                "GROUP BY table ORDER BY sum(rows) DESC"
            ).result_rows
            storage = Table("table", "rows", "on disk", "parts", title="Storage")
            for name, rows, disk, parts in size:
                storage.add_row(name, f"{rows:,}", disk, str(parts))
            console.print(storage)
            latency_table, queries = measure(warehouse, shape, repeat)
            console.print(latency_table)
        save("warehouse", {"face_events": shape.face_events, "ingest_rows_per_s": ingest,
                           "queries": queries})  # fmt: skip
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
