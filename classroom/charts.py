"""Small SVG charts for the HTML report: inline, no JavaScript, readable offline and printed.

Each function returns one ``<svg>`` element as a string. Sizes are in CSS pixels and the
SVGs shrink to narrow pages (``viewBox`` + CSS ``max-width: 100%``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

BAND_COLORS = {"high": "#2e7d32", "nominal": "#f9a825", "low": "#c62828"}
ABSENT_COLOR = "#d5d8dc"
FONT = "font-family='system-ui, sans-serif' font-size='12'"


def concentration_color(value: float) -> str:
    """Red (0) through amber (50) to green (100), as a teacher reads a traffic light."""
    value = min(max(value, 0.0), 100.0) / 100.0
    stops = [(0.0, (198, 40, 40)), (0.5, (249, 168, 37)), (1.0, (46, 125, 50))]
    for (x0, c0), (x1, c1) in itertools.pairwise(stops):
        if value <= x1:
            t = (value - x0) / (x1 - x0)
            r, g, b = (round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#2e7d32"


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' role='img' aria-label='{escape(label)}' "
        f"{FONT}>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' {extra}>{escape(text)}</text>"


def lesson_clock(seconds: float) -> str:
    """Seconds since the lesson began as ``m:ss``."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _time_ticks(duration: float) -> list[float]:
    """Round tick positions (every 5 s, 10 s, 30 s, 1 min, ...): at most seven."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 6:
            break
    return [float(t) for t in range(0, int(duration) + 1, step)]


def concentration_over_time(
    times: Sequence[float],
    mean: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    *,
    duration: float,
    label: str = "class concentration over time",
) -> str:
    """Mean concentration per window as a line, the p10-p90 spread as a shaded band, and
    the engagement band limits (25, 65) as dashed lines. ``times`` are seconds since the
    lesson began, placed in proportion on an axis from 0 to ``duration``."""
    width, height = 760.0, 280.0
    left, right, top, bottom = 44.0, 20.0, 16.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    duration = max(duration, 1.0)

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), duration) / duration

    def y(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0.0), 100.0) / 100.0)

    def points(values: Sequence[float]) -> list[str]:
        return [f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True)]

    body = [f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='#fafafa'/>"]
    for limit, name in ((65, "high"), (25, "low")):
        body.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y(limit):.1f}' y2='{y(limit):.1f}' "
            f"stroke='{BAND_COLORS[name]}' stroke-dasharray='4 4'/>"
        )
    for tick in (0, 25, 50, 65, 100):
        body.append(_text(left - 6, y(tick) + 4, str(tick), "end", "fill='#555'"))
    for tick in _time_ticks(duration):
        clock = lesson_clock(tick)
        body.append(_text(x(tick), height - bottom + 16, clock, "middle", "fill='#555'"))
    if times:
        band = points(high) + points(low)[::-1]
        body.append(f"<polygon points='{' '.join(band)}' fill='#90caf9' opacity='0.5'/>")
        line = " ".join(points(mean))
        body.append(f"<polyline points='{line}' fill='none' stroke='#1565c0' stroke-width='2.5'/>")
        for point in points(mean):
            cx, cy = point.split(",")
            body.append(f"<circle cx='{cx}' cy='{cy}' r='3.5' fill='#1565c0'/>")
    body.append(_text(left, height - 6, "lesson time (min:s)", extra="fill='#555'"))
    return _svg(width, height, body, label)


def student_heatmap(
    people: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[tuple[float, str] | None]],
    *,
    label: str = "concentration per student and window",
) -> str:
    """One row per person, one column per window; each cell coloured by concentration and
    lettered with its band (H, N, L). ``None`` cells (not present) are grey."""
    cell_w, cell_h = 64.0, 26.0  # a column label is a clock time, 08:15:10
    name_w = max(110.0, 7.5 * max((len(p) for p in people), default=0) + 16)
    top = 22.0
    width = name_w + cell_w * max(len(columns), 1) + 8
    height = top + cell_h * len(people) + 8
    body = []
    for j, column in enumerate(columns):
        body.append(_text(name_w + cell_w * (j + 0.5), 14, column, "middle", "fill='#555'"))
    for i, person in enumerate(people):
        y = top + cell_h * i
        body.append(_text(name_w - 8, y + cell_h / 2 + 4, person, "end"))
        for j, cell in enumerate(cells[i]):
            x = name_w + cell_w * j
            color = ABSENT_COLOR if cell is None else concentration_color(cell[0])
            body.append(
                f"<rect x='{x + 1:.1f}' y='{y + 1:.1f}' width='{cell_w - 2}' "
                f"height='{cell_h - 2}' rx='3' fill='{color}'/>"
            )
            text = "absent" if cell is None else f"{cell[0]:.0f} {cell[1][:1].upper()}"
            fill = "#333" if cell is None else "#fff"
            body.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, text, "middle", f"fill='{fill}'"))
    return _svg(width, height, body, label)


def stacked_bars(
    rows: Sequence[str],
    parts: Sequence[str],
    shares: Sequence[Sequence[float]],
    colors: Sequence[str],
    *,
    label: str,
) -> str:
    """One horizontal 100% bar per row, split into ``parts``; a legend on top."""
    bar_w, bar_h = 520.0, 22.0
    name_w = max(110.0, 7.5 * max((len(r) for r in rows), default=0) + 16)
    top = 34.0
    width = name_w + bar_w + 16
    height = top + (bar_h + 6) * len(rows) + 4
    body = []
    x = name_w
    for part, color in zip(parts, colors, strict=True):
        body.append(f"<rect x='{x:.1f}' y='8' width='12' height='12' fill='{color}'/>")
        body.append(_text(x + 16, 18, part))
        x += 22 + 7.5 * len(part)
    for i, (row, row_shares) in enumerate(zip(rows, shares, strict=True)):
        y = top + (bar_h + 6) * i
        body.append(_text(name_w - 8, y + bar_h / 2 + 4, row, "end"))
        x = name_w
        total = sum(row_shares) or 1.0
        for share, color, part in zip(row_shares, colors, parts, strict=True):
            w = bar_w * share / total
            if w <= 0:
                continue
            body.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{bar_h}' "
                f"fill='{color}'><title>{escape(part)} {share / total:.0%}</title></rect>"
            )
            if w > 34:
                body.append(
                    _text(
                        x + w / 2,
                        y + bar_h / 2 + 4,
                        f"{share / total:.0%}",
                        "middle",
                        "fill='#fff'",
                    )
                )
            x += w
    return _svg(width, height, body, label)


def bar_chart(labels: Sequence[str], values: Sequence[float], color: str, *, label: str) -> str:
    """Horizontal bars for shares in [0, 1], one per label, with the percentage."""
    bar_w, bar_h = 440.0, 18.0
    name_w = max(110.0, 7.5 * max((len(t) for t in labels), default=0) + 16)
    width = name_w + bar_w + 60
    height = (bar_h + 6) * len(labels) + 8
    body = []
    for i, (text, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + (bar_h + 6) * i
        body.append(_text(name_w - 8, y + bar_h / 2 + 4, text, "end"))
        w = bar_w * min(max(value, 0.0), 1.0)
        body.append(
            f"<rect x='{name_w}' y='{y:.1f}' width='{bar_w}' height='{bar_h}' fill='#eceff1'/>"
        )
        body.append(
            f"<rect x='{name_w}' y='{y:.1f}' width='{w:.1f}' height='{bar_h}' fill='{color}'/>"
        )
        body.append(_text(name_w + bar_w + 6, y + bar_h / 2 + 4, f"{value:.0%}"))
    return _svg(width, height, body, label)


def score_bar(score: float, band: str) -> str:
    """A small inline bar for a 0-100 score, for table cells."""
    w = 100.0 * min(max(score, 0.0), 100.0) / 100.0
    return (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 10' class='score' "
        f"role='img' aria-label='score {score:.0f}'>"
        "<rect width='100' height='10' fill='#eceff1'/>"
        f"<rect width='{w:.1f}' height='10' fill='{BAND_COLORS.get(band, '#1565c0')}'/></svg>"
    )
