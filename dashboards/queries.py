"""A generated dashboard's queries, and its variables resolved the way Grafana does.

Used by the tests (every panel query must return rows on a pipeline-filled warehouse) and
by anyone timing the dashboards' SQL on a big warehouse: render each ``PanelQuery.raw_sql``
with ``dashboards.macros.render_query`` and the values ``resolve_variables`` returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from dashboards.macros import QueryContext, render_query


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel_id: int
    title: str
    panel_type: str
    raw_sql: str

    def __str__(self) -> str:
        return f"{self.dashboard} panel {self.panel_id} ({self.panel_type}) {self.title!r}"


def panel_queries(dashboard: dict) -> Iterator[PanelQuery]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield PanelQuery(
                dashboard["uid"], panel["id"], panel["title"], panel["type"], target["rawSql"]
            )


def resolve_variables(
    dashboard: dict,
    client: Client,
    context: QueryContext,
    chosen: Mapping[str, str] | None = None,
) -> dict[str, str | list[str]]:
    """Each variable's options from its query, the earlier variables filled in.

    Like Grafana with no saved selection: a single-value variable takes its first option
    (or the ``chosen`` one, which must be among the options), a multi-value one with
    "All" takes every option.
    """
    chosen = chosen or {}
    values: dict[str, str | list[str]] = {}
    for variable in dashboard["templating"]["list"]:
        name = variable["name"]
        sql = render_query(variable["query"], values, context)
        options = [str(row[0]) for row in client.query(sql).result_rows]
        if not options:
            raise LookupError(f"variable ${name} has no options: {sql}")
        if name in chosen:
            if chosen[name] not in options:
                raise LookupError(f"${name} = {chosen[name]!r} is not among its options {options}")
            values[name] = chosen[name]
        else:
            values[name] = options if variable.get("multi") else options[0]
    return values
