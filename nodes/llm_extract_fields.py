"""llm.extract_fields: named, typed fields out of a text, by the language model or, offline, by patterns."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from . import fields_regex
from .base import NodeContext, NodeError, NodeInputError, NodeType, SecretName
from .llm_client import LLMReplyInvalid, client_for, count_tokens, split_into_chunks
from .ports import Json, Text
from .registry import register

FieldKind = Literal["text", "number", "date", "bool", "list"]
_PYTHON = {"text": str, "number": float, "date": dt.date, "bool": bool, "list": list[str]}
_SCHEMA = {"text": {"type": "string"}, "number": {"type": "number"},
           "date": {"type": "string", "description": "YYYY-MM-DD"}, "bool": {"type": "boolean"},
           "list": {"type": "array", "items": {"type": "string"}}}


class FieldSpec(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Key in the result, e.g. invoice_number")
    type: FieldKind = Field("text", description="text, number, date (YYYY-MM-DD), bool (yes/no) or list")
    description: str = Field("", max_length=500, description="What to look for, e.g. 'Amount due, in euros'")
    required: bool = Field(False, description="Fail when the field is not found (otherwise it is left empty)")
    pattern: str | None = Field(None, max_length=500, description="Offline search: a regular expression; "
                                "the value is its group named 'value', else its first group, else the match")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        try:
            re.compile(pattern or "")
        except re.error as exc:
            raise ValueError(f"the pattern is not a valid regular expression: {exc}") from None
        return pattern or None


class ExtractConfig(BaseModel):
    fields: list[FieldSpec] = Field(min_length=1, max_length=100, description="The fields to find")
    instructions: str = Field("", max_length=5000, json_schema_extra={"format": "textarea"},
                              description="Extra hints for the model, e.g. 'Amounts are in euros'")
    use_llm: bool = Field(True, description="Use the configured language model. Off: only the offline "
                          "patterns, and the text never leaves MindDocs")
    api_key: SecretName | None = Field(
        None, title="API key (secret)",
        description="Use this stored secret as the API key for this node instead of the configured one "
        "(Secrets page); empty: the configured key")

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[FieldSpec]) -> list[FieldSpec]:
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ValueError("each field name may appear only once")
        return fields


class ExtractIn(BaseModel):
    text: Text


class ExtractOut(BaseModel):
    fields: Json = Field(description="One key per field; null when not found")
    info: Json = Field(description="How the fields were found: method 'llm' or 'regex', model, chunks…")


def fields_model(fields: list[FieldSpec], *, all_optional: bool = False) -> type[BaseModel]:
    """A pydantic model of the field list (aliases: a field may be called 'json' or 'model_config')."""
    definitions: dict[str, Any] = {}
    for i, spec in enumerate(fields):
        kind = _PYTHON[spec.type]
        if spec.required and not all_optional:
            definitions[f"f{i}"] = (kind, Field(alias=spec.name))
        else:
            definitions[f"f{i}"] = (kind | None, Field(None, alias=spec.name))
    config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    return create_model("Fields", __config__=config, **definitions)


def json_schema(fields: list[FieldSpec]) -> dict[str, Any]:
    """Strict structured-output schema: every key present, null allowed where the field is optional."""
    properties = {}
    for spec in fields:
        prop = dict(_SCHEMA[spec.type])
        if not spec.required:
            prop["type"] = [prop["type"], "null"]
        if spec.description:
            prop["description"] = " — ".join(filter(None, [spec.description, prop.get("description")]))
        properties[spec.name] = prop
    return {"type": "object", "properties": properties, "required": [f.name for f in fields],
            "additionalProperties": False}


@register
class ExtractFields(NodeType[ExtractConfig, ExtractIn, ExtractOut]):
    """Find named fields (number, date, name, …) in a text and return them as JSON.

    With a language model configured, the model fills the fields (structured output, checked against the
    field list; a wrong answer is sent back once for correction). Without one, or with `use_llm` off, each
    field is looked for by its pattern, its label ('Total: 1.234,56') or, for dates, e-mails, web addresses
    and phone numbers, by its shape. `info.method` says which one ran.
    """

    type_id = "llm.extract_fields"
    uses_llm = True
    deterministic = False  # the model answers at the configured temperature
    display_name = "Extract fields"
    category = "ai"
    queue = "default"  # waiting on the network, not the CPU
    timeout_s = 600
    max_retries = 2  # for rate limits and server errors left after the client's own retries
    retry_delay_s = 5.0

    def run(self, ctx: NodeContext, config: ExtractConfig, inputs: ExtractIn) -> ExtractOut:
        if not inputs.text.strip():
            raise NodeInputError("text", "The text is empty; connect a node that produces text.")
        llm = client_for(ctx, config.api_key) if config.use_llm else None
        if llm is not None:
            values, info = self._with_llm(llm, ctx, config, inputs.text)
        else:
            values, how = fields_regex.find_fields(inputs.text, config.fields)
            info = {"method": "regex", "model": None, "how": how}
        try:
            fields = fields_model(config.fields).model_validate(values).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            if error.get("input") is not None:
                raise NodeError(f"The value found for field '{name}' is not usable: {error['msg']}.",
                                code="field_invalid") from None
            where = "the model's answer" if info["method"] == "llm" else "the text (offline pattern search)"
            raise NodeError(f"The required field '{name}' was not found in {where}.",
                            code="field_missing") from None
        info["missing"] = [name for name, value in fields.items() if value is None]
        return ExtractOut(fields=fields, info=info)

    def _with_llm(self, llm: Any, ctx: NodeContext, config: ExtractConfig,
                  text: str) -> tuple[dict[str, Any], dict]:
        listing = "\n".join(f"- {f.name} ({f.type}{', required' if f.required else ''}): {f.description}"
                            for f in config.fields)
        overhead = count_tokens(listing + config.instructions + json.dumps(json_schema(config.fields)))
        chunks = split_into_chunks(text, max(256, llm.input_budget - overhead))
        # One chunk: the answer must satisfy the whole field list. Several: each part may lack some fields,
        # so each answer is checked for types only and 'required' is checked on the merged result.
        model = fields_model(config.fields, all_optional=len(chunks) > 1)
        schema = json_schema(config.fields if len(chunks) == 1 else
                             [f.model_copy(update={"required": False}) for f in config.fields])
        merged: dict[str, Any] = {}
        repaired = False
        for part, chunk in enumerate(chunks, 1):
            where = f"part {part} of {len(chunks)} of a document" if len(chunks) > 1 else "a document"
            messages = [{"role": "system", "content": "You extract fields from documents. Use only what the "
                         "document says; never guess. A field the document does not give is null. Dates "
                         "as YYYY-MM-DD, numbers as plain numbers (no thousands separators, no currency), "
                         f"yes/no as true/false. {config.instructions}".strip()},
                        {"role": "user", "content": f"Fields:\n{listing}\n\nThis is {where}:\n<document>\n"
                         f"{chunk}\n</document>"}]
            try:
                found, meta = llm.chat_json(messages, schema=schema, validate=model.model_validate)
            except LLMReplyInvalid as exc:
                raise NodeError(_invalid_reply(exc, config.fields), code="llm_invalid_output") from None
            repaired = repaired or meta["repaired"]
            for key, value in found.model_dump(mode="json", by_alias=True).items():
                if merged.get(key) is None:
                    merged[key] = value  # the first part that gives a field wins
        ctx.log(f"Fields extracted with {llm.model} from {len(chunks)} chunk(s).")
        return merged, {"method": "llm", "model": llm.model, "chunks": len(chunks), "repaired": repaired,
                        "response_format": meta["response_format"]}


def _invalid_reply(exc: LLMReplyInvalid, fields: list[FieldSpec]) -> str:
    if isinstance(exc.error, ValidationError):
        error = exc.error.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        return (f"The language model's value for field '{name}' is not valid even after one correction: "
                f"{error['msg']} (it gave {str(error.get('input'))[:80]!r}).")
    return (f"The language model did not answer with JSON for the fields {', '.join(f.name for f in fields)} "
            f"even after one correction ({exc.error}).")
