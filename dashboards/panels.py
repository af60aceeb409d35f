"""Pieces every dashboard shares: the engagement bands, common panels, and a grid layout."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from dashboards.datasource import CLICKHOUSE, SqlQuery

GRID_COLUMNS = 24

LOW_BELOW = 25.0
HIGH_ABOVE = 65.0
"""Engagement bands on the 0-100 concentration scale: low < 25 <= nominal <= 65 < high."""

BAND_COLORS = {"low": "red", "nominal": "yellow", "high": "green", "unknown": "gray"}
"""``unknown``: a window whose head state was unknown most of the time (no concentration)."""


def engagement_thresholds() -> builders.ThresholdsConfig:
    """Colour a concentration value by its engagement band."""
    return (
        builders.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps(
            [
                models.Threshold(value=None, color=BAND_COLORS["low"]),
                models.Threshold(value=LOW_BELOW, color=BAND_COLORS["nominal"]),
                models.Threshold(value=HIGH_ABOVE, color=BAND_COLORS["high"]),
            ]
        )
    )


def band_mappings() -> list[models.ValueMapping]:
    """Show a concentration value as the name of its band (state timeline cells)."""
    bounds = {
        "low": (0.0, LOW_BELOW),
        "nominal": (LOW_BELOW, HIGH_ABOVE),
        "high": (HIGH_ABOVE, 100.0),
    }
    return [
        models.RangeMap(
            options=models.DashboardRangeMapOptions(
                from_val=low,
                to=high,
                result=models.ValueMappingResult(text=band, color=BAND_COLORS[band], index=index),
            )
        )
        for index, (band, (low, high)) in enumerate(bounds.items())
    ]


def fixed_color(color: str) -> models.DynamicConfigValue:
    """A field override that paints one series in ``color``."""
    return models.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color})


def legend() -> common.VizLegendOptions:
    """A legend under the chart (the SDK's default hides it)."""
    return (
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(common_models.LegendDisplayMode.LIST)
        .placement(common_models.LegendPlacement.BOTTOM)
    )


def latest_row() -> common.ReduceDataOptions:
    """Stat panels show each column's last value: their queries return one row."""
    return common.ReduceDataOptions().values(False).calcs(["lastNotNull"])


def thresholds_color() -> builders.FieldColor:
    return builders.FieldColor().mode(models.FieldColorModeId.THRESHOLDS)


def classroom_dashboard(
    title: str,
    *,
    uid: str,
    description: str,
    tag: str,
    time_from: str,
    variables: Sequence[builders.QueryVariable],
    refresh: str | None = None,
) -> builders.Dashboard:
    """A read-only dashboard tagged ``classroom`` and ``tag``, in the viewer's timezone.

    It shows ``time_from`` until now; ``refresh`` (e.g. ``"5s"``) reloads it on its own.
    """
    board = (
        builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["classroom", tag])
        .time(time_from, "now")
        .timezone("browser")
        .readonly()
        .variables(variables)
    )
    if refresh is not None:
        board = board.refresh(refresh)
    return board


def named_values(title: str, description: str, sql: str) -> stat.Panel:
    """Every column of a one-row query, each shown as its name and value."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(SqlQuery(sql))
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(latest_row())
    )


def query_table(title: str, description: str, sql: str) -> table.Panel:
    """The rows of ``sql`` as they come."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(SqlQuery(sql))
    )


def concentration_over_time(title: str, description: str, sql: str) -> timeseries.Panel:
    """A 0-100 concentration chart with the engagement bands as its background."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(SqlQuery(sql).time_series())
        .min(0)
        .max(100)
        .thresholds(engagement_thresholds())
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(common_models.GraphTresholdsStyleMode.AREA)
        )
    )


class Layout:
    """Numbers panels and places them in rows on the 24-column grid, top to bottom.

    The SDK's automatic placement lets a wide panel overflow the row it starts in, so
    every panel gets an explicit position here instead.
    """

    def __init__(self, dashboard: builders.Dashboard) -> None:
        self._dashboard = dashboard
        self._next_id = 1
        self._y = 0

    def row(self, height: int, panels: Sequence[tuple[int, cogbuilder.Builder]]) -> None:
        """Add ``(width, panel)`` pairs side by side, ``height`` grid units tall."""
        if sum(width for width, _ in panels) > GRID_COLUMNS:
            raise ValueError(f"a row is {GRID_COLUMNS} columns wide: {[w for w, _ in panels]}")
        x = 0
        for width, panel in panels:
            panel.id(self._next_id).grid_pos(models.GridPos(h=height, w=width, x=x, y=self._y))
            self._dashboard.with_panel(panel)
            self._next_id += 1
            x += width
        self._y += height
