"""A uniform grid over a set of polygons that answers most point lookups without geometry.

Each grid cell is classified once: wholly inside exactly one polygon (the answer is that
polygon), farther than the edge tolerance from every polygon (the answer is "none"), or
mixed: the cell keeps the indices of the polygons within the tolerance, those that meet
it first, and a point is tested against those that meet it, in order, then measured
against all of them. A simple polygon (a hexagon, a county) is tested whole, so a cell
holds a few integers and the grid stays small for tens of thousands of polygons; a
detailed one (a coastline) is cut to the cell grown by the tolerance, so its tests stay
fast. Real points mostly fall in the first two kinds, so a lookup is usually two
multiplications and an array read; the answers are those of an STR-tree query on the
whole polygons.

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

__all__ = ["DETAILED_COORDS", "CellIndex"]

_EPS = 1e-9  # degrees a cell is grown by when classified: absorbs rounding of the cell number
_OUTSIDE = -1
_MAX_CELLS = 1 << 19
_CHUNK_CELLS = 1 << 15  # cells classified at once
DETAILED_COORDS = 64
"""Coordinates above which a polygon is detailed: prepared, and cut into per-cell pieces
here; a simpler one is fast enough as it is, and preparing it would cost more memory
than the polygon."""


class CellIndex:
    """Point -> index of the first polygon (in array order) that contains it, else of the
    nearest polygon within ``tolerance`` (lowest index on ties), else ``None``.

    ``geoms`` are the polygons indexed by ``tree`` (the detailed ones prepared); ``cells``
    is the grid size to aim for (default: 256 per polygon, between 2^16 and 2^19).
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
        self._cell = width / nx, height / ny
        self._codes, self._bounds, self._members, self._pieces = self._classify()

    @property
    def shape(self) -> tuple[int, int]:
        """``(columns, rows)`` of the grid."""
        return self._nx, self._ny

    def _boxes(self, cells: NDArray[np.int64], grow: float) -> NDArray[np.object_]:
        """The boxes of ``cells`` (flat indices), grown by ``grow`` degrees."""
        ix, iy = cells % self._nx, cells // self._nx
        cw, ch = self._cell
        x, y = self._x0 + ix * cw, self._y0 + iy * ch
        boxes: NDArray[np.object_] = shapely.box(x - grow, y - grow, x + cw + grow, y + ch + grow)
        return boxes

    def _classify_chunk(
        self, cells: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Codes of ``cells`` (mixed ones -2 for now) and the entries of their mixed cells:
        cell, region, and whether it is only near (does not meet the cell), sorted."""
        boxes = self._boxes(cells, _EPS)
        src, dst = self._tree.query(boxes, predicate="intersects")
        counts = np.bincount(src, minlength=cells.size)
        codes = np.full(cells.size, _OUTSIDE, dtype=np.int64)
        single = counts[src] == 1
        s1, d1 = src[single], dst[single]
        covered = shapely.covers(self._geoms[d1], boxes[s1])
        codes[s1[covered]] = d1[covered]
        # every other cell keeps the regions within the tolerance: first those that meet
        # it (a point may lie in them), then the others (only near), each in index order
        rest = codes == _OUTSIDE
        keep = rest[src]
        src, dst = src[keep], dst[keep]
        near = np.zeros(src.size, dtype=bool)
        if self._tol > 0:
            where = np.flatnonzero(rest)
            n_src, n_dst = self._tree.query(boxes[where], predicate="dwithin", distance=self._tol)
            n_src = where[n_src]
            n_geoms = len(self._geoms)
            only = ~np.isin(n_src * n_geoms + n_dst, src * n_geoms + dst)
            src = np.concatenate([src, n_src[only]])
            dst = np.concatenate([dst, n_dst[only]])
            near = np.concatenate([near, np.ones(int(only.sum()), dtype=bool)])
        order = np.lexsort((dst, near, src))
        codes[src] = -2
        return codes, cells[src[order]], dst[order], near[order]

    def _classify(self) -> tuple[array[int], array[int], array[int], dict[int, BaseGeometry]]:
        """Cell codes: >= 0 one region covers the cell; -1 nothing within the tolerance;
        <= -2 a mixed cell, whose entries (see :meth:`locate`) are described by
        ``bounds[2m : 2m + 3]``, ``m = -2 - code``. Built a band of rows at a time into
        the compact arrays, so that neither the cells' boxes nor their entries ever all
        exist as numpy arrays at once."""
        nx, ny = self._nx, self._ny
        rows = max(1, _CHUNK_CELLS // nx)
        codes, bounds, members = array("i"), array("q"), array("i")
        pieces: dict[int, BaseGeometry] = {}
        for lo in range(0, ny, rows):
            cells = np.arange(lo * nx, min(ny, lo + rows) * nx, dtype=np.int64)
            band, src, dst, near = self._classify_chunk(cells)
            first = len(members)  # number of the band's first entry
            mixed = np.flatnonzero(band == -2)
            band[mixed] = -2 - (len(bounds) // 2 + np.arange(mixed.size))
            starts = np.searchsorted(src, cells[mixed])
            meeting = np.add.reduceat((~near).astype(np.int64), starts) if mixed.size else starts
            entries = np.empty(2 * mixed.size, dtype=np.int64)
            entries[0::2] = first + starts
            entries[1::2] = first + starts + meeting
            # a detailed region is cut to the cell grown by the tolerance (its part that
            # can matter to the cell's points), a simple one is tested whole
            geoms = self._geoms[dst]
            detailed = np.flatnonzero(shapely.get_num_coordinates(geoms) > DETAILED_COORDS)
            if detailed.size:
                cut = shapely.intersection(
                    geoms[detailed], self._boxes(src[detailed], self._tol + _EPS)
                )
                shapely.prepare(cut)
                pieces.update(zip((first + detailed).tolist(), cut.tolist(), strict=True))
            _extend(codes, band)
            _extend(bounds, entries)
            _extend(members, dst)
        bounds.append(len(members))
        return codes, bounds, members, pieces

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
        m = -4 - 2 * code  # the cell's entries: meeting ones up to bounds[m + 1], then near
        first, meeting, last = self._bounds[m], self._bounds[m + 1], self._bounds[m + 2]
        for k in range(first, meeting):
            if shapely.intersects_xy(self._geometry(k), lon, lat):
                return self._members[k], False
        if self._tol <= 0:
            return None
        point = shapely.Point(lon, lat)
        best: tuple[float, int] | None = None
        for k in range(first, last):
            d = (self._geometry(k).distance(point), self._members[k])
            if d[0] <= self._tol and (best is None or d < best):
                best = d
        return None if best is None else (best[1], True)

    def _geometry(self, entry: int) -> BaseGeometry:
        """The geometry a mixed cell's entry is tested against: its cut piece, or the
        whole (simple) region."""
        piece = self._pieces.get(entry)
        return self._geoms[self._members[entry]] if piece is None else piece


def _extend(out: array[int], values: NDArray[np.int64]) -> None:
    """Append ``values`` to a compact array of the standard library (fast to index one
    item at a time), without a Python int per value on the way."""
    out.frombytes(values.astype(f"=i{out.itemsize}").tobytes())
