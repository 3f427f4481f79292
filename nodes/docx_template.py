"""Word templates with docxtpl, always through the shared sandbox (nodes/templating.py).

docxtpl's own default environment is neither sandboxed nor escaping: a template could run shell
commands, and a value such as `ACME <Corp> & Sons` broke the XML and lost the rest of the document.
Every call here passes our environment, and every part docxtpl renders (body, headers, footers,
footnotes) is parsed first, so a mistake is reported with its line and the paragraph it sits in.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docx.image.exceptions import InvalidImageStreamError, UnexpectedEndOfFileError, UnrecognizedImageError
from docx.image.image import Image as DocxImage
from docx.opc.exceptions import OpcError
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import TemplateSyntaxError, meta
from lxml import etree

from .base import NodeError, NodeInputError
from .files import Limits, check_image_pixels, sniff
from .ports import FileRef
from .templating import TEMPLATE_ERRORS, Sandbox, template_failure

#: The document properties docxtpl renders (DocxTemplate.render_properties). They are plain strings, not
#: XML, so the escaping that protects the body must be undone there.
PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
PICTURE_KINDS = {"png", "jpeg", "gif", "bmp", "tiff"}  # what python-docx can place
IMAGE_ERRORS = (InvalidImageStreamError, UnexpectedEndOfFileError, UnrecognizedImageError, OSError, ValueError)
_PARAGRAPH = re.compile(r"<w:p([ >])")
_TAG = re.compile(r"<[^>]+>")


def open_template(path: Path, port: str) -> DocxTemplate:
    """The template, loaded; a file that is a ZIP but not a readable Word document is a NodeInputError."""
    template = DocxTemplate(str(path))
    try:
        template.init_docx()
    except (OpcError, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise NodeInputError(port, f"The Word template cannot be opened ({exc}); save it again as .docx.") from None
    return template


def _parts(template: DocxTemplate) -> Iterator[tuple[str, str]]:
    """(where, xml) of every part that docxtpl renders, in the form docxtpl hands to Jinja2."""
    yield "the document body", template.get_xml()
    for uri, label in ((template.HEADER_URI, "header"), (template.FOOTER_URI, "footer")):
        for number, (_, part) in enumerate(template.get_headers_footers(uri), 1):
            yield f"{label} {number}", template.get_part_xml(part)
    for part in template.docx.part.package.parts:
        if part.content_type == FOOTNOTES:
            yield "the footnotes", part.blob.decode("utf-8")


def undeclared_variables(template: DocxTemplate, env: Sandbox) -> set[str]:
    """The names the template uses but does not define, as docxtpl's get_undeclared_template_variables
    finds them, plus footnotes; a syntax error names the part, the line and the paragraph's text."""
    names: set[str] = set()
    for where, xml in _parts(template):
        # Same preparation as DocxTemplate.render_xml_part: one paragraph per line.
        source = _PARAGRAPH.sub(r"\n<w:p\1", template.patch_xml(xml))
        try:
            names |= meta.find_undeclared_variables(env.parse(source))
        except TemplateSyntaxError as exc:
            lines = source.splitlines()
            text = _TAG.sub("", lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else "").strip()
            exc.lineno = max(exc.lineno - 1, 1)  # line 1 holds the part's opening tags, not a paragraph
            quoted = f", in the paragraph “{text[:80]}{'…' if len(text) > 80 else ''}”" if text else ""
            raise template_failure(exc, f" (counting paragraphs) of {where}{quoted}") from None
    return names - set(env.globals)


def picture(template: DocxTemplate, ref: FileRef, path: Path, width_mm: float, port: str,
            limits: Limits) -> InlineImage | str:
    """An image file becomes a picture in the document; any other file is shown by its name."""
    if sniff(path) not in PICTURE_KINDS:
        return ref.name
    try:
        image = DocxImage.from_file(str(path))
    except IMAGE_ERRORS as exc:
        raise NodeInputError(port, f"The picture '{ref.name}' cannot be read ({exc}).") from None
    check_image_pixels(image.px_width, image.px_height, port, limits)
    return InlineImage(template, str(path), width=Mm(width_mm))


def render(template: DocxTemplate, values: dict[str, Any], env: Sandbox) -> bytes:
    """The filled document as DOCX bytes."""
    try:
        template.render(values, jinja_env=env)
    except TEMPLATE_ERRORS as exc:
        raise template_failure(exc) from None
    except etree.XMLSyntaxError as exc:
        raise NodeError("The filled template is not a valid Word document; a {%p %}, {%tr %} or {%tc %} tag is "
                        f"probably in the wrong place ({exc}).", code="template_error") from None
    properties = template.docx.core_properties
    for name in PROPERTIES:
        value = getattr(properties, name)
        if value and "&" in value:
            setattr(properties, name, html.unescape(value))
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()
