"""A small SVG map of one bundle for the printable summary (no tiles, prints anywhere)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

NICE_LENGTHS_M = (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)


@dataclass(frozen=True)
class SvgMap:
    width: int
    height: int
    hull_path: str
    points: list[tuple[float, float, int]]  # x, y in pixels, number in the site list
    scale_px: float
    scale_m: int


def svg_map(hull: shapely.Geometry, x: np.ndarray, y: np.ndarray, *, width: int = 640,
            height: int = 380, margin: int = 24) -> SvgMap:
    """Project RD New coordinates onto an SVG canvas, north up, same scale on both axes."""
    minx, miny, maxx, maxy = hull.bounds
    pad = max(maxx - minx, maxy - miny, 50.0) * 0.08
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = min((width - 2 * margin) / (maxx - minx), (height - 2 * margin) / (maxy - miny))
    ox = margin + ((width - 2 * margin) - (maxx - minx) * scale) / 2
    oy = margin + ((height - 2 * margin) - (maxy - miny) * scale) / 2

    def px(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ox + (xs - minx) * scale, height - oy - (ys - miny) * scale

    parts = []
    for polygon in getattr(hull, "geoms", [hull]):
        for ring in [polygon.exterior, *polygon.interiors]:
            coords = np.asarray(ring.coords)
            rx, ry = px(coords[:, 0], coords[:, 1])
            parts.append("M " + " L ".join(f"{a:.1f} {b:.1f}" for a, b in zip(rx, ry)) + " Z")
    sx, sy = px(np.asarray(x, float), np.asarray(y, float))
    target = (width - 2 * margin) / 4 / scale
    scale_m = min(NICE_LENGTHS_M, key=lambda length: abs(length - target))
    return SvgMap(width, height, " ".join(parts),
                  [(float(a), float(b), i + 1) for i, (a, b) in enumerate(zip(sx, sy))],
                  scale_m * scale, scale_m)
