"""Reading order of text lines on a page, so that columns are read one after another.

A recursive XY-cut: a region of boxes is split at the widest band of white space that crosses it from
edge to edge, either a horizontal band (rows: read top to bottom) or a vertical one (a gutter between
columns: read left to right), and each part is ordered the same way.

- A gutter counts double against a horizontal band, so the gaps between lines that happen to line up in
  every column do not cut across the columns, while the wide space under a title or above a footer does.
- A gutter only separates columns when each side is at least a sixth of the region's width. Narrower
  strips are parts of rows (the name, party and count of a results report; the line numbers of a court
  transcript) and are read row by row, left to right.

Measured on the corpus: the 3-column Federal Register and the 2-column LaTeX paper come out column by
column (PyMuPDF 2.0's `get_text(sort=True)` mixes lines of neighbouring columns), and the fixed-layout
LA precinct bulletin reads each contest line by line. The same code orders PDF lines (in points) and OCR
lines (in pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]  # x0, y0, x1, y1
GUTTER_WEIGHT = 2.0
MIN_COLUMN_FRACTION = 1 / 6


def reading_order(boxes: Sequence[Box], min_gutter: float) -> list[int]:
    """Indexes of `boxes` in reading order; `min_gutter` is the narrowest white band between columns."""
    order: list[int] = []
    stack = [list(range(len(boxes)))]  # a stack, not recursion: thousands of lines must not hit the limit
    while stack:
        region = stack.pop()
        if len(region) <= 1:
            order.extend(region)
            continue
        across = _widest_gap([(boxes[i][1], boxes[i][3]) for i in region], 0.0, 0.0)
        down = _widest_gap([(boxes[i][0], boxes[i][2]) for i in region], min_gutter, MIN_COLUMN_FRACTION)
        if down and (not across or GUTTER_WEIGHT * down[1] >= across[1]):
            axis, cut = 0, down[0]
        elif across:
            axis, cut = 1, across[0]
        else:
            order.extend(_rows([boxes[i] for i in region], region))
            continue
        first = [i for i in region if boxes[i][axis] < cut]
        second = [i for i in region if boxes[i][axis] >= cut]
        stack += [second, first]  # first is taken next
    return order


def _widest_gap(spans: list[tuple[float, float]], minimum: float, side: float) -> tuple[float, float] | None:
    """(middle, width) of the widest uncovered stretch between the spans that is wider than `minimum` and
    leaves at least `side` of the whole extent on each side; None when there is none."""
    spans = sorted(spans)
    low, high = spans[0][0], max(end for _, end in spans)
    margin = side * (high - low)
    best: tuple[float, float] | None = None
    reach = spans[0][1]
    for start, end in spans[1:]:
        width = start - reach
        wide_sides = reach - low >= margin and high - start >= margin
        if width > minimum and wide_sides and (best is None or width > best[1]):
            best = (reach + width / 2, width)
        reach = max(reach, end)
    return best


def _rows(boxes: list[Box], ids: list[int]) -> list[int]:
    """Boxes that overlap top to bottom: grouped into rows by their middles, each row left to right."""
    items = sorted(zip(boxes, ids), key=lambda item: (item[0][1] + item[0][3]) / 2)
    rows: list[list[tuple[Box, int]]] = []
    bottom = float("-inf")
    for box, i in items:
        if (box[1] + box[3]) / 2 > bottom:
            rows.append([])
            bottom = box[3]
        rows[-1].append((box, i))
    return [i for row in rows for _, i in sorted(row, key=lambda item: item[0][0])]
