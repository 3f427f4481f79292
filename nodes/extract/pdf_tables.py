"""Tables in a PDF page: PyMuPDF's table finder, where the page draws ruling lines, with our own cell text.

The finder runs without its layout model (which costs about a second a page and, on the LaTeX sample,
reports a table that is not there), and only on pages with at least two horizontal and two vertical
rulings: on the Federal Register that spares 13 of 15 pages. Each cell's text is read from the page's
words, because the finder's own text splits '18,870' into '18870' and ','.
"""

from __future__ import annotations

from typing import Any

import pymupdf

from .result import clean_rows

MAX_CELL_WORDS = 60  # more in one cell: a framed page layout, not a table
Box = tuple[float, float, float, float]


def has_rulings(page: pymupdf.Page) -> bool:
    """Whether the page draws at least two horizontal and two vertical lines or rectangle edges."""
    across = down = 0
    for drawing in page.get_cdrawings():
        for item in drawing.get("items", ()):
            if item[0] == "l":
                (x0, y0), (x1, y1) = item[1], item[2]
                across += abs(y0 - y1) < 1 and abs(x0 - x1) > 5
                down += abs(x0 - x1) < 1 and abs(y0 - y1) > 5
            elif item[0] == "re":
                rect = pymupdf.Rect(item[1])
                across += 2 if rect.width > 5 else 0
                down += 2 if rect.height > 5 else 0
        if across >= 2 and down >= 2:
            return True
    return False


def find_tables(page: pymupdf.Page, text_flags: int) -> list[tuple[Box, list[list[str]]]]:
    """(area, rows) of each table on the page; may raise whatever the table finder raises."""
    found = page.find_tables(use_layout=False, refine=True).tables
    if not found:
        return []
    words = page.get_text("words", flags=text_flags)
    tables = []
    for table in found:
        rows = clean_rows(_cell_texts(table, words))
        if len(rows) < 2 or len(rows[0]) < 2 or max(len(c.split()) for r in rows for c in r) > MAX_CELL_WORDS:
            continue  # one row or one column, or whole paragraphs in a cell
        tables.append((tuple(table.bbox), rows))
    return tables


def _cell_texts(table: Any, words: list[tuple]) -> list[list[str | None]]:
    """Each cell's words in reading order, by where the middle of each word falls."""
    rows = table.rows  # a property that rebuilds the rows on every access
    grid: list[list[list[tuple]]] = [[[] for _ in row.cells] for row in rows]
    for word in words:
        x, y = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
        r = next((r for r, row in enumerate(rows) if row.bbox[1] <= y <= row.bbox[3]), None)
        if r is None:
            continue
        c = next((c for c, cell in enumerate(rows[r].cells)
                  if cell and cell[0] <= x <= cell[2] and cell[1] <= y <= cell[3]), None)
        if c is not None:
            grid[r][c].append(word)
    return [[" ".join(w[4] for w in sorted(cell, key=lambda w: (w[5], w[6], w[7]))) if row.cells[c] else None
             for c, cell in enumerate(cells)] for cells, row in zip(grid, rows)]
