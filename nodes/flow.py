"""Flow control: choose a branch (condition, merge) and repeat work per item (for each, collect).

These node types only say what they do with values; the runtime does the skipping and the repeating
(graph_runtime/engine.py and loops.py): nodes fed by a branch that was not taken are skipped, and the
nodes between a For each and its Collect run once per item.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, Field, field_validator

from .base import NoConfig, NodeContext, NodeError, NodeInputError, NodeType
from .file_zip import pack
from .files import safe_file_name
from .ports import FILE, AnyValue, FileRef, ListOf, Number
from .registry import register
from .templating import TEMPLATE_ERRORS, sandbox, template_failure

_EXPRESSIONS = sandbox(autoescape=False)


class ConditionConfig(BaseModel):
    expression: str = Field(min_length=1, max_length=2000,
                            description="A test on 'value', e.g. value > 1000, value == 'yes', "
                            "value.country in ['ES', 'MX'], 'urgent' in value|lower")

    @field_validator("expression")
    @classmethod
    def _parses(cls, expression: str) -> str:
        try:
            _EXPRESSIONS.compile_expression(expression)
        except TemplateSyntaxError as exc:
            raise ValueError(f"the test cannot be read: {str(exc).rstrip('.')}") from None
        return expression


class ConditionIn(BaseModel):
    value: AnyValue = Field(description="The value tested and passed on to the branch taken")


class ConditionOut(BaseModel):
    true: AnyValue = Field(None, description="The value, when the test is true")
    false: AnyValue = Field(None, description="The value, when the test is false")


@register
class Condition(NodeType[ConditionConfig, ConditionIn, ConditionOut]):
    """Send the value down the 'true' or the 'false' branch; the other branch is skipped."""

    type_id = "flow.condition"
    display_name = "Condition"
    category = "flow"
    inline = True  # one bounded sandboxed expression
    branching = True

    def run(self, ctx: NodeContext, config: ConditionConfig, inputs: ConditionIn) -> ConditionOut:
        try:
            result = _EXPRESSIONS.compile_expression(config.expression, undefined_to_none=False)(
                value=inputs.value, inputs=ctx.graph_inputs)
            taken = bool(result)
        except TEMPLATE_ERRORS as exc:
            raise template_failure(exc, " of the test") from None
        passed = inputs.value if inputs.value is not None else taken
        ctx.log(f"The test is {'true' if taken else 'false'}.")
        return ConditionOut(true=passed) if taken else ConditionOut(false=passed)


class MergeIn(BaseModel):
    a: AnyValue = Field(None, description="First branch")
    b: AnyValue = Field(None, description="Second branch")
    c: AnyValue = Field(None, description="Third branch")
    d: AnyValue = Field(None, description="Fourth branch")


class MergeOut(BaseModel):
    value: AnyValue = Field(description="The value of the first branch that ran")


@register
class Merge(NodeType[NoConfig, MergeIn, MergeOut]):
    """Join branches again: passes on the value of the first branch that was not skipped."""

    type_id = "flow.merge"
    display_name = "Merge"
    category = "flow"
    inline = True
    takes_skipped = True

    def run(self, ctx: NodeContext, config: NoConfig, inputs: MergeIn) -> MergeOut:
        for value in (inputs.a, inputs.b, inputs.c, inputs.d):
            if value is not None:
                return MergeOut(value=value)
        raise NodeError("No branch connected to this Merge node produced a value.", code="nothing_to_merge")


class ForEachConfig(BaseModel):
    concurrency: int = Field(4, ge=1, le=64, description="Items worked on at the same time")
    on_item_error: Literal["fail_run", "skip_item"] = Field(
        "fail_run", description="When one item fails: stop the whole run, or leave that item out and report it")
    max_items: int = Field(10_000, ge=1, le=100_000, description="Refuse lists longer than this")


class ForEachIn(BaseModel):
    # Any, not List: JSON lists (from an input, a table, an LLM) are the common case; checked when run
    items: AnyValue = Field(description="The list to go through: records, pages, files…")


class ForEachOut(BaseModel):
    item: AnyValue = Field(None, description="The current item")
    index: Number = Field(0, description="Its position in the list, from 0")


@register
class ForEach(NodeType[ForEachConfig, ForEachIn, ForEachOut]):
    """Repeat the nodes between here and a Collect node once for every item of a list."""

    type_id = "flow.for_each"
    display_name = "For each"
    category = "flow"
    inline = True

    def split(self, ctx: NodeContext, config: ForEachConfig, inputs: ForEachIn) -> list[Any]:
        """The items, one run of the loop's body each (the runtime calls this instead of `run`)."""
        if not isinstance(inputs.items, list):
            raise NodeInputError("items", f"For each needs a list, but received {type(inputs.items).__name__} "
                                 f"{str(inputs.items)[:60]!r}; connect a list of records, pages or files.")
        if len(inputs.items) > config.max_items:
            raise NodeInputError("items", f"The list has {len(inputs.items):,} items; this node accepts at most "
                                 f"{config.max_items:,}. Raise 'max_items' or split the list.")
        ctx.log(f"{len(inputs.items)} item(s) to go through, {config.concurrency} at a time.")
        return list(inputs.items)

    def run(self, ctx: NodeContext, config: ForEachConfig, inputs: ForEachIn) -> ForEachOut:
        raise NodeError("A For each node only works inside a graph run, where its loop is repeated per item.")


class CollectConfig(BaseModel):
    zip_files: bool = Field(False, description="Also pack the collected files into one ZIP archive")
    archive_name: str = Field("results.zip", min_length=1, max_length=120, description="Name of that ZIP file")


class CollectIn(BaseModel):
    item: AnyValue = Field(description="The result of one item (the runtime hands over all of them, in order)")


class CollectOut(BaseModel):
    items: ListOf[AnyValue] = Field(description="The results of the items, in the order of the list")
    errors: ListOf[AnyValue] = Field(description="Items left out: their position and what went wrong")
    count: Number = Field(description="How many results were collected")
    archive: Annotated[FileRef | None, FILE] = Field(None, description="The collected files as one ZIP (when 'zip_files' is on)")


@register
class Collect(NodeType[CollectConfig, CollectIn, CollectOut]):
    """Gather the results of every item of a For each loop into one list, in order."""

    type_id = "flow.collect"
    display_name = "Collect"
    category = "flow"
    queue = "documents"

    def run(self, ctx: NodeContext, config: CollectConfig, inputs: CollectIn) -> CollectOut:
        items = [value for value in inputs.item if value is not None]
        archive = _zip(ctx, config.archive_name, items) if config.zip_files else None
        if ctx.item_errors:
            ctx.log(f"{len(ctx.item_errors)} item(s) left out after failing.", "warning")
        return CollectOut(items=items, errors=list(ctx.item_errors), count=len(items), archive=archive)


def _zip(ctx: NodeContext, name: str, items: list[Any]) -> FileRef:
    refs = []
    for position, value in enumerate(items):
        try:
            refs.append(FileRef.model_validate(value))
        except ValueError:
            raise NodeInputError("item", f"Item {position} is not a file, so the results cannot be zipped; turn "
                                 "'zip_files' off or collect the file a node produces.") from None
    return pack(ctx, refs, safe_file_name(name if name.lower().endswith(".zip") else f"{name}.zip"), port="item")
