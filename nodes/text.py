"""text.template and text.join: build texts from upstream values."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import NodeContext, NodeError, NodeType, Port
from .ports import ANY, TEXT, Text
from .registry import register

MAX_OUTPUT_CHARS = 5_000_000
_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateConfig(BaseModel):
    template: str = Field(
        "", max_length=200_000, description="Text with {{ placeholders }}, e.g. 'Dear {{ name }},'",
        json_schema_extra={"format": "textarea"},
    )
    variables: list[str] = Field(
        default_factory=list, max_length=50, description="One input per name, usable in the template"
    )

    @field_validator("variables")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name.isidentifier() or not name.islower() or name.startswith("_"):
                raise ValueError(f"'{name}' is not a usable name; use lower-case letters, digits and _")
        if len(set(names)) != len(names):
            raise ValueError("each variable name may appear only once")
        return names

    @model_validator(mode="after")
    def _compiles(self) -> TemplateConfig:
        try:
            used = meta.find_undeclared_variables(_env.parse(self.template))
        except TemplateError as exc:
            raise ValueError(f"the template has a mistake on line {getattr(exc, 'lineno', '?')}: {exc}") from None
        unknown = sorted(used - set(self.variables) - set(_env.globals))
        if unknown:
            raise ValueError(f"the template uses {', '.join(unknown)} but no such variable is declared; add it")
        return self


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per declared variable


class TemplateOut(BaseModel):
    text: Text


@register
class TextTemplate(NodeType[TemplateConfig, TemplateIn, TemplateOut]):
    """Fill a text template with values from upstream nodes."""

    type_id = "text.template"
    display_name = "Text template"
    category = "text"

    @classmethod
    def input_ports(cls, config: TemplateConfig) -> list[Port]:
        return [Port(name, ANY, True, f"Value for {{{{ {name} }}}}") for name in config.variables]

    def run(self, ctx: NodeContext, config: TemplateConfig, inputs: TemplateIn) -> TemplateOut:
        values: dict[str, Any] = dict(inputs.model_extra or {})
        chunks, size = [], 0
        try:
            # Counted while filling, so a runaway loop is stopped before it fills the memory.
            for chunk in _env.from_string(config.template).generate(values):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise NodeError("The filled template is longer than 5 million characters.",
                                    code="output_too_large")
                chunks.append(chunk)
        except SecurityError as exc:
            raise NodeError(f"The template tried something that is not allowed ({exc}).", code="template_forbidden")
        except UndefinedError as exc:
            raise NodeError(f"The template refers to something that does not exist: {_sentence(exc)}.",
                            code="template_error")
        except (TemplateError, TypeError, ValueError, OverflowError) as exc:
            raise NodeError(f"The template could not be filled: {_sentence(exc)}.", code="template_error")
        text = "".join(chunks)
        return TemplateOut(text=text)


def _sentence(exc: Exception) -> str:
    return str(exc).rstrip(".")


class JoinConfig(BaseModel):
    parts: int = Field(2, ge=2, le=20, description="How many texts to join")
    separator: str = Field("\n\n", max_length=100, description="Put between the texts")
    skip_empty: bool = Field(True, description="Leave out texts that are empty")


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # text_1 … text_N


class JoinOut(BaseModel):
    text: Text


@register
class TextJoin(NodeType[JoinConfig, JoinIn, JoinOut]):
    """Join several texts into one, in order, with a separator."""

    type_id = "text.join"
    display_name = "Join texts"
    category = "text"

    @classmethod
    def input_ports(cls, config: JoinConfig) -> list[Port]:
        return [Port(f"text_{i}", TEXT, i == 1, f"Text number {i}") for i in range(1, config.parts + 1)]

    def run(self, ctx: NodeContext, config: JoinConfig, inputs: JoinIn) -> JoinOut:
        values = inputs.model_extra or {}
        parts = [str(values.get(f"text_{i}") or "") for i in range(1, config.parts + 1)]
        if config.skip_empty:
            parts = [p for p in parts if p.strip()]
        return JoinOut(text=config.separator.join(parts))
