"""What the browser UI needs beyond `Services`: ports for a node's config, wiring checks, graph deletion.

Kept apart from `services.py` so the UI can grow without touching the core services; the UI calls these
functions with the process's `Services` and never reaches into `storage/` or `nodes/` itself.
"""

from __future__ import annotations

import copy
import json
import weakref
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select

from graph_runtime.plan import Plan
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import plain_errors_with_params
from nodes.ports import PortType, accepts
from nodes.translations import translate_ports
from storage.models import Graph, GraphVersion, NodeRun, Run, RunLog

from .errors import NotFound
from .services import Services


def _port_type(data: dict[str, Any]) -> PortType:
    return PortType(data["name"], _port_type(data["item"]) if data.get("item") else None)


class _RegistryCache:
    """What the UI derives from a registry alone: its catalogue and node ports by (type, config).

    Node types are registered at start-up and never change while the app runs, so this is kept per process
    (per registry object); it is rebuilt should the set of registered types change all the same.
    """

    PORTS_MAX = 4096

    def __init__(self, types: tuple[type, ...]) -> None:
        self.types = types
        self.catalogue: dict[str | None, list[dict[str, Any]]] = {}  # per language
        self.ports: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}


_caches: weakref.WeakKeyDictionary[Any, _RegistryCache] = weakref.WeakKeyDictionary()


def _cache(svc: Services) -> _RegistryCache:
    registry = svc.registry
    types = tuple(registry)
    cache = _caches.get(registry)
    if cache is None or cache.types != types:
        cache = _caches[registry] = _RegistryCache(types)
    return cache


def catalogue(svc: Services, lang: str | None = None) -> list[dict[str, Any]]:
    """`registry.catalogue(lang)`, built once per process and language (it builds JSON Schemas: ~60 ms);
    a copy per call."""
    cache = _cache(svc)
    if lang not in cache.catalogue:
        cache.catalogue[lang] = svc.registry.catalogue(lang)
    return copy.deepcopy(cache.catalogue[lang])


