"""doc.fill_template: a Word, Markdown or HTML template filled with data, in the shared sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import docx_template
from .base import NodeContext, NodeError, NodeInputError, NodeType, Port, ports_of
from .files import check_zip, expect_kind
from .ports import ANY, FILE, Document, FileRef, Json, ListOf, Text
from .registry import register
from .templating import (
    MAX_OUTPUT_CHARS,
    check_name_template,
    check_variable_names,
    render_file_name,
    render_text,
    sandbox,
    variables_of,
)

MAX_DOCX_XML_CHARS = 50_000_000  # the XML of one part of a Word file: far more than its visible text
#: sniffed kind of the template -> (extension, media type) of the result
KINDS = {"docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
         "html": ("html", "text/html"), "text": ("md", "text/markdown")}


class FillConfig(BaseModel):
    template_file: FileRef | None = Field(
        None, title="Template", json_schema_extra={"format": "file", "kinds": sorted(KINDS)},
        description="Upload the template once: a Word document (.docx), Markdown or HTML with {{ placeholders }}; "
                    "or connect a file to the 'template' input instead")
    variables: list[str] = Field(default_factory=list, max_length=50, title="Extra inputs",
                                 description="One input per name, each usable as {{ name }}")
    missing: Literal["error", "placeholder"] = Field(
        "error", title="When a value is missing",
        description="'error' stops and names the missing values; 'placeholder' writes the text below instead")
    placeholder: str = Field("[missing]", max_length=200, title="Placeholder",
                             description="Written where a value is missing")
    file_name: str = Field("", max_length=300, title="File name",
                           description="Name of the result, e.g. contrato-{{ client }}; empty: the template's name")
    image_width_mm: float = Field(60, gt=5, le=500, title="Picture width (mm)",
                                  description="Width of pictures given as image files")

    @field_validator("variables")
    @classmethod
    def _usable_names(cls, names: list[str]) -> list[str]:
        return check_variable_names(names, {"template", "data"})

    @field_validator("file_name")
    @classmethod
    def _file_name_compiles(cls, pattern: str) -> str:
        return check_name_template(pattern)

    @model_validator(mode="after")
    def _placeholder_given(self) -> FillConfig:
        if self.missing == "placeholder" and not self.placeholder:
            raise ValueError("give the placeholder text to write where a value is missing")
        return self


class FillIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per configured variable
    template: Annotated[FileRef | None, FILE] = Field(None, description="The template, if not uploaded in the settings")
    data: Json = Field(None, description="Values for the placeholders, as named fields (e.g. from Extract fields)")


class FillOut(BaseModel):
    document: Document
    missing: ListOf[Text] = Field(description="Names that were filled with the placeholder")


@register
class FillTemplate(NodeType[FillConfig, FillIn, FillOut]):
    """Fill a Word, Markdown or HTML template with data and store the result as a document.

    Placeholders are written {{ name }}; {% for %} loops, {% if %} conditions, {%tr %} table rows and
    pictures (image files given as values) work as in docxtpl. Templates run in a sandbox: they cannot
    reach Python internals, and values are escaped so that '<' or '&' cannot break the document.
    """

    type_id = "doc.fill_template"
    display_name = "Fill template"
    category = "documents"
    queue = "documents"
    timeout_s = 120

    @classmethod
    def input_ports(cls, config: FillConfig) -> list[Port]:
        return ports_of(cls.Inputs) + [Port(n, ANY, True, f"Value for {{{{ {n} }}}}") for n in config.variables]

    def run(self, ctx: NodeContext, config: FillConfig, inputs: FillIn) -> FillOut:
        ref = inputs.template or config.template_file
        if ref is None:
            raise NodeInputError("template", "There is no template: upload one in the settings or connect a file "
                                             "to the 'template' input.")
        path = ctx.artifacts.path(ref)
        kind = expect_kind(path, "template", set(KINDS), "Fill template")
        values = {**_data(inputs.data), **(inputs.model_extra or {})}
        placeholder = config.placeholder if config.missing == "placeholder" else None
        env = sandbox(autoescape=kind != "text", placeholder=placeholder,
                      max_output_chars=MAX_DOCX_XML_CHARS if kind == "docx" else MAX_OUTPUT_CHARS)
        if kind == "docx":
            check_zip(path, "template", ctx.limits)
            template = docx_template.open_template(path, "template")
            used = docx_template.undeclared_variables(template, env)
        else:
            source = _decode(path)
            used = variables_of(env, source)
        missing = sorted(used - set(values))
        if missing and placeholder is None:
            raise NodeError(f"The template needs values that the data does not have: {', '.join(missing)}. Add them "
                            "to the data, or set 'When a value is missing' to 'placeholder'.", port="data",
                            code="missing_values")
        if missing:
            ctx.log(f"Filled with the placeholder: {', '.join(missing)}")
        extension, media_type = ("txt", "text/plain") if ref.name.lower().endswith(".txt") else KINDS[kind]
        name = render_file_name(config.file_name, values, default=f"{Path(ref.name).stem}-filled",
                                extension=extension, placeholder=placeholder)
        if kind == "docx":
            for key, value in list(values.items()):
                if file := _file_ref(value):
                    values[key] = docx_template.picture(template, file, ctx.artifacts.path(file),
                                                        config.image_width_mm, key, ctx.limits)
            content = docx_template.render(template, values, env)
        else:
            content = render_text(env, source, values).encode("utf-8")
        return FillOut(document=ctx.artifacts.put_bytes(content, name=name, media_type=media_type), missing=missing)


def _data(data: Any) -> dict[str, Any]:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise NodeInputError("data", "The data is text, not named fields; connect JSON such as "
                                         '{"client": "Ana"}.') from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NodeInputError("data", "The data must be named fields (a JSON object such as {\"client\": \"Ana\"}), "
                                     f"not a {type(data).__name__}.")
    return data


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NodeInputError("template", "The template is not UTF-8 text; save it as UTF-8.") from None


def _file_ref(value: Any) -> FileRef | None:
    """A file handed over as a value (a FileRef, or its JSON from an upstream node's output)."""
    if isinstance(value, dict) and "artifact" in value:
        try:
            return FileRef.model_validate(value)
        except ValidationError:
            return None
    return value if isinstance(value, FileRef) else None
