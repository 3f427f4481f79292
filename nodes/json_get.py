"""json.get: pick one field out of a JSON value by its path."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from .base import NodeContext, NodeInputError, NodeType
from .ports import Json
from .registry import register

_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """'client.addresses[0].city' or 'client.addresses.0.city' -> ['client', 'addresses', 0, 'city']."""
    steps: list[str | int] = []
    for match in _TOKEN.finditer(path):
        token = match.group(1) if match.group(1) is not None else match.group(0)
        steps.append(int(token) if token.isdigit() else token)
    return steps


class GetConfig(BaseModel):
    path: str = Field(min_length=1, max_length=500, description="Field to pick, e.g. client.name or items[0].price")
    default: Any = Field(None, description="Value used when the field is missing; empty makes a missing field an error")

    @field_validator("path")
    @classmethod
    def _parses(cls, path: str) -> str:
        if not parse_path(path):
            raise ValueError("write a field name, e.g. client.name")
        return path


class GetIn(BaseModel):
    data: Json


class GetOut(BaseModel):
    value: Json


@register
class JsonGet(NodeType[GetConfig, GetIn, GetOut]):
    """Pick one field out of JSON data by its path, like client.name or items[0].price."""

    type_id = "json.get"
    inline = True
    display_name = "Get field"
    category = "data"

    def run(self, ctx: NodeContext, config: GetConfig, inputs: GetIn) -> GetOut:
        value, walked = inputs.data, []
        for step in parse_path(config.path):
            found, value = _step(value, step)
            if not found:
                if config.default is not None:
                    return GetOut(value=config.default)
                where = ".".join(map(str, walked)) or "the data"
                raise NodeInputError("data", f"There is no '{step}' in {where}{_choices(value)}.")
            walked.append(step)
        return GetOut(value=value)


def _step(value: Any, step: str | int) -> tuple[bool, Any]:
    if isinstance(value, dict) and str(step) in value:
        return True, value[str(step)]
    if isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
        return True, value[step]
    return False, value


def _choices(value: Any) -> str:
    if isinstance(value, dict):
        return f"; it has: {', '.join(list(map(str, value))[:12])}" if value else "; it is empty"
    if isinstance(value, list):
        return f"; it is a list of {len(value)} item(s), counted from 0"
    return f"; it is a {type(value).__name__}, not an object"
