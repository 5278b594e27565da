"""A uniform grid over a set of polygons that answers most point lookups without geometry.

Each grid cell is classified once: wholly inside exactly one polygon (the answer is that
polygon), farther than the edge tolerance from every polygon (the answer is "none"), or
mixed: the cell keeps the parts of the polygons within the tolerance, cut to the cell
grown by the tolerance, and a point is tested against those small parts, in order. Real
points mostly fall in the first two kinds, so a lookup is usually two multiplications and
an array read; the answers are those of an STR-tree query on the whole polygons.

>>> from shapely.geometry import box
>>> import numpy as np, shapely
>>> geoms = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)], dtype=object)
>>> index = CellIndex(geoms, shapely.STRtree(geoms), tolerance=0.05)
>>> index.locate(0.5, 0.5), index.locate(1.0, 0.5), index.locate(2.03, 0.5), index.locate(9, 9)
((0, False), (0, False), (1, True), None)
"""

from __future__ import annotations

import math
from array import array

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

__all__ = ["CellIndex"]

_EPS = 1e-9  # degrees a cell is grown by when classified: absorbs rounding of the cell number
_OUTSIDE = -1
_MAX_CELLS = 1 << 19


class CellIndex:
    """Point -> index of the first polygon (in array order) that contains it, else of the
    nearest polygon within ``tolerance`` (lowest index on ties), else ``None``.

    ``geoms`` must be prepared polygons indexed by ``tree``; ``cells`` is the grid size to
    aim for (default: 256 per polygon, between 2^16 and 2^19).
    """

    def __init__(
        self,
        geoms: NDArray[np.object_],
        tree: shapely.STRtree,
        tolerance: float,
        cells: int | None = None,
    ) -> None:
        self._geoms = geoms
        self._tree = tree
        self._tol = tolerance
        target = cells or min(_MAX_CELLS, max(1 << 16, 256 * len(geoms)))
        x0, y0, x1, y1 = shapely.total_bounds(geoms).tolist()
        pad = tolerance + _EPS
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        width, height = x1 - x0, y1 - y0
        side = math.sqrt(width * height / target) or 1.0
        nx = max(1, min(_MAX_CELLS, math.ceil(width / side)))
        ny = max(1, min(_MAX_CELLS // nx, math.ceil(height / side)))
        self._x0, self._y0, self._nx, self._ny = x0, y0, nx, ny
        self._sx, self._sy = nx / width, ny / height
        self._codes, self._pieces = self._classify(x0, y0, width / nx, height / ny)

    @property
    def shape(self) -> tuple[int, int]:
        """``(columns, rows)`` of the grid."""
        return self._nx, self._ny

    def _classify(
        self, x0: float, y0: float, cw: float, ch: float
    ) -> tuple[array[int], list[tuple[tuple[int, BaseGeometry], ...]]]:
        nx, ny = self._nx, self._ny
        ix = np.tile(np.arange(nx), ny)
        iy = np.repeat(np.arange(ny), nx)
        left, bottom = x0 + ix * cw - _EPS, y0 + iy * ch - _EPS
        right, top = x0 + (ix + 1) * cw + _EPS, y0 + (iy + 1) * ch + _EPS
        boxes = shapely.box(left, bottom, right, top)
        n = boxes.size
        src, dst = self._tree.query(boxes, predicate="intersects")
        counts = np.bincount(src, minlength=n)
        # codes: >= 0 one region covers the cell; -1 nothing within tolerance; <= -2 the
        # cell's pieces are pieces[-2 - code]
        codes = np.full(n, _OUTSIDE, dtype=np.int64)
        single = counts[src] == 1
        s1, d1 = src[single], dst[single]
        covered = shapely.covers(self._geoms[d1], boxes[s1])
        codes[s1[covered]] = d1[covered]
        # every other cell keeps the parts of the regions that can matter to its points:
        # each region within the tolerance, cut to the cell grown by the tolerance
        rest = np.flatnonzero(codes == _OUTSIDE)
        if self._tol > 0:
            src, dst = self._tree.query(boxes[rest], predicate="dwithin", distance=self._tol)
        else:
            src, dst = self._tree.query(boxes[rest], predicate="intersects")
        order = np.lexsort((dst, src))
        src, dst = rest[src[order]], dst[order]
        t = self._tol
        grown = shapely.box(left[src] - t, bottom[src] - t, right[src] + t, top[src] + t)
        cut = shapely.intersection(self._geoms[dst], grown)
        shapely.prepare(cut)
        pieces: list[tuple[tuple[int, BaseGeometry], ...]] = []
        cells = src.tolist()
        regions = dst.tolist()
        cut_list = cut.tolist()
        k = 0
        while k < len(cells):
            cell = cells[k]
            parts: list[tuple[int, BaseGeometry]] = []
            while k < len(cells) and cells[k] == cell:
                if not cut_list[k].is_empty:
                    parts.append((regions[k], cut_list[k]))
                k += 1
            if parts:
                codes[cell] = -2 - len(pieces)
                pieces.append(tuple(parts))
        return array("q", codes.tolist()), pieces

    def locate(self, lon: float, lat: float) -> tuple[int, bool] | None:
        """``(polygon index, is_nearest)`` or ``None``; finite coordinates only."""
        ix = int((lon - self._x0) * self._sx)
        iy = int((lat - self._y0) * self._sy)
        if not (0 <= ix < self._nx and 0 <= iy < self._ny) or lon < self._x0 or lat < self._y0:
            return None
        code = self._codes[iy * self._nx + ix]
        if code >= 0:
            return code, False
        if code == _OUTSIDE:
            return None
        parts = self._pieces[-2 - code]
        for i, piece in parts:
            if shapely.intersects_xy(piece, lon, lat):
                return i, False
        if self._tol > 0:
            point = shapely.Point(lon, lat)
            best, best_d = -1, self._tol
            for i, piece in parts:
                d = piece.distance(point)
                if d < best_d or (d == best_d and best < 0):
                    best, best_d = i, d
            if best >= 0:
                return best, True
        return None
