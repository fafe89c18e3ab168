"""Charts of a hub analysis, computed here and drawn by templates as SVG (no script, no inline
styles: the page works under the strict Content Security Policy), and the year as a heat map
image (PNG, drawn with Pillow). The same charts go into the dossier as files."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from geo.hub import heat_map
from geo.hub_profiles import quarter_hours

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
#: The legend sits above the plot, two entries to a row.
LEGEND_ROW = 16


@dataclass
class Line:
    points: str  # "x,y x,y ..."
    color: str
    label: str
    dashed: bool = False


@dataclass
class Chart:
    """A line chart laid out in pixels; ``x_title``/``y_title`` are set by the view (they are
    texts in the user's language)."""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    lines: list[Line] = field(default_factory=list)
    dots: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, title
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart).

    >>> nice_ticks(0, 930)
    [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    """
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), default=10 * power)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 6))
        value += step
    return ticks


class _Frame:
    def __init__(self, chart: Chart, x_range: tuple[float, float], y_ticks: list[float]) -> None:
        self.chart, self.x_range = chart, x_range
        self.y_low, self.y_high = y_ticks[0], y_ticks[-1]

    def x(self, value: float) -> float:
        low, high = self.x_range
        share = 0.0 if high == low else (value - low) / (high - low)
        return round(self.chart.left + (self.chart.right - self.chart.left) * share, 1)

    def y(self, value: float) -> float:
        share = (value - self.y_low) / (self.y_high - self.y_low)
        return round(self.chart.bottom - (self.chart.bottom - self.chart.top) * share, 1)

    def polyline(self, xs: Any, ys: Any) -> str:
        return " ".join(f"{self.x(a)},{self.y(b)}" for a, b in zip(xs, ys, strict=True))


def _label(value: float) -> str:
    """A tick label without a decimal separator (the same in Dutch and English)."""
    if value == 0.25:
        return "\u00bc"
    return f"{value:,.0f}".replace(",", "\u2009")


def _with_legend(rows: int) -> Chart:
    return Chart(top=TOP + rows * LEGEND_ROW + 6)


def duration_chart(result: dict[str, Any], labels: dict[str, str]) -> Chart:
    """Load-duration curve of the group (and with all expansion plans), on a log axis of hours,
    against the sum of the contracts and the capacity for the chosen curtailment."""
    curve, planned = result["duration"], result["duration_with_plans"]
    chart = _with_legend(2)
    hours = [max(h, 0.25) for h in curve["hours"]]
    log_hours = [math.log10(h) for h in hours]
    top = max(max(curve["kw"]), max(planned["kw"]), result["sum_contracted_take_kw"], 1.0)
    low = min(min(curve["kw"]), min(planned["kw"]), 0.0)
    ticks = nice_ticks(low, top)
    frame = _Frame(chart, (math.log10(0.25), math.log10(8760)), ticks)
    chart.y_ticks = [(frame.y(t), _label(t)) for t in ticks]
    chart.x_ticks = [(frame.x(math.log10(h)), _label(h)) for h in (0.25, 1, 10, 100, 1000, 8760)]
    contract = result["sum_contracted_take_kw"]
    chart.lines.append(Line(f"{chart.left},{frame.y(contract)} {chart.right},{frame.y(contract)}",
                            "#868e96", labels["contracts"], dashed=True))
    chosen = next(r for r in result["curtailment"] if r["hours"] == result["curtail_hours"])
    capacity = chosen["capacity_take_kw"]
    chart.lines.append(Line(f"{chart.left},{frame.y(capacity)} {chart.right},{frame.y(capacity)}",
                            "#2b8a3e", labels["capacity"], dashed=True))
    if result["plans"]:
        chart.lines.append(Line(frame.polyline([math.log10(max(h, .25)) for h in planned["hours"]],
                                               planned["kw"]), "#e8590c", labels["with_plans"]))
    chart.lines.append(Line(frame.polyline(log_hours, curve["kw"]), "#0b6e4f", labels["group"]))
    for row in result["curtailment"]:
        if row["hours"] > 0:
            chart.dots.append((frame.x(math.log10(row["hours"])), frame.y(row["capacity_take_kw"]),
                               f"{row['hours']:g} h: {row['capacity_take_kw']:,.0f} kW"))
    return chart


def battery_chart(result: dict[str, Any], labels: dict[str, str]) -> Chart | None:
    """Battery energy (kWh) against the target peak (kW)."""
    rows = [r for r in result["battery_curve"] if r["feasible"]]
    if not rows:
        return None
    chart = _with_legend(1)
    peak = result["group_peak_take_kw"]
    xs = [peak] + [r["target_take_kw"] for r in rows]
    ys = [0.0] + [r["kwh"] for r in rows]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(0.0, max(ys))
    frame = _Frame(chart, (x_ticks[0], x_ticks[-1]), y_ticks)
    chart.x_ticks = [(frame.x(t), _label(t)) for t in x_ticks]
    chart.y_ticks = [(frame.y(t), _label(t)) for t in y_ticks]
    chart.lines.append(Line(frame.polyline(xs, ys), "#1c7ed6", labels["battery"]))
    chart.dots = [(frame.x(x), frame.y(y), f"{x:,.0f} kW: {y:,.0f} kWh")
                  for x, y in zip(xs, ys, strict=True)]
    return chart


# --- the year as an image ----------------------------------------------------------------------

#: Diverging colours: feed-in (blue) through nothing (white) to take (red).
_FEED = np.array([33, 102, 172], dtype=float)
_ZERO = np.array([247, 247, 247], dtype=float)
_TAKE = np.array([178, 24, 43], dtype=float)
_MISSING = np.array([210, 210, 210], dtype=float)
CELL_W, CELL_H = 2, 3


def heat_map_png(net_kw: np.ndarray, *, scale_kw: float | None = None) -> tuple[bytes, float]:
    """The year as an image: one column per day (January left), one row per quarter hour
    (midnight at the top), red for take and blue for feed-in. Returns the PNG and the kW that
    the strongest colour stands for."""
    _dates, grid = heat_map(net_kw, quarter_hours())
    values = grid.T  # 96 rows x days
    limit = scale_kw or float(np.nanmax(np.abs(values))) or 1.0
    share = np.clip(np.nan_to_num(values) / limit, -1.0, 1.0)[..., None]
    rgb = np.where(share >= 0, _ZERO + (_TAKE - _ZERO) * share, _ZERO + (_FEED - _ZERO) * -share)
    rgb[np.isnan(values)] = _MISSING
    pixels = np.repeat(np.repeat(rgb.round().astype(np.uint8), CELL_H, axis=0), CELL_W, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), limit


def month_ticks() -> list[tuple[float, str]]:
    """Pixel offsets of the first day of each month on the heat map (month numbers)."""
    dates = pd.date_range("2023-01-01", "2023-12-01", freq="MS")
    return [(float(d.day_of_year - 1) * CELL_W, str(d.month)) for d in dates]
