"""io.input and io.output: the graph's interface to the CLI, the API, forms and schedules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from .base import NodeContext, NodeInputError, NodeType, NoPorts, Port
from .ports import ANY, INPUT_KINDS, AnyValue, FileRef
from .registry import register

NAME = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="Name used by the CLI, the API and forms")
Kind = Literal["text", "number", "bool", "json", "file", "document", "image", "audio"]
_PYTHON_TYPE: dict[str, Any] = {"text": str, "number": float, "bool": bool, "json": Any}


def coerce_input(kind: str, value: Any) -> Any:
    """Check a graph input value against its kind; raises ValueError with a plain sentence."""
    adapter = TypeAdapter(_PYTHON_TYPE.get(kind, FileRef))
    try:
        return adapter.validate_python(value)
    except ValidationError:
        wanted = "a stored file" if kind not in _PYTHON_TYPE else f"a {kind} value"
        raise ValueError(f"expects {wanted}, got {type(value).__name__} {str(value)[:60]!r}") from None


class InputConfig(BaseModel):
    name: str = NAME
    kind: Kind = Field("text", description="What the person running the graph provides")
    default: Any = Field(None, description="Value used when none is given; leave empty to make it required")
    label: str = Field("", max_length=120, description="Question shown on the run form")
    help: str = Field("", max_length=2000, description="Hint shown under the question")


class InputOut(BaseModel):
    value: AnyValue


@register
class GraphInput(NodeType[InputConfig, NoPorts, InputOut]):
    """A value or file given when the graph is run."""

    type_id = "io.input"
    inline = True
    display_name = "Input"
    category = "input/output"
    timeout_s = 30

    @classmethod
    def output_ports(cls, config: InputConfig) -> list[Port]:
        return [Port("value", INPUT_KINDS.get(config.kind, ANY), description=config.label or config.name)]

    def run(self, ctx: NodeContext, config: InputConfig, inputs: NoPorts) -> InputOut:
        value = ctx.graph_inputs.get(config.name, config.default)
        if value is None:
            raise NodeInputError("value", f"The graph input '{config.name}' was not given; provide a value for it.")
        try:
            return InputOut(value=coerce_input(config.kind, value))
        except ValueError as exc:
            raise NodeInputError("value", f"The graph input '{config.name}' {exc}.") from None


class OutputConfig(BaseModel):
    name: str = NAME
    label: str = Field("", max_length=120, description="Title shown next to the result")


class OutputIn(BaseModel):
    value: AnyValue


@register
class GraphOutput(NodeType[OutputConfig, OutputIn, NoPorts]):
    """A result of the graph, handed back to whoever ran it."""

    type_id = "io.output"
    inline = True
    display_name = "Output"
    category = "input/output"
    timeout_s = 30

    def run(self, ctx: NodeContext, config: OutputConfig, inputs: OutputIn) -> NoPorts:
        return NoPorts()
