"""doc.export: a document or a Markdown text converted to PDF, Word, OpenDocument, HTML, Markdown, text
or EPUB (helpers in nodes/export/)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from .base import NodeContext, NodeInputError, NodeType
from .export import MEDIA_TYPES, check_source, pandoc, pdf
from .files import PYMUPDF_LOCK, check_zip, expect_kind
from .ports import FILE, TEXT, Document, FileRef, Json
from .registry import register
from .templating import check_name_template, render_file_name

OptionalFile = Annotated[FileRef | None, FILE]


class ExportConfig(BaseModel):
    to: Literal["pdf", "docx", "odt", "html", "md", "txt", "epub"] = Field(
        "pdf", title="Convert to", description="The format of the result: PDF, Word (docx), OpenDocument (odt), "
                                               "web page (html), Markdown (md), plain text (txt) or e-book (epub)")
    file_name: str = Field("", max_length=300, title="File name",
                           description="Name of the result, e.g. contrato-{{ client }} with values from the 'data' "
                                       "input, or {{ input_name }}; empty: the input's name")
    pdf_engine: pdf.PdfEngine = Field("auto", title="PDF engine", description=pdf.ENGINE_HELP)
    page_size: pdf.PageSize = Field("A4", title="Page size", description="Page size of PDFs made by the Python route")

    @field_validator("file_name")
    @classmethod
    def _file_name_compiles(cls, pattern: str) -> str:
        return check_name_template(pattern)


class ExportIn(BaseModel):
    document: OptionalFile = Field(None, description="The document to convert: Word, OpenDocument, e-book, web page, "
                                                     "Markdown, text or PDF")
    text: Annotated[str | None, TEXT] = Field(None, description="Or a text written in Markdown, e.g. from an AI node")
    style_document: OptionalFile = Field(None, description="A Word document whose styles (fonts, headings, margins) "
                                                           "a Word or OpenDocument result copies")
    data: Json = Field(None, description="Values for the file name, e.g. {{ client }}")


class ExportOut(BaseModel):
    document: Document
    info: Json = Field(description="How it was made: route, formats, pages, warnings")


@register
class Export(NodeType[ExportConfig, ExportIn, ExportOut]):
    """Convert a document or a Markdown text to PDF, Word, OpenDocument, HTML, Markdown, text or EPUB."""

    type_id = "doc.export"
    display_name = "Export document"
    category = "documents"
    queue = "documents"
    timeout_s = 300

    def run(self, ctx: NodeContext, config: ExportConfig, inputs: ExportIn) -> ExportOut:
        with tempfile.TemporaryDirectory(prefix="minddocs-export-") as tmp:
            workdir = Path(tmp)
            source, kind, stem = _source(ctx, inputs, workdir)
            reference = _reference(ctx, inputs.style_document, config)
            info: dict[str, Any] = {"from": "markdown" if kind == "text" else kind, "to": config.to}
            if config.to == "pdf":
                data, route, warnings = pdf.to_pdf(source, kind, workdir, engine=config.pdf_engine,
                                                   page_size=config.page_size, limits=ctx.limits, title=stem,
                                                   reference=reference)
                with PYMUPDF_LOCK, pdf.open_pdf(data, "the result", "document") as result:
                    info["pages"] = result.page_count
            elif kind == "pdf":
                raise NodeInputError("document", f"A PDF cannot be converted to {config.to.upper()} here; use "
                                                 "'Extract' (doc.extract) to get its text first.")
            else:
                target, warnings = pandoc.convert(source, kind, config.to, workdir, title=stem, reference=reference)
                data, route = target.read_bytes(), "pandoc"
            info.update(route=route, warnings=warnings[:20])
        values = {"input_name": stem, **(inputs.data if isinstance(inputs.data, dict) else {})}
        name = render_file_name(config.file_name, values, default=stem, extension=config.to)
        ctx.log(f"{info['from']} → {config.to} by {route}")
        return ExportOut(document=ctx.artifacts.put_bytes(data, name=name, media_type=MEDIA_TYPES[config.to]),
                         info=info)


def _source(ctx: NodeContext, inputs: ExportIn, workdir: Path) -> tuple[Path, str, str]:
    if inputs.document is not None and inputs.text is not None:
        raise NodeInputError("text", "Connect either a document or a text, not both.")
    if inputs.document is not None:
        path = ctx.artifacts.path(inputs.document)
        kind = check_source(path, "document", ctx.limits, "Export document")
        return path, kind, Path(inputs.document.name).stem
    if inputs.text is None:
        raise NodeInputError("document", "There is nothing to convert: connect a document or a text.")
    if not inputs.text.strip():
        raise NodeInputError("text", "The text is empty; connect a node that produces text.")
    path = workdir / "text.md"
    path.write_text(inputs.text, encoding="utf-8")
    return path, "text", "document"


def _reference(ctx: NodeContext, ref: FileRef | None, config: ExportConfig) -> Path | None:
    if ref is None:
        return None
    path = ctx.artifacts.path(ref)
    wanted = "odt" if config.to == "odt" else "docx"
    expect_kind(path, "style_document", {wanted}, f"The style document of a {wanted.upper()} result")
    check_zip(path, "style_document", ctx.limits)
    return path
