"""The engine: starts runs, runs one node of one run, hands off to the nodes that become ready.

It never talks to the broker: it is given a `dispatch` callable, so the same engine runs behind the
embedded in-process worker and behind Redis workers (`worker.py`).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from nodes.base import NodeContext, NodeError, TransientNodeError
from nodes.files import Limits
from nodes.graph_io import coerce_input
from nodes.registry import Registry
from storage.artifacts import ArtifactStore
from storage.graphs import GraphRepository
from storage.runs import RunRepository

from .errors import GraphInvalid, InputsInvalid, RetryLater
from .formats import load_graph
from .plan import Plan
from .validate import ResolvedNode, node_title, resolve_graph, validate_graph

log = logging.getLogger("minddocs.engine")

#: Node outputs larger than this (as JSON) are kept in the artifact store instead of the database.
LARGE_OUTPUT_BYTES = 256 * 1024
RETRY_MAX_MS = 60_000


class Dispatch(Protocol):
    def __call__(self, run_id: str, node_id: str, *, queue: str, time_limit_s: float) -> None: ...


class Observer(Protocol):
    """Hooks around each node run: progress, metrics, logs. Errors in observers are logged, not raised."""

    def before_node(self, run_id: str, node_id: str, node_type: str) -> None: ...

    def after_node(self, run_id: str, node_id: str, node_type: str, state: str, duration_ms: float) -> None: ...


@dataclass
class Loaded:
    plan: Plan
    nodes: dict[str, ResolvedNode]


class Engine:
    def __init__(self, *, runs: RunRepository, graphs: GraphRepository, artifacts: ArtifactStore,
                 registry: Registry, executor_name: str, max_nodes: int = 500,
                 observers: list[Observer] | None = None, limits: Limits | None = None, llm: Any = None,
                 models_dir: Path | None = None):
        self.runs = runs
        self.graphs = graphs
        self.artifacts = artifacts
        self.registry = registry
        self.executor_name = executor_name
        self.max_nodes = max_nodes
        self.observers = list(observers or [])
        self.models: dict[str, Any] = {}  # model cache shared by node runs of this process
        self.limits = limits or Limits()
        self.llm = llm
        self.models_dir = models_dir
        self.dispatch: Dispatch | None = None
        self._cache: OrderedDict[str, Loaded] = OrderedDict()
        self._runs: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
        self._lock = threading.Lock()

    # --- loading --------------------------------------------------------------------------------
    def load(self, version_id: str) -> Loaded:
        """The plan of a graph version; versions are immutable, so the result is cached."""
        with self._lock:
            if version_id in self._cache:
                self._cache.move_to_end(version_id)
                return self._cache[version_id]
        version = self.graphs.version(version_id)
        if version is None:
            raise LookupError(f"Graph version {version_id} does not exist.")
        spec = load_graph(version.spec)
        issues = validate_graph(spec, self.registry, max_nodes=self.max_nodes)
        if issues:
            raise GraphInvalid(issues)
        loaded = Loaded(Plan(spec), resolve_graph(spec, self.registry))
        with self._lock:
            self._cache[version_id] = loaded
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return loaded

    # --- starting, cancelling, recovering -------------------------------------------------------
    def check_inputs(self, plan: Plan, inputs: dict[str, Any]) -> dict[str, Any]:
        declared = {decl.name: decl for decl in plan.inputs}
        problems = {name: "is not an input of this graph" for name in inputs if name not in declared}
        clean = {}
        for name, decl in declared.items():
            value = inputs.get(name, decl.default)
            if value is None:
                problems[name] = f"is required ({decl.kind}); give a value for '{decl.label or name}'"
                continue
            try:
                clean[name] = coerce_input(decl.kind, value)
            except ValueError as exc:
                problems[name] = str(exc)
        if problems:
            raise InputsInvalid(problems)
        return {k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in clean.items()}

    def start(self, version_id: str, owner_id: str, inputs: dict[str, Any]) -> str:
        """Validate everything, create the run and dispatch the nodes that need nothing upstream."""
        loaded = self.load(version_id)
        clean = self.check_inputs(loaded.plan, inputs)
        roots = loaded.plan.roots
        run_id = self.runs.create(
            version_id=version_id, owner_id=owner_id, inputs=clean, executor=self.executor_name,
            nodes=[(n.spec.id, n.spec.type, n.node_type.queue) for n in loaded.nodes.values()], first=roots,
        )
        for node_id in roots:
            self._send(run_id, loaded.nodes[node_id])
        return run_id

    def cancel(self, run_id: str) -> bool:
        return self.runs.cancel(run_id)

    def recover(self, is_dead: Callable[[str], bool], prefix: str) -> list[str]:
        """Re-dispatch the queued and running nodes of runs whose executor died; returns the run ids."""
        adopted = []
        for run_id, executor in self.runs.unfinished(prefix):
            if executor == self.executor_name or not is_dead(executor):
                continue
            nodes = self.runs.adopt(run_id, executor, self.executor_name)
            if not nodes:
                continue
            self.runs.log(run_id, None, "warning", "The process running this run stopped; resuming it.")
            run = self.runs.get(run_id, with_nodes=False)
            loaded = self.load(run.graph_version_id)  # type: ignore[union-attr]
            for node_id, _queue in nodes:
                self._send(run_id, loaded.nodes[node_id])
            adopted.append(run_id)
        return adopted

    def _send(self, run_id: str, node: ResolvedNode) -> None:
        assert self.dispatch is not None, "Engine.dispatch is set by the executor"
        self.dispatch(run_id, node.spec.id, queue=node.node_type.queue, time_limit_s=self._timeout(node))

    @staticmethod
    def _timeout(node: ResolvedNode) -> float:
        return node.spec.timeout_s or node.node_type.timeout_s

    # --- running one node -----------------------------------------------------------------------
    def execute(self, run_id: str, node_id: str, retries: int = 0) -> str:
        """Run one node of one run and hand off to its children. Returns the node's new state."""
        claim = self.runs.claim(run_id, node_id)
        if claim != "claimed":
            self._finish_run(run_id)
            return claim
        version_id, graph_inputs = self._run_info(run_id)
        loaded = self.load(version_id)
        node = loaded.nodes[node_id]
        self._notify("before_node", run_id, node_id, node.spec.type)
        started = time.perf_counter()
        try:
            inputs = self._gather(run_id, loaded.plan, node)
            ctx = NodeContext(run_id=run_id, node_id=node_id, artifacts=self.artifacts, graph_inputs=graph_inputs,
                              models=self.models, log_sink=lambda lvl, msg: self.runs.log(run_id, node_id, lvl, msg),
                              llm=self.llm, limits=self.limits, models_dir=self.models_dir)
            outputs = self._call(node, ctx, inputs)
        except TransientNodeError as exc:
            return self._transient(run_id, loaded, node, exc, retries, started)
        except NodeError as exc:
            return self._failed(run_id, loaded, node, exc.code, exc.message, started)
        except _NodeTimeout:
            return self._failed(run_id, loaded, node, "timeout", f"{node_title(node.spec, node.node_type)} took "
                                f"longer than {self._timeout(node):g} s and was stopped; raise its time limit or "
                                "give it less work.", started)
        except Exception:
            ref = uuid.uuid4().hex[:4]
            self.runs.log(run_id, node_id, "error", f"ref {ref}\n{traceback.format_exc()}")
            return self._failed(run_id, loaded, node, "unexpected", f"{node_title(node.spec, node.node_type)} "
                                f"failed unexpectedly (ref {ref}).", started)
        duration = (time.perf_counter() - started) * 1000
        stored, artifact = self._storable(node_id, outputs)
        children = {child: loaded.plan.parents(child) for child in loaded.plan.children(node_id)}
        ready, remaining = self.runs.complete(run_id, node_id, outputs=stored, outputs_artifact=artifact,
                                              duration_ms=duration, children=children)
        self._notify("after_node", run_id, node_id, node.spec.type, "succeeded", duration)
        for child in ready:
            self._send(run_id, loaded.nodes[child])
        if not remaining:
            self._finish_run(run_id, loaded)
        return "succeeded"

    def _run_info(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """Graph version and inputs of a run; both are immutable, so they are cached per process."""
        with self._lock:
            if run_id in self._runs:
                return self._runs[run_id]
        info = self.runs.run_info(run_id)
        if info is None:
            raise LookupError(f"Run {run_id} does not exist.")
        with self._lock:
            self._runs[run_id] = info
            while len(self._runs) > 4096:
                self._runs.popitem(last=False)
        return info

    def _gather(self, run_id: str, plan: Plan, node: ResolvedNode) -> Any:
        bindings = plan.bindings[node.spec.id]
        upstream = self._outputs(run_id, {source for source, _ in bindings.values()})
        values = {port: (upstream.get(source) or {}).get(source_port) for port, (source, source_port) in
                  bindings.items()}
        try:
            return node.node_type.Inputs.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            port = str(first["loc"][0]) if first["loc"] else None
            raise NodeError(f"Input '{port}' received a value it cannot use: {first['msg']}.", port=port,
                            code="bad_input") from None

    def _call(self, node: ResolvedNode, ctx: NodeContext, inputs: Any) -> dict[str, Any]:
        """Run the node; in a pool thread under its time limit, or right here for `inline` node types."""
        def work() -> dict[str, Any]:
            return node.node_type().run(ctx, node.config, inputs).model_dump(mode="json")

        if node.node_type.inline:
            return work()
        future = self._pool.submit(work)
        try:
            return future.result(timeout=self._timeout(node))
        except FutureTimeout:
            future.cancel()
            raise _NodeTimeout() from None  # a thread cannot be killed: it runs on, its result is ignored

    def _storable(self, node_id: str, outputs: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """Outputs as stored: JSON in the database, or in the artifact store when large."""
        data = json.dumps(outputs, separators=(",", ":")).encode()
        if len(data) <= LARGE_OUTPUT_BYTES:
            return outputs, None
        ref = self.artifacts.put_bytes(data, name=f"{node_id}-outputs.json", media_type="application/json")
        return None, ref.artifact

    def _outputs(self, run_id: str, node_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not node_ids:
            return {}
        out = {}
        for node_id, (outputs, artifact) in self.runs.outputs_of(run_id, node_ids).items():
            out[node_id] = json.loads(self.artifacts.read_bytes(artifact)) if artifact else (outputs or {})
        return out

    def _transient(self, run_id: str, loaded: Loaded, node: ResolvedNode, exc: Exception, retries: int,
                   started: float) -> str:
        if retries < node.node_type.max_retries:
            delay = int(min(node.node_type.retry_delay_s * 1000 * 2 ** retries, RETRY_MAX_MS))
            self.runs.log(run_id, node.spec.id, "warning", f"Temporary failure ({exc}); trying again in "
                          f"{delay / 1000:g} s (retry {retries + 1} of {node.node_type.max_retries}).")
            self.runs.requeue(run_id, node.spec.id)
            raise RetryLater(delay)
        return self._failed(run_id, loaded, node, "transient", f"{node_title(node.spec, node.node_type)} kept "
                            f"failing after {retries + 1} attempt(s): {exc}", started)

    def _failed(self, run_id: str, loaded: Loaded, node: ResolvedNode, code: str, message: str,
                started: float) -> str:
        duration = (time.perf_counter() - started) * 1000
        self.runs.log(run_id, node.spec.id, "error", message)
        remaining = self.runs.fail(run_id, node.spec.id, code=code, message=message, duration_ms=duration,
                                   descendants=loaded.plan.descendants(node.spec.id),
                                   skip_message=f"Not run because {node_title(node.spec, node.node_type)} failed.")
        self._notify("after_node", run_id, node.spec.id, node.spec.type, "failed", duration)
        if not remaining:
            self._finish_run(run_id, loaded)
        return "failed"

    def fail_stuck(self, run_id: str, node_id: str, code: str, message: str) -> None:
        """For the worker: a node whose message died outside the node's own code (e.g. a hard time limit)."""
        loaded = self.load(self._run_info(run_id)[0])
        self._failed(run_id, loaded, loaded.nodes[node_id], code, message, time.perf_counter())

    def _finish_run(self, run_id: str, loaded: Loaded | None = None) -> None:
        """Close the run when no node is left to run: keep the graph outputs, set the final state."""
        states = self.runs.node_states(run_id)
        if not states or any(state in ("pending", "queued", "running") for state in states.values()):
            return
        loaded = loaded or self.load(self._run_info(run_id)[0])
        sources = {name: b for name, b in loaded.plan.outputs.items() if b and states.get(b[0]) == "succeeded"}
        values = self._outputs(run_id, {source for source, _ in sources.values()})
        self.runs.set_outputs(run_id, {name: values[s].get(port) for name, (s, port) in sources.items()})
        self.runs.finish_run_if_done(run_id)

    def _notify(self, hook: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception("Observer %r failed in %s", observer, hook)


class _NodeTimeout(Exception):
    pass
