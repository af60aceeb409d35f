"""Operations: is the pipeline keeping up? For school IT, from ``v_pipeline_health``.

Every worker (camera agent, inference worker, stream processor, sink) sends a health
record every few seconds (``workers/service.py``). Its counters (frames in, faces, drops,
errors) count up from the worker's start, so a rate is the increase between a worker's
consecutive records; a counter that went down means the worker restarted, and the new
value is the increase. Lag and batch latency are readings at the time of the record.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import table, timeseries

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import Layout, classroom_dashboard, query_table
from dashboards.variables import query_variable, text_list

UID = "classroom-operations"

WORKERS = f"has({text_list('role')}, role) AND $__timeFilter(at)"

COUNTERS = ("frames_in", "drops", "errors")


def _increase(counter: str) -> str:
    before = f"lagInFrame({counter}, 1, {counter}) OVER per_worker"
    return f"{counter} - if({counter} < {before}, 0, {before}) AS {counter}_increase"


INCREASES = f"""
    SELECT
        at,
        worker_id,
        lag,
        batch_latency_ms,
        {", ".join(_increase(counter) for counter in COUNTERS)}
    FROM v_pipeline_health
    WHERE {WORKERS}
    WINDOW per_worker AS (PARTITION BY worker_id ORDER BY at)
"""
"""Each health record with the increase of every counter since the worker's previous one."""


def variables() -> list[builders.QueryVariable]:
    return [
        query_variable(
            "role",
            "Worker role",
            "SELECT DISTINCT role FROM v_pipeline_health WHERE $__timeFilter(at) ORDER BY role",
        )
        .multi(True)
        .include_all(True),
    ]


def per_worker(title: str, description: str, values: str, unit: str) -> timeseries.Panel:
    """One line per worker and value column; ``values`` aggregate a bucket of records."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT $__timeInterval(at) AS time, worker_id, {values}
                FROM ({INCREASES})
                GROUP BY time, worker_id
                ORDER BY time
                """
            ).time_series()
        )
        .unit(unit)
    )


def workers() -> table.Panel:
    return query_table(
        "Workers",
        "Last report of every worker, with its counters since it started; a worker "
        "silent for a minute is stale.",
        f"""
        SELECT
            worker_id,
            any(role) AS worker_role,
            max(at) AS last_report,
            if(dateDiff('second', max(at), $__toTime) > 60, 'stale', 'ok') AS status,
            argMax(frames_in, at) AS frames_since_start,
            argMax(faces, at) AS faces_since_start,
            argMax(drops, at) AS drops_since_start,
            argMax(errors, at) AS errors_since_start,
            argMax(lag, at) AS consumer_lag
        FROM v_pipeline_health
        WHERE {WORKERS}
        GROUP BY worker_id
        ORDER BY worker_id
        """,
    )


def build() -> builders.Dashboard:
    dashboard = classroom_dashboard(
        "Pipeline operations",
        uid=UID,
        description="Throughput, lag, latency, drops and errors of every worker.",
        tag="operations",
        time_from="now-6h",
        refresh="30s",
        variables=variables(),
    )
    layout = Layout(dashboard)
    frames = per_worker(
        "Frames per second",
        "Frames each worker took in, per second.",
        "sum(frames_in_increase) / $__interval_s AS fps",
        "fps",
    )
    lag = per_worker(
        "Consumer lag",
        "Messages waiting in Kafka for the worker's consumer group (latest reading).",
        "argMax(lag, at) AS consumer_lag",
        "short",
    )
    latency = per_worker(
        "Inference latency",
        "Time to process one batch of frames (mean of the readings in the bucket).",
        "avg(batch_latency_ms) AS batch_latency",
        "ms",
    )
    failures = per_worker(
        "Dropped frames and errors",
        "Frames dropped because a buffer was full, and messages that failed (sent to the "
        "dead-letter topic), per bucket.",
        "sum(drops_increase) AS dropped, sum(errors_increase) AS failed",
        "short",
    )
    layout.row(8, [(12, frames), (12, lag)])
    layout.row(8, [(12, latency), (12, failures)])
    layout.row(8, [(24, workers())])
    return dashboard
