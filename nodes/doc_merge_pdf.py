"""doc.merge_pdf: several documents joined into one PDF.

A node type of its own rather than a list input of doc.export: its form asks a different question
(which documents, in which order), and doc.export stays "one document in, one out".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .base import NodeContext, NodeInputError, NodeType, Port, ports_of
from .export import MEDIA_TYPES, check_source, pdf
from .ports import FILE, Document, File, FileRef, Json, ListOf
from .registry import register
from .templating import check_name_template, render_file_name

PICTURES = frozenset({"png", "jpeg", "tiff"})


class MergeConfig(BaseModel):
    parts: int = Field(2, ge=0, le=20, title="Number of documents",
                       description="How many documents to connect one by one (0 if you connect a list to 'documents')")
    file_name: str = Field("merged", max_length=300, title="File name", description="Name of the merged PDF")
    pdf_engine: pdf.PdfEngine = Field("auto", title="PDF engine", description=pdf.ENGINE_HELP)
    page_size: pdf.PageSize = Field("A4", title="Page size",
                                    description="Page size of pages made by the Python route")

    @field_validator("file_name")
    @classmethod
    def _file_name_compiles(cls, pattern: str) -> str:
        return check_name_template(pattern)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # document_1 … document_N
    documents: ListOf[File] = Field(default_factory=list, description="A list of documents, added after the "
                                                                      "numbered ones")


class MergeOut(BaseModel):
    document: Document
    info: Json = Field(description="Pages of each part and how non-PDF parts were converted")


@register
class MergePdf(NodeType[MergeConfig, MergeIn, MergeOut]):
    """Join several documents into one PDF, in order; Word, Markdown, HTML and pictures are converted first."""

    type_id = "doc.merge_pdf"
    display_name = "Merge into PDF"
    category = "documents"
    queue = "documents"
    timeout_s = 300

    @classmethod
    def input_ports(cls, config: MergeConfig) -> list[Port]:
        numbered = [Port(f"document_{i}", FILE, True, f"Document number {i}") for i in range(1, config.parts + 1)]
        return numbered + ports_of(cls.Inputs)

    def run(self, ctx: NodeContext, config: MergeConfig, inputs: MergeIn) -> MergeOut:
        extra = inputs.model_extra or {}
        items = [(f"document_{i}", extra[f"document_{i}"]) for i in range(1, config.parts + 1)
                 if extra.get(f"document_{i}")] + [("documents", ref) for ref in inputs.documents]
        if not items:
            raise NodeInputError("documents", "There is nothing to merge: connect at least one document.")
        parts, info = [], []
        with tempfile.TemporaryDirectory(prefix="minddocs-merge-") as tmp:
            for number, (port, value) in enumerate(items, 1):
                ref = _file(value, port)
                path = ctx.artifacts.path(ref)
                kind = check_source(path, port, ctx.limits, "Merge into PDF", also=PICTURES)
                if kind in PICTURES:
                    data, route = pdf.image_to_pdf(path, port, ctx.limits), "picture"
                else:
                    workdir = Path(tmp) / str(number)
                    workdir.mkdir()
                    data, route, _ = pdf.to_pdf(path, kind, workdir, engine=config.pdf_engine, limits=ctx.limits,
                                                page_size=config.page_size, title=Path(ref.name).stem)
                parts.append((ref.name, data))
                info.append({"name": ref.name, "route": route})
        merged, counts = pdf.merge(parts, ctx.limits, "documents")
        for entry, pages in zip(info, counts, strict=True):
            entry["pages"] = pages
        name = render_file_name(config.file_name, {}, default="merged", extension="pdf")
        return MergeOut(document=ctx.artifacts.put_bytes(merged, name=name, media_type=MEDIA_TYPES["pdf"]),
                        info={"pages": sum(counts), "parts": info})


def _file(value: Any, port: str) -> FileRef:
    try:
        return value if isinstance(value, FileRef) else FileRef.model_validate(value)
    except ValidationError:
        raise NodeInputError(port, "This input needs a stored file; connect a node that produces one.") from None
