"""text.template and text.join: build texts from upstream values."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Template, TemplateError, meta
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import NodeContext, NodeType, Port
from .ports import ANY, TEXT, Text
from .registry import register
from .templating import TEMPLATE_ERRORS, check_variable_names, sandbox, template_failure

_env = sandbox(autoescape=False)


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Compiling costs far more than filling; graphs run the same templates again and again."""
    return _env.from_string(source)


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
        return check_variable_names(names, reserved=set())

    @model_validator(mode="after")
    def _compiles(self) -> TemplateConfig:
        try:
            used = meta_variables(self.template)
        except TemplateError as exc:
            raise ValueError(f"the template has a mistake on line {getattr(exc, 'lineno', '?')}: "
                             f"{str(exc).rstrip('.')}") from None
        unknown = sorted(used - set(self.variables))
        if unknown:
            raise ValueError(f"the template uses {', '.join(unknown)} but no such variable is declared; add it")
        return self


@lru_cache(maxsize=512)
def meta_variables(source: str) -> frozenset[str]:
    """The variables a template uses. Cached: every validation of a config parses its template."""
    return frozenset(meta.find_undeclared_variables(_env.parse(source)) - set(_env.globals))


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
        try:
            # The sandbox counts the output while filling and bounds `*` and `**` (nodes/templating.py).
            return TemplateOut(text=_compiled(config.template).render(dict(inputs.model_extra or {})))
        except TEMPLATE_ERRORS as exc:
            raise template_failure(exc) from None


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
    inline = True
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
