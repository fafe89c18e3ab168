"""Small SVG maps for printable summaries (no tiles: they print anywhere, offline too)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

NICE_LENGTHS_M = (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)


@dataclass(frozen=True)
class SvgMap:
    width: int
    height: int
    hull_path: str  # polygons (a bundle's hull)
    line_path: str  # lines (a heat network's trench sketch)
    points: list[tuple[float, float, int]]  # x, y in pixels, number in the site list
    scale_px: float
    scale_m: int


def svg_map(hull: shapely.Geometry | None, x: np.ndarray, y: np.ndarray, *,
            lines: shapely.Geometry | None = None, width: int = 640, height: int = 380,
            margin: int = 24) -> SvgMap:
    """Project RD New coordinates onto an SVG canvas, north up, same scale on both axes."""
    parts_for_bounds = [g for g in (hull, lines) if g is not None and not g.is_empty]
    parts_for_bounds.append(shapely.multipoints(np.column_stack([x, y])))
    minx, miny, maxx, maxy = shapely.total_bounds(parts_for_bounds)
    pad = max(maxx - minx, maxy - miny, 50.0) * 0.08
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = min((width - 2 * margin) / (maxx - minx), (height - 2 * margin) / (maxy - miny))
    ox = margin + ((width - 2 * margin) - (maxx - minx) * scale) / 2
    oy = margin + ((height - 2 * margin) - (maxy - miny) * scale) / 2

    def px(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ox + (xs - minx) * scale, height - oy - (ys - miny) * scale

    def path(coords: np.ndarray, close: bool) -> str:
        rx, ry = px(coords[:, 0], coords[:, 1])
        return "M " + " L ".join(f"{a:.1f} {b:.1f}" for a, b in zip(rx, ry)) + (" Z" if close
                                                                              else "")

    parts = []
    if hull is not None and not hull.is_empty:
        for polygon in getattr(hull, "geoms", [hull]):
            for ring in [polygon.exterior, *polygon.interiors]:
                parts.append(path(np.asarray(ring.coords), True))
    line_parts = []
    if lines is not None and not lines.is_empty:
        for line in getattr(lines, "geoms", [lines]):
            line_parts.append(path(np.asarray(line.coords), False))
    sx, sy = px(np.asarray(x, float), np.asarray(y, float))
    target = (width - 2 * margin) / 4 / scale
    scale_m = min(NICE_LENGTHS_M, key=lambda length: abs(length - target))
    return SvgMap(width, height, " ".join(parts), " ".join(line_parts),
                  [(float(a), float(b), i + 1) for i, (a, b) in enumerate(zip(sx, sy))],
                  scale_m * scale, scale_m)
