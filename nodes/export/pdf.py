"""PDFs: LibreOffice when it is installed, otherwise pandoc → HTML → PyMuPDF Story; and merging PDFs.

Pandoc alone cannot write PDF here (no LaTeX engine). LibreOffice lays out a Word document the way Word
does (headers, footers, page setup, fonts); the Python route keeps the text, headings, lists, tables
and pictures but uses MindDocs' own page style and drops headers and footers.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Literal

import pymupdf

from ..base import NodeError, NodeInputError
from ..files import PYMUPDF_LOCK, Limits, open_image
from . import pandoc

PdfEngine = Literal["auto", "libreoffice", "python"]
PageSize = Literal["A4", "Letter"]
ENGINE_HELP = ("How PDFs are made: 'auto' uses LibreOffice for Word and OpenDocument files when it is installed "
               "(looks like Word), otherwise the built-in Python route (text, tables and pictures in a plain style)")
LIBREOFFICE_TIMEOUT_S = 180
MARGIN_PT = 56  # about 2 cm
PAGE_CSS = ("body{font-family:sans-serif;font-size:11pt;line-height:1.35} h1{font-size:20pt} h2{font-size:16pt} "
            "h3{font-size:13pt} pre,code{font-family:monospace;font-size:9pt} img{max-width:100%} "
            + pandoc.TABLE_CSS)


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(source: Path, kind: str, workdir: Path, *, engine: str, page_size: str, limits: Limits,
           title: str, reference: Path | None = None) -> tuple[bytes, str, list[str]]:
    """(pdf bytes, route, warnings) for a document of sniffed `kind`; the route is one of `copy`,
    `libreoffice`, `pandoc+libreoffice`, `pandoc+pymupdf` and `pymupdf` (HTML laid out as it is)."""
    if kind == "pdf":
        return source.read_bytes(), "copy", []
    office = libreoffice() if engine != "python" else None
    if engine == "libreoffice" and office is None:
        raise NodeError("LibreOffice is not installed on this server; set 'PDF engine' to 'auto' or 'python'.",
                        code="libreoffice_missing")
    if office and (kind in ("docx", "odt") or engine == "libreoffice"):
        if kind in ("docx", "odt"):
            return _libreoffice(office, source, kind, workdir), "libreoffice", []
        docx, warnings = pandoc.convert(source, kind, "docx", workdir, title=title, reference=reference)
        return _libreoffice(office, docx, "docx", workdir), "pandoc+libreoffice", warnings
    if kind == "html":
        html, warnings = source.read_text("utf-8", errors="replace"), []  # keeps the page's own styles
    else:
        html_path = workdir / "story.html"
        # Pictures are extracted next to the HTML, where the Story's archive finds them.
        warnings = pandoc.run(source, pandoc.READERS[kind], "html5", html_path, "--extract-media=.")
        html = html_path.read_text("utf-8")
    route = "pymupdf" if kind == "html" else "pandoc+pymupdf"
    return html_to_pdf(html, workdir, page_size, limits), route, warnings


_COLGROUP = re.compile(r"<colgroup>.*?</colgroup>", re.DOTALL | re.IGNORECASE)


def html_to_pdf(html: str, resources: Path, page_size: str, limits: Limits) -> bytes:
    """Lay HTML out on pages with PyMuPDF's Story; pictures are looked up in `resources` only."""
    # MuPDF squeezes tables whose <col> widths are percentages (pandoc writes them for DOCX tables)
    # into a few millimetres; without them it sizes columns by their content.
    html = _COLGROUP.sub("", html)
    page = pymupdf.paper_rect(page_size.lower())
    out = io.BytesIO()
    with PYMUPDF_LOCK:
        story = pymupdf.Story(html=html, user_css=PAGE_CSS, archive=pymupdf.Archive(str(resources)))
        writer = pymupdf.DocumentWriter(out)
        more, pages = True, 0
        while more:
            pages += 1
            if pages > limits.max_pages:
                raise NodeError(f"The PDF would have more than {limits.max_pages} pages; split the document.",
                                code="too_large")
            device = writer.begin_page(page)
            more, _ = story.place(page + (MARGIN_PT, MARGIN_PT, -MARGIN_PT, -MARGIN_PT))
            story.draw(device)
            writer.end_page()
        writer.close()
    return out.getvalue()


def _libreoffice(office: str, source: Path, kind: str, workdir: Path) -> bytes:
    named = workdir / f"document.{kind}"  # LibreOffice picks its import filter by the extension
    if source != named:
        shutil.copyfile(source, named)
    outdir = workdir / "libreoffice"
    # A profile of its own per conversion: two conversions sharing one would block each other.
    command = [office, "--headless", "--norestore", "--nolockcheck",
               f"-env:UserInstallation={(workdir / 'lo-profile').as_uri()}",
               "--convert-to", "pdf", "--outdir", str(outdir), str(named)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=LIBREOFFICE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise NodeError(f"LibreOffice took longer than {LIBREOFFICE_TIMEOUT_S} s and was stopped.",
                        code="timeout") from None
    result = outdir / "document.pdf"
    if done.returncode or not result.exists():
        reason = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise NodeError(f"LibreOffice could not make the PDF ({reason[-1] if reason else 'no reason given'}).",
                        code="conversion_failed")
    return result.read_bytes()


def image_to_pdf(path: Path, port: str, limits: Limits) -> bytes:
    """A one-page PDF holding the picture, after the shared checks (kind, pixel limit, damage)."""
    open_image(path, port, limits, "Merge into PDF").close()
    with PYMUPDF_LOCK, pymupdf.open(path) as image:
        return image.convert_to_pdf()


def open_pdf(data: bytes, name: str, port: str) -> pymupdf.Document:
    """A readable, unlocked PDF, or a NodeInputError that names the file. Call it holding PYMUPDF_LOCK."""
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError):
        raise NodeInputError(port, f"'{name}' is a damaged PDF and cannot be read.") from None
    if doc.needs_pass:
        raise NodeInputError(port, f"'{name}' is protected by a password; remove the protection first.")
    if doc.page_count == 0:
        raise NodeInputError(port, f"'{name}' has no pages.")
    return doc


def merge(parts: list[tuple[str, bytes]], limits: Limits, port: str) -> tuple[bytes, list[int]]:
    """One PDF from several, in order; returns it with the page count of each part."""
    with PYMUPDF_LOCK:
        merged, counts = pymupdf.open(), []
        for name, data in parts:
            with open_pdf(data, name, port) as doc:
                if merged.page_count + doc.page_count > limits.max_pages:
                    raise NodeError(f"The merged PDF would have more than {limits.max_pages} pages.",
                                    code="too_large")
                merged.insert_pdf(doc)
                counts.append(doc.page_count)
        return merged.tobytes(garbage=2, deflate=True), counts