def _copy_ports(ports: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {role: [{**p, "type": copy.deepcopy(p["type"])} for p in items] for role, items in ports.items()}


def node_ports(svc: Services, type_id: str, config: dict[str, Any],
               lang: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The input and output ports of a node of `type_id` with this config (some ports follow the config),
    their descriptions in `lang` where the node type has a translation (nodes/translations.py).

    Memoised by (type, config): the editor asks for every node's ports on every redraw, and validating a
    config can be costly (a template is parsed). The caller gets its own copy.
    """
    cache = _cache(svc)
    try:
        key = (type_id, json.dumps(config, sort_keys=True))
    except (TypeError, ValueError):
        return _translated(svc, type_id, lang, _node_ports(svc, type_id, config))
    ports = cache.ports.get(key)
    if ports is None:
        ports = _node_ports(svc, type_id, config)
        if len(cache.ports) >= cache.PORTS_MAX:
            cache.ports.clear()
        cache.ports[key] = ports
    return _translated(svc, type_id, lang, _copy_ports(ports))


def _translated(svc: Services, type_id: str, lang: str | None,
                ports: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    if lang:
        texts = svc.registry.texts(type_id, lang)
        for role, items in ports.items():
            translate_ports(texts, role, items)
    return ports


def _node_ports(svc: Services, type_id: str, config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    cls = svc.registry.get(type_id)
    if cls is None:
        return {"inputs": [], "outputs": []}
    try:
        parsed = cls.Config.model_validate(config)
    except ValidationError:
        parsed = cls.Config.model_construct(**config)
    result = {}
    for role, method, model in (("inputs", cls.input_ports, cls.Inputs), ("outputs", cls.output_ports, cls.Outputs)):
        try:
            ports = method(parsed)
        except Exception:  # noqa: BLE001  an incomplete config: show the node type's static ports
            from nodes.base import ports_of

            ports = ports_of(model)
        result[role] = [p.to_json() for p in ports]
    return result


def config_problems(svc: Services, type_id: str, config: dict[str, Any],
                    describe: Callable[[dict[str, Any]], str] | None = None) -> dict[str, str]:
    """Field name ('' for the whole form) -> a sentence, for a node's config as the person types it.

    `describe` words a problem from its parameters ({error, problem, le, ...}: pydantic's error type and
    context, as validation issues carry them), e.g. in the person's language; pydantic's English otherwise.
    """
    cls = svc.registry.get(type_id)
    if cls is None:
        return {"": f"Unknown node type '{type_id}'."}
    try:
        cls.Config.model_validate(config)
    except ValidationError as exc:
        if describe is not None:
            return {loc.split(".")[0]: describe(params) for loc, _, params in plain_errors_with_params(exc)}
        return {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
    return {}


def connection_problem(source_port: dict[str, Any], target_port: dict[str, Any]) -> str | None:
    """None when an output port may feed an input port; otherwise why not (English; the UI translates)."""
    source, target = _port_type(source_port["type"]), _port_type(target_port["type"])
    if accepts(target, source):
        return None
    return f"'{target_port['name']}' expects {target} but '{source_port['name']}' gives {source}."


def port_accepts(target_type: dict[str, Any], source_type: dict[str, Any]) -> bool:
    return accepts(_port_type(target_type), _port_type(source_type))


def layout_generations(spec: dict[str, Any]) -> list[list[str]]:
    """Layers of node ids by topological generation (cycles: every node in one layer)."""
    try:
        return Plan(GraphSpec.model_validate(spec)).generations
    except (ValueError, KeyError):  # not a graph yet (pydantic's ValidationError is a ValueError)
        return [[n["id"] for n in spec.get("nodes", [])]]


def delete_graph(svc: Services, graph_id: str) -> None:
    """Delete a graph with all its versions and the runs made from them."""
    svc.graphs.get(graph_id)
    with svc.db.session() as s:
        version_ids = list(s.scalars(select(GraphVersion.id).where(GraphVersion.graph_id == graph_id)))
        run_ids = list(s.scalars(select(Run.id).where(Run.graph_version_id.in_(version_ids))))
        if run_ids:
            s.execute(delete(RunLog).where(RunLog.run_id.in_(run_ids)))
            s.execute(delete(NodeRun).where(NodeRun.run_id.in_(run_ids)))
            s.execute(delete(Run).where(Run.id.in_(run_ids)))
        s.execute(delete(GraphVersion).where(GraphVersion.graph_id == graph_id))
        deleted = s.execute(delete(Graph).where(Graph.id == graph_id)).rowcount
    if not deleted:
        raise NotFound(f"There is no graph with id {graph_id}.")


def graph_of_run(svc: Services, version_id: str) -> tuple[str, int, dict[str, Any]]:
    """(graph id, version number, spec) of the version a run was made from."""
    version = svc.graphs.version(version_id)
    return version.graph_id, version.number, version.spec


def node_outputs(svc: Services, run_id: str, node_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """node id -> its outputs JSON (outputs kept as an artifact are read back from the store)."""
    import json

    svc.runs.get(run_id)
    result: dict[str, dict[str, Any] | None] = {}
    for node_id, row in svc.runs.runs.outputs_of(run_id, node_ids).items():
        outputs, artifact = row[-2:]  # (state, outputs, artifact)
        if outputs is None and artifact:
            try:
                outputs = json.loads(svc.artifacts.path(artifact).read_bytes())
            except (OSError, ValueError):
                outputs = None
        result[node_id] = outputs
    return result


def pdf_first_page_png(svc: Services, sha256: str, *, width_px: int = 800) -> bytes | None:
    """The first page of a stored PDF as PNG, or None when it cannot be read."""
    import pymupdf

    from nodes.files import PYMUPDF_LOCK  # PyMuPDF must not run in two threads at once

    try:
        with PYMUPDF_LOCK, pymupdf.open(svc.artifacts.path(sha256)) as doc:
            if doc.page_count == 0:
                return None
            page = doc[0]
            zoom = width_px / max(page.rect.width, 1)
            return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom)).tobytes("png")
    except Exception:  # noqa: BLE001  a damaged PDF gets no preview; its download link still works
        return None
