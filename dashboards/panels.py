"""Pieces every dashboard shares: the engagement bands, variables, and a grid layout."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from dashboards.datasource import CLICKHOUSE

GRID_COLUMNS = 24

LOW_BELOW = 25.0
HIGH_ABOVE = 65.0
"""Engagement bands on the 0-100 concentration scale: low < 25 <= nominal <= 65 < high."""

BAND_COLORS = {"low": "red", "nominal": "yellow", "high": "green"}


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


def query_variable(
    name: str, label: str, sql: str, *, hidden: bool = False
) -> builders.QueryVariable:
    """A variable whose options are the rows of ``sql``; the first option is the default.

    Refreshed when the time range changes, so a live dashboard picks up new sessions.
    """
    variable = (
        builders.QueryVariable(name)
        .label(label)
        .datasource(CLICKHOUSE)
        .query(" ".join(sql.split()))
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    if hidden:
        variable = variable.hide(models.VariableHide.HIDE_VARIABLE)
    return variable


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
