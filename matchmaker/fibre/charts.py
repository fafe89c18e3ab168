"""The daily trend as an SVG line chart, computed here and drawn by a template (no script,
no inline styles: the page works under a strict Content Security Policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from matchmaker.fibre.services import Point

WIDTH, HEIGHT = 560, 180
LEFT, RIGHT, TOP, BOTTOM = 36, 12, 12, 24


@dataclass
class Chart:
    width: int
    height: int
    committed: list[str]  # polyline point lists ("x,y x,y"), one per run of shown days
    interested: list[str]
    threshold_y: float | None
    y_ticks: list[tuple[float, int]]
    x_labels: list[tuple[float, date]]
    hidden_x: list[float]  # days without a published number
    dots: list[tuple[float, float, date, int]]  # the committed points, for their titles
    baseline: float
    left: int
    right: int


def trend_chart(points: list[Point], needed: int | None) -> Chart | None:
    """Committed addresses (and committed + interested) per day against the threshold."""
    if not points:
        return None
    top_value = max([p.committed + (p.interest or 0) for p in points if p.committed is not None]
                    + [needed or 0, 1])
    top_value = int(top_value * 1.1) + 1
    span = max((points[-1].day - points[0].day).days, 1)
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        if len(points) == 1:
            return LEFT + inner_w / 2
        return round(LEFT + inner_w * (day - points[0].day).days / span, 1)

    def y(value: float) -> float:
        return round(TOP + inner_h * (1 - value / top_value), 1)

    def runs(value_of: object) -> list[str]:
        result: list[str] = []
        current: list[str] = []
        for p in points:
            value = value_of(p)  # type: ignore[operator]
            if value is None:
                if current:
                    result.append(" ".join(current))
                current = []
                continue
            current.append(f"{x(p.day)},{y(value)}")
        if current:
            result.append(" ".join(current))
        return result

    step = max(1, top_value // 4)
    labels = [points[0].day, points[-1].day] if len(points) > 1 else [points[0].day]
    return Chart(
        width=WIDTH, height=HEIGHT,
        committed=runs(lambda p: p.committed),
        interested=runs(lambda p: None if p.committed is None or p.interest is None
                        else p.committed + p.interest),
        threshold_y=y(needed) if needed is not None else None,
        y_ticks=[(y(v), v) for v in range(0, top_value + 1, step)],
        x_labels=[(x(d), d) for d in labels],
        hidden_x=[x(p.day) for p in points if p.committed is None],
        dots=[(x(p.day), y(p.committed), p.day, p.committed) for p in points
              if p.committed is not None],
        baseline=y(0), left=LEFT, right=WIDTH - RIGHT,
    )
