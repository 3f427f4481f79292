"""The registry of node types: registration checks, plug-in loading and the catalogue export."""

from __future__ import annotations

import importlib
import logging
import re
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from .base import NodeType, ports_of
from .ports import port_type_of
from .translations import NodeTexts, texts_of, translate_entry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "minddocs.nodes"
TYPE_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
QUEUE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
PORT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class RegistrationError(Exception):
    """A node type breaks the rules; `problems` lists every rule it breaks."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def problems_of(cls: type[NodeType], existing: dict[str, type[NodeType]]) -> list[str]:
    name = cls.__qualname__
    type_id = getattr(cls, "type_id", None)
    problems = []
    if not isinstance(type_id, str) or not TYPE_ID.match(type_id):
        problems.append(f"{name}: type_id {type_id!r} must look like 'family.verb' (lower case, digits, _).")
    elif type_id in existing and existing[type_id] is not cls:
        problems.append(f"{name}: type_id '{type_id}' is already registered by {existing[type_id].__qualname__}.")
    if not isinstance(cls.version, int) or cls.version < 1:
        problems.append(f"{name}: version must be a whole number of at least 1.")
    missing_steps = [v for v in range(1, cls.version) if v not in cls.config_migrations]
    if cls.config_migrations and missing_steps:
        problems.append(f"{name}: config_migrations lacks the step(s) from version {missing_steps}.")
    if not cls.description():
        problems.append(f"{name}: needs a docstring; its first line is the tooltip in the editor.")
    if not cls.category:
        problems.append(f"{name}: needs a category.")
    if not QUEUE.match(cls.queue or ""):
        problems.append(f"{name}: queue {cls.queue!r} must be a short lower-case name such as 'documents'.")
    if "run" not in {k for klass in cls.__mro__ if klass is not NodeType for k in vars(klass)}:
        problems.append(f"{name}: must implement run(ctx, config, inputs).")
    for role in ("Config", "Inputs", "Outputs"):
        model = getattr(cls, role, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            problems.append(f"{name}: {role} must be a pydantic model (NodeType[Config, Inputs, Outputs]).")
        elif role != "Config":
            for port, info in model.model_fields.items():
                if not PORT_NAME.match(port):
                    problems.append(f"{name}: port name '{port}' must be lower case letters, digits and _.")
                if port_type_of(info) is None:
                    problems.append(f"{name}: port '{port}' has no port type (use Text, File, ListOf[...]...).")
    return problems


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, type[NodeType]] = {}

    def register(self, cls: type[NodeType]) -> type[NodeType]:
        problems = problems_of(cls, self._types)
        if problems:
            raise RegistrationError(problems)
        self._types[cls.type_id] = cls
        return cls

    def get(self, type_id: str) -> type[NodeType] | None:
        return self._types.get(type_id)

    def __contains__(self, type_id: str) -> bool:
        return type_id in self._types

    def __iter__(self):
        return iter(sorted(self._types.values(), key=lambda t: (t.category, t.type_id)))

    def queues(self) -> set[str]:
        return {t.queue for t in self._types.values()}

    def texts(self, type_id: str, lang: str) -> NodeTexts | None:
        """A node type's texts in `lang` from its `locale/<lang>.toml` (nodes/translations.py), if any."""
        cls = self._types.get(type_id)
        return texts_of(cls, lang) if cls else None

    def catalogue(self, lang: str | None = None) -> list[dict[str, Any]]:
        """Every node type with the JSON Schemas that the editor builds its forms and sockets from.

        With `lang`, names, descriptions, ports and settings are in that language where a translation file
        has them (English otherwise), and each entry gets a `category_label`.
        """
        out = []
        for cls in self:
            default_config = cls.Config.model_construct()
            out.append(
                {
                    "type_id": cls.type_id,
                    "version": cls.version,
                    "display_name": cls.display_name,
                    "description": cls.description(),
                    "doc": (cls.__doc__ or "").strip(),
                    "category": cls.category,
                    "queue": cls.queue,
                    "timeout_s": cls.timeout_s,
                    "config_schema": cls.Config.model_json_schema(),
                    "inputs_schema": cls.Inputs.model_json_schema(),
                    "outputs_schema": cls.Outputs.model_json_schema(),
                    "inputs": [p.to_json() for p in _safe_ports(cls.input_ports, default_config, cls.Inputs)],
                    "outputs": [p.to_json() for p in _safe_ports(cls.output_ports, default_config, cls.Outputs)],
                }
            )
            if lang:
                out[-1] = translate_entry(cls, out[-1], lang)
        return out


def _safe_ports(method, config, model):
    try:
        return method(config)
    except Exception:  # config-driven ports with an incomplete default config: show the static ones
        return ports_of(model)


#: The process-wide registry that `@register` fills.
registry = Registry()


def register(cls: type[NodeType]) -> type[NodeType]:
    """Class decorator: check the node type and add it to the registry."""
    return registry.register(cls)


def load_plugins(target: Registry = registry) -> list[str]:
    """Import every module named in the `minddocs.nodes` entry-point group (built-ins included).

    An entry point may name a module (importing it registers its node types with `@register`) or a
    NodeType class. Returns the names loaded; a plug-in that fails to load is logged and skipped, so
    one broken package does not take the whole application down.
    """
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception:
            log.exception("Node plug-in %s (%s) failed to load; its node types are unavailable.", ep.name, ep.value)
            continue
        if isinstance(obj, type) and issubclass(obj, NodeType) and obj.type_id not in target:
            target.register(obj)
        loaded.append(ep.name)
    return loaded


def load_modules(names: list[str]) -> None:
    """Import extra node modules by dotted name (setting `MINDDOCS_NODE_MODULES`)."""
    for name in names:
        importlib.import_module(name)
