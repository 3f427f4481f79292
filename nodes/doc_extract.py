"""doc.extract: the text and structure of a document (PDF, Word, HTML, Markdown, text, or a picture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from .base import NodeContext, NodeType, SecretName
from .extract.docx import extract_docx
from .extract.html import extract_html
from .extract.image import extract_image
from .extract.ocr import get_engine
from .extract.pdf import extract_pdf
from .extract.result import PAGES_PATTERN, Extracted, ExtractOptions, parse_pages
from .extract.text import extract_markdown, extract_text, is_markdown
from .files import IMAGE_KINDS, expect_kind
from .ports import File, Json, ListOf, Text
from .registry import register

READERS: dict[str, Callable[[Path, ExtractOptions], Extracted]] = {
    "pdf": extract_pdf, "docx": extract_docx, "html": extract_html, "text": extract_text,
    "markdown": extract_markdown, **{kind: extract_image for kind in IMAGE_KINDS},
}
ACCEPTED = set(READERS) - {"markdown"}  # Markdown is text by its content; its name tells it apart


class ExtractConfig(BaseModel):
    ocr: Literal["auto", "always", "never"] = Field(
        "auto", title="OCR", description="Read text from pictures (OCR): 'auto' for scanned pages and images "
                                         "only, 'always' for every page, 'never' to skip it")
    ocr_engine: Literal["rapidocr", "tesseract"] = Field(
        "rapidocr", title="OCR engine",
        description="RapidOCR is the most accurate and reads Latin-script languages by itself; Tesseract "
                    "needs a language pack for each language")
    ocr_languages: str = Field(
        "eng", title="OCR languages", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$", max_length=100,
        description="Tesseract only: languages joined by '+', e.g. 'spa+eng' for Spanish and English")
    password_secret: SecretName | None = Field(
        None, title="PDF password",
        description="For a PDF protected by a password: the stored secret that holds it (Secrets page)")
    pages: str = Field(
        "", title="Pages", pattern=PAGES_PATTERN + "|^$", max_length=500,
        description="Pages to read, e.g. '1-3, 5'; empty for all (PDFs and multi-page images)")
    tables: bool = Field(
        True, title="Find tables", description="Find tables in PDFs (about a second for each ruled page)")

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str) -> str:
        parse_pages(value)  # raises ValueError with a sentence
        return value


class ExtractIn(BaseModel):
    document: File = Field(description="The document: PDF, Word (DOCX), HTML, Markdown, text, or a picture")


class ExtractOut(BaseModel):
    text: Text = Field(description="All the text, in reading order")
    markdown: Text = Field(description="The text as Markdown, with headings, lists and tables")
    pages: ListOf[Text] = Field(description="The text of each page read (one entry for Word, HTML and text)")
    tables: Json = Field(description="Tables found: a list of {page, rows, markdown}")
    metadata: Json = Field(description="Title, author, dates, page count, which pages were OCR'd, warnings")
    fields: Json = Field(description="Form fields of a fillable PDF (or a Word form): name -> value")


@register
class DocExtract(NodeType[ExtractConfig, ExtractIn, ExtractOut]):
    """Extract the text, tables and form fields of a document, reading scans and pictures with OCR.

    The kind of file is found from its content, not its name. PDF pages without a text layer and pictures
    are read with OCR, on this machine, with no download.
    """

    type_id = "doc.extract"
    display_name = "Extract text"
    category = "documents"
    queue = "documents"
    timeout_s = 900  # a long scan: about 5-20 s of OCR per page on 2 cores
    version = 2
    #: version 1 kept the PDF password itself in the graph; version 2 names a stored secret instead. The old
    #: password is dropped, not carried over: it must not stay in graph JSON (docs/secrets.md).
    config_migrations = {1: lambda config: _drop_password(config)}

    def run(self, ctx: NodeContext, config: ExtractConfig, inputs: ExtractIn) -> ExtractOut:
        ref = inputs.document
        path = ctx.artifacts.path(ref)
        kind = expect_kind(path, "document", ACCEPTED, "Extract text")
        if kind == "text" and is_markdown(ref.name, ref.media_type):
            kind = "markdown"
        password = ctx.secret(config.password_secret, "PDF password") if kind == "pdf" and config.password_secret \
            else ""
        options = ExtractOptions(
            ocr=config.ocr, password=password, pages=parse_pages(config.pages),
            tables=config.tables, limits=ctx.limits, log=ctx.log, check_cancelled=ctx.check_cancelled,
            ocr_engine=lambda: get_engine(ctx.models, config.ocr_engine, config.ocr_languages))
        result = READERS[kind](path, options)
        for warning in result.warnings:
            ctx.log(warning, "warning")
        uses_ocr = bool(result.metadata.get("ocr_pages"))
        metadata = {"kind": kind, "name": ref.name, **result.metadata, "warnings": result.warnings,
                    "ocr_engine": config.ocr_engine if uses_ocr else None}
        ocr_note = f", {len(result.metadata['ocr_pages'])} with {config.ocr_engine}" if uses_ocr else ""
        ctx.log(f"Read {len(result.pages)} page(s) of a {kind.upper()} file{ocr_note}.")
        return ExtractOut(text=_join(result.pages), markdown=_join(result.markdown_pages), pages=result.pages,
                          tables=result.tables, metadata=metadata, fields=result.fields)


def _drop_password(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "password"}


def _join(pages: list[str]) -> str:
    return "\n\n".join(page for page in pages if page.strip())
