"""Operations: is the pipeline keeping up? For school IT, from ``v_pipeline_health``.

Every worker (camera agent, inference worker, stream processor, sink) reports its
counters periodically; each record covers the period since the worker's previous one,
so rates are sums over a bucket divided by the bucket length.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import table, timeseries

from dashboards.datasource import CLICKHOUSE, SqlQuery
from dashboards.panels import Layout, query_variable

UID = "classroom-operations"

WORKERS = "role IN (${role:singlequote})"


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
    """One line per worker and value column; ``values`` are aggregates over a bucket."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT $__timeInterval(at) AS time, worker_id, {values}
                FROM v_pipeline_health
                WHERE {WORKERS} AND $__timeFilter(at)
                GROUP BY time, worker_id
                ORDER BY time
                """
            ).time_series()
        )
        .unit(unit)
    )


def workers() -> table.Panel:
    return (
        table.Panel()
        .title("Workers")
        .description("Last report of every worker; a worker silent for a minute is stale.")
        .datasource(CLICKHOUSE)
        .with_target(
            SqlQuery(
                f"""
                SELECT
                    worker_id,
                    any(role) AS worker_role,
                    max(at) AS last_report,
                    if(dateDiff('second', max(at), $__toTime) > 60, 'stale', 'ok') AS status,
                    sum(frames_in) AS frames,
                    sum(faces) AS face_count,
                    sum(drops) AS dropped,
                    sum(errors) AS failed,
                    argMax(lag, at) AS consumer_lag
                FROM v_pipeline_health
                WHERE {WORKERS} AND $__timeFilter(at)
                GROUP BY worker_id
                ORDER BY worker_id
                """
            )
        )
    )


def build() -> builders.Dashboard:
    dashboard = (
        builders.Dashboard("Pipeline operations")
        .uid(UID)
        .description("Throughput, lag, latency, drops and errors of every worker.")
        .tags(["classroom", "operations"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .readonly()
        .variables(variables())
    )
    layout = Layout(dashboard)
    layout.row(
        8,
        [
            (
                12,
                per_worker(
                    "Frames per second",
                    "Frames each worker took in, per second.",
                    "sum(frames_in) / $__interval_s AS fps",
                    "fps",
                ),
            ),
            (
                12,
                per_worker(
                    "Consumer lag",
                    "Messages waiting in Kafka for the worker's consumer group (last report).",
                    "argMax(lag, at) AS consumer_lag",
                    "short",
                ),
            ),
        ],
    )
    layout.row(
        8,
        [
            (
                12,
                per_worker(
                    "Inference latency",
                    "Mean time to process one batch of frames.",
                    "avg(batch_latency_ms) AS latency",
                    "ms",
                ),
            ),
            (
                12,
                per_worker(
                    "Dropped frames and errors",
                    "Frames dropped because a buffer was full, plus messages that failed "
                    "(sent to the dead-letter topic).",
                    "sum(drops) AS dropped, sum(errors) AS failed",
                    "short",
                ),
            ),
        ],
    )
    layout.row(8, [(24, workers())])
    return dashboard
