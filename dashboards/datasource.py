"""The one ClickHouse datasource every panel reads, and a typed query for it.

grafana-foundation-sdk has builders for many datasources but none for the
``grafana-clickhouse-datasource`` plugin, so ``SqlQuery`` is a small builder that
emits the plugin's SQL-editor query model (``CHSqlQuery`` in the plugin's
``src/types/sql.ts``). The datasource uid is fixed so that the provisioning YAML,
``dashboards push`` and every panel agree on it without a lookup.
"""

from __future__ import annotations

import enum
import textwrap

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

PLUGIN_ID = "grafana-clickhouse-datasource"
DATASOURCE_UID = "classroom-clickhouse"

CLICKHOUSE = dashboard.DataSourceRef(type_val=PLUGIN_ID, uid=DATASOURCE_UID)


class Format(enum.IntEnum):
    """How the plugin shapes the result (the sqlutil ``FormatQueryOption`` values).

    ``TIME_SERIES`` turns a long result (time, label, value) into one series per label,
    which is what the per-student panels rely on.
    """

    TIME_SERIES = 0
    TABLE = 1


class SqlQueryModel(cogvariants.Dataquery):
    """One raw-SQL target of a panel, serialised the way the plugin saves it."""

    def __init__(self, ref_id: str, raw_sql: str, format_val: Format) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format_val = format_val

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": CLICKHOUSE,
            "editorType": "sql",
            "queryType": "timeSeries" if self.format_val is Format.TIME_SERIES else "table",
            "format": int(self.format_val),
            "rawSql": self.raw_sql,
        }


class SqlQuery(cogbuilder.Builder[SqlQueryModel]):
    """``SqlQuery(sql).time_series()``: a panel target for the ClickHouse datasource.

    The SQL is dedented, so what Grafana's query editor shows does not depend on how
    deeply the Python code that wrote it is nested.
    """

    def __init__(self, raw_sql: str, ref_id: str = "A") -> None:
        self._internal = SqlQueryModel(ref_id, textwrap.dedent(raw_sql).strip(), Format.TABLE)

    def time_series(self) -> SqlQuery:
        self._internal.format_val = Format.TIME_SERIES
        return self

    def build(self) -> SqlQueryModel:
        return self._internal
