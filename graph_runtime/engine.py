"""The engine: starts runs, runs one node of one run, hands off to the nodes that become ready.

It never talks to the broker: it is given a `dispatch` callable, so the same engine runs behind the
embedded in-process worker and behind Redis workers (`worker.py`).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from nodes.base import NodeCancelled, NodeContext, NodeError, TransientNodeError
from nodes.files import Limits
from nodes.graph_io import coerce_input
from nodes.registry import Registry
from storage.artifacts import ArtifactStore
from storage.cache import NodeCache, outputs_size
from storage.graphs import GraphRepository
from storage.runs import LoopStep, RunInfo, RunRepository

from .errors import GraphInvalid, InputsInvalid, RetryLater
from .formats import load_graph
from .loops import Loop, instance_id, split_instance
from .plan import Plan
from .validate import ResolvedNode, node_title, resolve_graph, validate_graph

log = logging.getLogger("minddocs.engine")

#: Node outputs larger than this (as JSON) are kept in the artifact store instead of the database.
LARGE_OUTPUT_BYTES = 256 * 1024
RETRY_MAX_MS = 60_000
#: Node runs one `execute` call may run after a reused result before handing the rest to the broker.
CONTINUE_MAX = 200
#: (run id, node run id) of the node run this thread works on; log formatters read it (app/logs.py)
CURRENT_NODE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("minddocs_node",
                                                                                     default=None)


class Dispatch(Protocol):
    def __call__(self, run_id: str, node_id: str, *, queue: str, time_limit_s: float) -> None: ...


class Observer(Protocol):
    """Hooks around each node run: progress, metrics, logs. Errors in observers are logged, not raised."""

    def before_node(self, run_id: str, node_id: str, node_type: str) -> None: ...

    def after_node(self, run_id: str, node_id: str, node_type: str, state: str, duration_ms: float) -> None: ...

    # optional: `run_finished(run_id, state)` once per run, in the process that closed it
    # ("succeeded"/"failed"); `run_started(run_id, version_id)` in the process that started it;
    # `node_reused(run_id, node_id, node_type)` right before the `after_node` of a node run whose result was
    # reused (node cache or a resumed run)


@dataclass
class Loaded:
    plan: Plan
    nodes: dict[str, ResolvedNode]


class Engine:
    def __init__(self, *, runs: RunRepository, graphs: GraphRepository, artifacts: ArtifactStore,
                 registry: Registry, executor_name: str, max_nodes: int = 500,
                 observers: list[Observer] | None = None, limits: Limits | None = None, llm: Any = None,
                 models_dir: Path | None = None, secrets: Callable[[str, str], str | None] | None = None,
                 cache: NodeCache | None = None, run_timeout_s: float = 0):
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
        #: (workspace id, name) -> value; values are decrypted here, per node run, and never stored
        self.secrets = secrets
        self.cache = cache  # reuse of node results across runs; None: off
        self.run_timeout_s = run_timeout_s  # default time limit of a whole run; 0: none
        self.dispatch: Dispatch | None = None
        self._cache: OrderedDict[str, Loaded] = OrderedDict()
        self._runs: OrderedDict[str, RunInfo] = OrderedDict()
        self._items: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()  # (run, for-each node) -> items
        self._cancelled: dict[str, tuple[float, bool]] = {}
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
        self._local = threading.local()  # per worker thread: node runs to continue with (see execute)
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

    def start(self, version_id: str, owner_id: str, inputs: dict[str, Any],
              options: dict[str, Any] | None = None, *, workspace_id: str, share_link_id: str | None = None,
              submission_hash: str | None = None) -> str:
        """Validate everything, create the run and dispatch the nodes that need nothing upstream.

        `options`: `reuse_from` (a run whose unchanged node results are reused: resuming), `no_cache`
        (execute every node), `force` (node ids executed even when a result could be reused),
        `timeout_s` (time limit of the whole run).
        """
        loaded = self.load(version_id)
        clean = self.check_inputs(loaded.plan, inputs)
        roots = loaded.plan.roots
        options = {k: v for k, v in (options or {}).items() if v not in (None, False, [], 0)}
        if self.run_timeout_s and "timeout_s" not in options:
            options["timeout_s"] = self.run_timeout_s
        run_id = self.runs.create(
            version_id=version_id, owner_id=owner_id, workspace_id=workspace_id, inputs=clean,
            executor=self.executor_name, share_link_id=share_link_id, submission_hash=submission_hash,
            nodes=[(n.spec.id, n.spec.type, n.node_type.queue) for n in loaded.nodes.values()], first=roots,
            options=options,
        )
        self._notify("run_started", run_id, version_id)
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
            for node_run_id, _queue in nodes:
                self._send(run_id, loaded.nodes[split_instance(node_run_id)[0]], node_run_id)
            adopted.append(run_id)
        return adopted

    def _send(self, run_id: str, node: ResolvedNode, node_run_id: str | None = None) -> None:
        assert self.dispatch is not None, "Engine.dispatch is set by the executor"
        self.dispatch(run_id, node_run_id or node.spec.id, queue=node.node_type.queue,
                      time_limit_s=self._timeout(node))

    def _send_all(self, run_id: str, loaded: Loaded, node_run_ids: list[str], *,
                  continue_queue: str | None = None) -> None:
        """Dispatch node runs; those of `continue_queue` run next in this very call when `execute` allows it
        (after a reused result: no message round trip for work that is mostly looking results up)."""
        continuing = getattr(self._local, "continuing", None)
        for node_run_id in node_run_ids:
            node = loaded.nodes[split_instance(node_run_id)[0]]
            if continuing is not None and continue_queue is not None and node.node_type.queue == continue_queue:
                continuing.append((run_id, node_run_id))
            else:
                self._send(run_id, node, node_run_id)

    @staticmethod
    def _timeout(node: ResolvedNode) -> float:
        return node.spec.timeout_s or node.node_type.timeout_s

    # --- running one node -----------------------------------------------------------------------
    def execute(self, run_id: str, node_run_id: str, retries: int = 0) -> str:
        """Run one node of one run (one item of it, inside a loop) and hand off. Returns its new state.

        When the node's result was reused, the node runs it makes ready on the same queue run here next,
        up to CONTINUE_MAX of them; the rest go through the broker as usual.
        """
        self._local.continuing = continuing = []
        try:
            state = self._execute(run_id, node_run_id, retries)
            for _ in range(CONTINUE_MAX):
                if not continuing:
                    break
                next_run, next_node = continuing.pop(0)
                try:
                    self._execute(next_run, next_node, 0)
                except RetryLater:  # a temporary failure: its retries go through the broker
                    self._send_node_run(next_run, next_node)
        finally:
            self._local.continuing = None
        for left_run, left_node in continuing:
            self._send_node_run(left_run, left_node)
        return state

    def _send_node_run(self, run_id: str, node_run_id: str) -> None:
        loaded = self.load(self._run_info(run_id).version_id)
        self._send(run_id, loaded.nodes[split_instance(node_run_id)[0]], node_run_id)

    def _execute(self, run_id: str, node_run_id: str, retries: int) -> str:
        token = CURRENT_NODE.set((run_id, node_run_id))
        try:
            return self._execute_node(run_id, node_run_id, retries)
        finally:
            CURRENT_NODE.reset(token)

    def _execute_node(self, run_id: str, node_run_id: str, retries: int) -> str:
        info = self._run_info(run_id)
        loaded = self.load(info.version_id)
        node_id, item = split_instance(node_run_id)
        node = loaded.nodes[node_id]
        work = _Work(run_id, node_run_id, item, node, loaded)
        if not node.node_type.inline and (info.options.get("reuse_from")
                                          or (self.cache is not None and self._cacheable(node, info, node_id))):
            reused_state = self._reuse_unclaimed(work, info)
            if reused_state is not None:
                return reused_state
        claim = self.runs.claim(run_id, node_run_id)
        if claim != "claimed":
            self._finish_run(run_id)
            return claim
        self._notify("before_node", run_id, node_run_id, node.spec.type)
        started = time.perf_counter()
        try:
            remaining_s = self._time_left(info)
            inputs, item_errors, missing = self._gather(work)
            if missing:
                return self._skip(work, missing, started)
            ctx = NodeContext(run_id=run_id, node_id=node_run_id, artifacts=self.artifacts,
                              graph_inputs=info.inputs, models=self.models,
                              log_sink=lambda lvl, msg: self.runs.log(run_id, node_run_id, lvl, msg),
                              llm=self.llm, limits=self.limits, models_dir=self.models_dir,
                              secrets=self._secrets_of(info.workspace_id), item=item, item_errors=item_errors,
                              is_cancelled=lambda: self._is_cancelled(run_id))
            key = self._key(node, inputs, item_errors, info.workspace_id)
            reused = self._reuse(work, info, key)
            if reused is not None:
                outputs, artifact, how = reused
                return self._succeeded(work, outputs, artifact, started, key=key, reused=how)
            if node_id in loaded.plan.loops:
                outputs = self._split(work, ctx, inputs)
            else:
                outputs = self._call(node, ctx, inputs, remaining_s)
        except TransientNodeError as exc:
            return self._transient(work, exc, retries, started)
        except NodeError as exc:
            return self._failed(work, exc.code, exc.message, started)
        except NodeCancelled:
            self.runs.stop_node(run_id, node_run_id)
            self.runs.log(run_id, node_run_id, "warning", "Stopped: the run was cancelled.")
            self._finish_run(run_id, loaded)
            return "cancelled"
        except _RunTimeout:
            limit = info.options.get("timeout_s")
            if self.runs.cancel(run_id, state="failed", code="run_timeout",
                                message=f"The run took longer than its limit of {limit:g} s and was stopped."):
                self._notify("run_finished", run_id, "failed")
            self.runs.stop_node(run_id, node_run_id)
            return "cancelled"
        except _NodeTimeout as exc:
            return self._failed(work, "timeout", f"{node_title(node.spec, node.node_type)} took longer than "
                                f"{exc.limit_s:g} s and was stopped; raise its time limit or give it less work.",
                                started)
        except Exception:
            ref = uuid.uuid4().hex[:4]
            self.runs.log(run_id, node_run_id, "error", f"ref {ref}\n{traceback.format_exc()}")
            return self._failed(work, "unexpected", f"{node_title(node.spec, node.node_type)} "
                                f"failed unexpectedly (ref {ref}).", started)
        stored, artifact = self._storable(node_run_id, outputs)
        if self.cache is not None and key and self._cacheable(node, info, node_id):
            self.cache.put(key, node.spec.type, stored, artifact, outputs_size(outputs))
        return self._succeeded(work, stored, artifact, started, key=key)

    def _reuse_unclaimed(self, work: _Work, info: RunInfo) -> str | None:
        """A result to reuse, found before claiming the node run: then claiming and completing it is one
        transaction (one commit instead of two). None when there is none, or anything needs the normal path."""
        started = time.perf_counter()
        try:
            inputs, item_errors, missing = self._gather(work)
        except NodeError:
            return None  # reported by the normal path, on a claimed node run
        if missing:
            return None
        key = self._key(work.node, inputs, item_errors, info.workspace_id)
        reused = self._reuse(work, info, key)
        if reused is None:
            return None
        self._notify("before_node", work.run_id, work.node_run_id, work.node.spec.type)
        outputs, artifact, how = reused
        return self._succeeded(work, outputs, artifact, started, key=key, reused=how, claiming=True)

    def _succeeded(self, work: _Work, outputs: dict[str, Any] | None, artifact: str | None, started: float, *,
                   key: str | None, reused: str | None = None, state: str = "succeeded",
                   claiming: bool = False) -> str:
        duration = (time.perf_counter() - started) * 1000
        plan, node_id = work.loaded.plan, work.node.spec.id
        loop_step, children = None, self._children(work)
        if node_id in plan.loops:  # a for-each node: its items' node runs start now (none when skipped)
            loop = plan.loops[node_id]
            items = len(self._loop_items(work.run_id, loop)) if state == "succeeded" else 0
            loop_step = replace(self._loop_step(work.loaded, loop, items), skipped=state == "skipped")
        elif work.item is not None:
            loop = plan.loop_of[node_id]
            loop_step = self._loop_step(work.loaded, loop, len(self._loop_items(work.run_id, loop)), work.item)
        ready, remaining = self.runs.complete(work.run_id, work.node_run_id, outputs=outputs,
                                              outputs_artifact=artifact, duration_ms=duration, children=children,
                                              state=state, cache_key=key, reused=reused, loop=loop_step,
                                              claiming=claiming)
        if reused:
            self._notify("node_reused", work.run_id, work.node_run_id, work.node.spec.type)
        self._notify("after_node", work.run_id, work.node_run_id, work.node.spec.type, state, duration)
        self._send_all(work.run_id, work.loaded, ready,
                       continue_queue=work.node.node_type.queue if reused or state == "skipped" else None)
        if not remaining:
            self._finish_run(work.run_id, work.loaded)
        return state

    def _skip(self, work: _Work, missing: list[str], started: float) -> str:
        """Inputs come from a branch that was not taken: this node is skipped, and so is what it feeds."""
        self.runs.log(work.run_id, work.node_run_id, "info",
                      f"Skipped: input(s) {', '.join(missing)} come from a branch that was not taken.")
        return self._succeeded(work, {}, None, started, key=None, state="skipped")

    def _children(self, work: _Work) -> dict[str, set[str]]:
        """Node runs fed by this one, with the node runs each of them waits for."""
        plan = work.loaded.plan
        children = {}
        for child in plan.children(work.node.spec.id):
            loop = plan.loop_of.get(child)
            if work.item is not None and loop is not None:  # inside an item: the same item's node runs
                children[instance_id(child, work.item)] = {loop.instance(p, work.item) for p in plan.parents(child)}
            elif work.item is None and child not in plan.loop_of:
                children[child] = plan.parents(child)
        return children

    def _loop_step(self, loaded: Loaded, loop: Loop, items: int, item: int | None = None) -> LoopStep:
        config = loaded.nodes[loop.node].config
        return LoopStep(loop=loop.node, items=items, roots=loop.roots, concurrency=config.concurrency,
                        body=tuple((n, loaded.nodes[n].spec.type, loaded.nodes[n].node_type.queue)
                                   for n in sorted(loop.body)),
                        collect=loop.collect, collect_parents=tuple(sorted(loaded.plan.parents(loop.collect))),
                        item=item)

    def _run_info(self, run_id: str) -> RunInfo:
        """Graph version, inputs and options of a run; all immutable, so they are cached per process."""
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

    def _gather(self, work: _Work) -> tuple[BaseModel | None, list[dict[str, Any]], list[str]]:
        """The node's inputs, the failed items (for a collect node), and the inputs fed by skipped nodes."""
        plan, node = work.loaded.plan, work.node
        bindings = plan.bindings[node.spec.id]
        collect_loop = plan.collect_of.get(node.spec.id)
        values: dict[str, Any] = {}
        missing: list[str] = []
        item_errors: list[dict[str, Any]] = []
        if collect_loop is not None:
            gathered, item_errors = self._gather_items(work, collect_loop, bindings)
            if gathered is None:
                return None, [], list(bindings)
            values = gathered
        else:
            loop = plan.loop_of.get(node.spec.id)
            sources = {}
            for port, (source, source_port) in bindings.items():
                if loop is not None and source == loop.node:  # the item itself, from the for-each node
                    items = self._loop_items(work.run_id, loop)
                    values[port] = items[work.item] if source_port == "item" else work.item  # type: ignore[index]
                else:
                    run_source = loop.instance(source, work.item) if loop is not None else source  # type: ignore[arg-type]
                    sources[port] = (run_source, source_port)
            upstream = self._outputs(work.run_id, {source for source, _ in sources.values()})
            for port, (source, source_port) in sources.items():
                state, outputs = upstream.get(source, ("skipped", {}))
                if state != "succeeded" or source_port not in outputs:
                    missing.append(port)
                values[port] = outputs.get(source_port)
        if missing and (not node.node_type.takes_skipped or len(missing) == len(bindings)):
            return None, item_errors, missing
        try:
            return node.node_type.Inputs.model_validate(values), item_errors, []
        except ValidationError as exc:
            first = exc.errors()[0]
            port = str(first["loc"][0]) if first["loc"] else None
            raise NodeError(f"Input '{port}' received a value it cannot use: {first['msg']}.", port=port,
                            code="bad_input") from None

    def _gather_items(self, work: _Work, loop: Loop, bindings: dict[str, tuple[str, str]]
                      ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """For a collect node: each input is the list of what its source gave for every item, in order."""
        if self.runs.outputs_of(work.run_id, {loop.node}).get(loop.node, ("",))[0] != "succeeded":
            return None, []  # the for-each node was skipped: so is this
        items = self._loop_items(work.run_id, loop)
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for port, (source, source_port) in bindings.items():
            if source == loop.node:
                values[port] = list(items) if source_port == "item" else list(range(len(items)))
                continue
            results, errors = self.runs.item_results(work.run_id, loop.node, source, len(items))
            values[port] = [(self._read_outputs(outputs, artifact) or {}).get(source_port)
                            if state == "succeeded" else None for state, outputs, artifact in results]
        return values, errors

    def _loop_items(self, run_id: str, loop: Loop) -> list[Any]:
        """The items of a for-each node that has run (immutable once stored, so cached per process)."""
        key = (run_id, loop.node)
        with self._lock:
            if key in self._items:
                return self._items[key]
        _state, outputs = self._outputs(run_id, {loop.node}).get(loop.node, ("", {}))
        items = outputs.get("items") or []
        with self._lock:
            self._items[key] = items
            while len(self._items) > 64:
                self._items.popitem(last=False)
        return items

    def _split(self, work: _Work, ctx: NodeContext, inputs: Any) -> dict[str, Any]:
        """A for-each node: its items, stored as its outputs (and kept here for its items' node runs)."""
        items = work.node.node_type().split(ctx, work.node.config, inputs)  # type: ignore[attr-defined]
        items = json.loads(json.dumps(items, default=_json_default))
        with self._lock:
            self._items[(work.run_id, work.node.spec.id)] = items
        return {"items": items}

    # --- reusing results ------------------------------------------------------------------------
    def _key(self, node: ResolvedNode, inputs: BaseModel | None, item_errors: list[dict[str, Any]],
             workspace_id: str) -> str | None:
        """What makes a result reusable: node type and version, config and input values (files by content),
        within one workspace (another workspace's results are not shared, not even their existence)."""
        if node.node_type.inline or inputs is None:
            return None
        payload = [node.spec.type, node.node_type.version, node.config.model_dump(mode="json"),
                   inputs.model_dump(mode="json"), item_errors, repr(self.llm) if node.node_type.uses_llm else None,
                   workspace_id]
        data = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_json_default)
        return hashlib.sha256(data.encode()).hexdigest()

    def _cacheable(self, node: ResolvedNode, info: RunInfo, node_id: str) -> bool:
        return (not info.options.get("no_cache") and node_id not in info.options.get("force", ())
                and node.node_type.is_deterministic(node.config))

    def _reuse(self, work: _Work, info: RunInfo, key: str | None) -> tuple[dict | None, str | None, str] | None:
        """Outputs of the same work done before: in the run being resumed, or in the node cache."""
        if key is None or work.node.spec.id in info.options.get("force", ()):
            return None
        resumed = info.options.get("reuse_from")
        if resumed:
            found = self.runs.reusable(resumed, key)
            if found is not None:
                return found[0], found[1], "run"
        if self.cache is not None and self._cacheable(work.node, info, work.node.spec.id):
            found = self.cache.get(key)
            if found is not None and (found[1] is None or self.artifacts.backend.exists(found[1])):
                return found[0], found[1], "cache"
        return None

    # --- time limits and cancelling -------------------------------------------------------------
    @staticmethod
    def _time_left(info: RunInfo) -> float | None:
        """Seconds left before the run's own time limit; raises _RunTimeout when it has passed."""
        limit = info.options.get("timeout_s")
        if not limit or info.started_at is None:
            return None
        started = info.started_at if info.started_at.tzinfo else info.started_at.replace(tzinfo=UTC)
        left = limit - (datetime.now(UTC) - started).total_seconds()
        if left <= 0:
            raise _RunTimeout()
        return left

    def _secrets_of(self, workspace_id: str) -> Callable[[str], str | None] | None:
        """`NodeContext.secrets` for a run: the secrets of the run's workspace only."""
        if self.secrets is None:
            return None
        reveal = self.secrets
        return lambda name: reveal(workspace_id, name)

    def _is_cancelled(self, run_id: str) -> bool:
        """Whether the run stopped; asks the database at most once a second per run."""
        now = time.monotonic()
        checked = self._cancelled.get(run_id)
        if checked is None or now - checked[0] > 1.0:
            checked = (now, self.runs.state(run_id) != "running")
            self._cancelled[run_id] = checked
            if len(self._cancelled) > 4096:
                self._cancelled.clear()
        return checked[1]

    def _call(self, node: ResolvedNode, ctx: NodeContext, inputs: Any, run_left_s: float | None) -> dict[str, Any]:
        """Run the node; in a pool thread under its time limit, or right here for `inline` node types.

        Outputs a branching node left empty are branches not taken: they are not stored at all.
        """
        def work() -> dict[str, Any]:
            outputs = node.node_type().run(ctx, node.config, inputs).model_dump(mode="json")
            if node.node_type.branching:
                outputs = {port: value for port, value in outputs.items() if value is not None}
            return outputs

        if node.node_type.inline:
            return work()
        limit = self._timeout(node)
        future = self._pool.submit(contextvars.copy_context().run, work)  # CURRENT_NODE in the pool thread
        try:
            return future.result(timeout=min(limit, run_left_s) if run_left_s is not None else limit)
        except FutureTimeout:
            future.cancel()  # a thread cannot be killed: it runs on (until it checks for cancelling), ignored
            if run_left_s is not None and run_left_s < limit:
                self._cancelled.pop(ctx.run_id, None)
                raise _RunTimeout() from None
            raise _NodeTimeout(limit) from None

    def _storable(self, node_id: str, outputs: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """Outputs as stored: JSON in the database, or in the artifact store when large."""
        data = json.dumps(outputs, separators=(",", ":")).encode()
        if len(data) <= LARGE_OUTPUT_BYTES:
            return outputs, None
        ref = self.artifacts.put_bytes(data, name=f"{node_id}-outputs.json", media_type="application/json")
        return None, ref.artifact

    def _outputs(self, run_id: str, node_ids: set[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """node run id -> (state, outputs)."""
        if not node_ids:
            return {}
        return {node_id: (state, self._read_outputs(outputs, artifact) or {})
                for node_id, (state, outputs, artifact) in self.runs.outputs_of(run_id, node_ids).items()}

    def _read_outputs(self, outputs: dict | None, artifact: str | None) -> dict[str, Any] | None:
        return json.loads(self.artifacts.read_bytes(artifact)) if artifact else outputs

    def _transient(self, work: _Work, exc: Exception, retries: int, started: float) -> str:
        node = work.node
        if retries < node.node_type.max_retries:
            delay = int(min(node.node_type.retry_delay_s * 1000 * 2 ** retries, RETRY_MAX_MS))
            self.runs.log(work.run_id, work.node_run_id, "warning", f"Temporary failure ({exc}); trying again in "
                          f"{delay / 1000:g} s (retry {retries + 1} of {node.node_type.max_retries}).")
            self.runs.requeue(work.run_id, work.node_run_id)
            raise RetryLater(delay)
        return self._failed(work, "transient", f"{node_title(node.spec, node.node_type)} kept "
                            f"failing after {retries + 1} attempt(s): {exc}", started)

    def _failed(self, work: _Work, code: str, message: str, started: float) -> str:
        duration = (time.perf_counter() - started) * 1000
        run_id, plan, node_id = work.run_id, work.loaded.plan, work.node.spec.id
        title = node_title(work.node.spec, work.node.node_type)
        self.runs.log(run_id, work.node_run_id, "error", message)
        loop = plan.loop_of.get(node_id) if work.item is not None else None
        if loop is None:
            ready, remaining = self.runs.fail(run_id, work.node_run_id, code=code, message=message,
                                              duration_ms=duration, descendants=plan.descendants(node_id),
                                              skip_message=f"Not run because {title} failed.")
        else:
            step = self._loop_step(work.loaded, loop, len(self._loop_items(run_id, loop)), work.item)
            in_item = {loop.instance(n, work.item) for n in plan.descendants(node_id) if n in loop.body}  # type: ignore[arg-type]
            if work.loaded.nodes[loop.node].config.on_item_error == "skip_item":
                ready, remaining = self.runs.fail(run_id, work.node_run_id, code=code, message=message,
                                                  duration_ms=duration, descendants=in_item, loop=step,
                                                  skip_message=f"Not run because {title} failed for this item.")
            else:
                after = (loop.body - {node_id}) | {loop.collect} | plan.descendants(loop.collect)
                ready, remaining = self.runs.fail(
                    run_id, work.node_run_id, code=code, message=f"Item {work.item}: {message}",
                    duration_ms=duration, descendants=in_item | after, loop=step, stop_loop=True,
                    fail_also=node_id, skip_message=f"Not run because {title} failed for item {work.item}.")
        self._notify("after_node", run_id, work.node_run_id, work.node.spec.type, "failed", duration)
        self._send_all(run_id, work.loaded, ready)
        if not remaining:
            self._finish_run(run_id, work.loaded)
        return "failed"

    def fail_stuck(self, run_id: str, node_run_id: str, code: str, message: str) -> None:
        """For the worker: a node whose message died outside the node's own code (e.g. a hard time limit)."""
        loaded = self.load(self._run_info(run_id).version_id)
        node_id, item = split_instance(node_run_id)
        self._failed(_Work(run_id, node_run_id, item, loaded.nodes[node_id], loaded), code, message,
                     time.perf_counter())

    def _finish_run(self, run_id: str, loaded: Loaded | None = None) -> None:
        """Close the run when no node is left to run: keep the graph outputs, set the final state."""
        states = self.runs.node_states(run_id)
        if not states or any(state in ("pending", "queued", "running") for state in states.values()):
            return
        loaded = loaded or self.load(self._run_info(run_id).version_id)
        sources = {name: b for name, b in loaded.plan.outputs.items() if b and states.get(b[0]) == "succeeded"}
        values = self._outputs(run_id, {source for source, _ in sources.values()})
        self.runs.set_outputs(run_id, {name: values[s][1].get(port) for name, (s, port) in sources.items()})
        if final := self.runs.finish_run_if_done(run_id):
            self._notify("run_finished", run_id, final)

    def _notify(self, hook: str, *args: Any) -> None:
        for observer in self.observers:
            if not hasattr(observer, hook):  # optional hooks (run_finished)
                continue
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception("Observer %r failed in %s", observer, hook)


@dataclass(frozen=True)
class _Work:
    """One node run being executed: which run, which node, which item of a loop."""

    run_id: str
    node_run_id: str
    item: int | None
    node: ResolvedNode
    loaded: Loaded


class _NodeTimeout(Exception):
    def __init__(self, limit_s: float):
        super().__init__(limit_s)
        self.limit_s = limit_s


class _RunTimeout(Exception):
    pass


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON")
