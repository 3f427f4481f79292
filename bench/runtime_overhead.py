"""Runtime overhead: what the engine costs per node, beside a raw Dramatiq round trip on the same broker.

Runs one 200-node graph of cheap built-in nodes (io.input -> chains of text.template -> text.join fan-in ->
io.output) on three set-ups and prints, for each, the wall time of a run, the node work recorded by the
engine (NodeRun.duration_ms) and the per-node orchestration overhead:

    overhead/node = (wall - critical-path node work) / nodes
    wall/node     =  wall / nodes

`wall` is the run's own clock (Run.started_at -> Run.finished_at, stored by the engine; the client-observed
time, polled every 20 ms, is in the JSON too). `critical-path node work` is the longest dependency path
weighted by each node's duration_ms: the least wall time any scheduler could reach with unlimited workers
and zero overhead. Subtracting it keeps real node work out of the overhead figure. duration_ms is the
engine's own measure: it includes reading the node's inputs from the database, the node's thread, and any
wait for the GIL, so with busy threads it overstates the work and the overhead figure errs low.

Beside it, the same broker kinds run a no-op Dramatiq actor: N messages one after another (each sent when
the previous one was processed: latency) and N at once (throughput), in ms per message.

    .venv/bin/python bench/runtime_overhead.py                   # all set-ups, ~1-2 min on 2 cores
    .venv/bin/python bench/runtime_overhead.py --setups embedded --profile

Needs Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`) for the
Redis set-ups; `--setups embedded` needs neither. Writes bench/results/runtime_overhead-<time>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dramatiq

from app.services import Services
from app.settings import Settings
from graph_runtime.worker import BrokerOptions, make_broker

REDIS_URL = os.environ.get("MINDDOCS_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("MINDDOCS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
WORKER_BIN = ROOT / ".venv" / "bin" / "minddocs"
RESULTS = ROOT / "bench" / "results"
SETUPS = ("embedded", "redis-sqlite", "redis-postgres")
TARGET_MS = {"embedded": 2.0, "redis-sqlite": 5.0, "redis-postgres": 5.0}
RUN_TIMEOUT_S = 60
WORKER_THREADS = 8  # the default of both the embedded worker and `minddocs worker`


# --- the graph --------------------------------------------------------------------------------------
def build_graph(total: int = 200, chains: int = 16, group: int = 4) -> dict[str, Any]:
    """io.input -> `chains` template chains -> a text.join per `group` chains -> one text.join -> io.output.

    The template chains take whatever nodes are left after the input, joins and output, so the graph has
    exactly `total` nodes.
    """
    first_joins = -(-chains // group)
    joins = first_joins + (1 if first_joins > 1 else 0)
    templates = total - 2 - joins
    if templates < chains or first_joins > 20 or group > 20:
        raise ValueError("total too small (or groups too large) for that many chains")
    lengths = [templates // chains + (1 if i < templates % chains else 0) for i in range(chains)]
    nodes: list[dict[str, Any]] = [
        {"id": "in", "type": "io.input", "version": 1, "position": {"x": 0, "y": 0},
         "config": {"name": "x", "kind": "text", "label": "Seed text"}}]
    edges: list[dict[str, str]] = []
    ends = []
    for c, length in enumerate(lengths):
        previous, port = "in", "value"
        for t in range(length):
            node_id = f"c{c}-t{t}"
            nodes.append({"id": node_id, "type": "text.template", "version": 1,
                          "position": {"x": 200 * (t + 1), "y": 80 * c},
                          "config": {"template": "{{ x }}", "variables": ["x"]}})
            edges.append({"source": previous, "source_port": port, "target": node_id, "target_port": "x"})
            previous, port = node_id, "text"
        ends.append(previous)
    x_join = 200 * (max(lengths) + 1)
    heads = []
    for j in range(first_joins):
        members = ends[j * group:(j + 1) * group]
        join_id = f"join-{j}"
        nodes.append({"id": join_id, "type": "text.join", "version": 1,
                      "position": {"x": x_join, "y": 300 * j},
                      "config": {"parts": max(2, len(members)), "separator": " "}})
        edges += [{"source": end, "source_port": "text", "target": join_id, "target_port": f"text_{i}"}
                  for i, end in enumerate(members, 1)]
        heads.append(join_id)
    if len(heads) > 1:
        nodes.append({"id": "join-all", "type": "text.join", "version": 1,
                      "position": {"x": x_join + 200, "y": 0},
                      "config": {"parts": len(heads), "separator": " "}})
        edges += [{"source": h, "source_port": "text", "target": "join-all", "target_port": f"text_{i}"}
                  for i, h in enumerate(heads, 1)]
        heads = ["join-all"]
    nodes.append({"id": "out", "type": "io.output", "version": 1, "position": {"x": x_join + 400, "y": 0},
                  "config": {"name": "result", "label": "Result"}})
    edges.append({"source": heads[0], "source_port": "text", "target": "out", "target_port": "value"})
    assert len(nodes) == total, len(nodes)
    return {"format_version": 2,
            "meta": {"name": f"Benchmark: {total} cheap nodes", "tags": ["benchmark"],
                     "description": f"{chains} template chains fanning back in through text.join."},
            "nodes": nodes, "edges": edges}


def critical_path_ms(graph: dict[str, Any], duration_ms: dict[str, float]) -> float:
    """Longest path through the DAG, weighting each node by its recorded duration."""
    parents: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    for edge in graph["edges"]:
        parents[edge["target"]].append(edge["source"])
    finish: dict[str, float] = {}

    def reach(node_id: str) -> float:  # the graph is shallow (< 20 levels): recursion is fine
        if node_id not in finish:
            before = max((reach(p) for p in parents[node_id]), default=0.0)
            finish[node_id] = before + duration_ms.get(node_id, 0.0)
        return finish[node_id]

    return max(reach(n) for n in parents)


# --- measuring runs ---------------------------------------------------------------------------------
@dataclass
class RunFigures:
    wall_ms: float           # Run.started_at -> Run.finished_at
    client_ms: float         # start() call -> finished state observed (20 ms polling)
    work_ms: float           # sum of NodeRun.duration_ms
    critical_ms: float       # longest path of NodeRun.duration_ms
    queue_wait_ms: float     # mean NodeRun.queued_at -> started_at
    nodes: int

    @property
    def overhead_per_node(self) -> float:
        return (self.wall_ms - self.critical_ms) / self.nodes

    @property
    def wall_per_node(self) -> float:
        return self.wall_ms / self.nodes

    @property
    def parallelism(self) -> float:
        return self.work_ms / self.wall_ms


def _ms(a: datetime | None, b: datetime | None) -> float:
    return (b - a).total_seconds() * 1000 if a and b else float("nan")


def run_once(services: Services, version_id: str, graph: dict[str, Any]) -> RunFigures:
    started = time.perf_counter()
    run_id = services.runs.start(version_id, {"x": "hello"})
    repo = services.engine.runs
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not repo.get(run_id, with_nodes=False).finished:  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            services.runs.cancel(run_id)
            raise TimeoutError(f"run {run_id} did not finish within {RUN_TIMEOUT_S} s")
        time.sleep(0.02)
    client_ms = (time.perf_counter() - started) * 1000
    run = services.runs.get(run_id)
    if run.state != "succeeded":
        failed = [f"{n.node_id}: {n.error_message}" for n in run.nodes if n.state == "failed"]
        raise RuntimeError(f"run {run_id} {run.state}: {failed[:3]}")
    durations = {n.node_id: n.duration_ms or 0.0 for n in run.nodes}
    waits = [_ms(n.queued_at, n.started_at) for n in run.nodes]
    return RunFigures(wall_ms=_ms(run.started_at, run.finished_at), client_ms=client_ms,
                      work_ms=sum(durations.values()), critical_ms=critical_path_ms(graph, durations),
                      queue_wait_ms=statistics.fmean(waits), nodes=len(run.nodes))


def measure_runs(services: Services, graph: dict[str, Any], runs: int) -> list[RunFigures]:
    version = services.graphs.save(graph, source_kind="cli")
    run_once(services, version.id, graph)  # warm-up: imports, plan cache, connection pools
    return [run_once(services, version.id, graph) for _ in range(runs)]


def drive_engine(services: Services, graph: dict[str, Any], runs: int, profile: bool) -> dict[str, Any]:
    """The engine and storage alone: no broker, no worker threads; every node executed in this thread."""
    version = services.graphs.save(graph, source_kind="cli")
    pending: deque[str] = deque()
    services.engine.dispatch = lambda run_id, node_id, *, queue, time_limit_s: pending.append(node_id)

    def one() -> float:
        started = time.perf_counter()
        run_id = services.engine.start(version.id, services.graphs.owner_id, {"x": "hello"})
        while pending:
            services.engine.execute(run_id, pending.popleft())
        elapsed = (time.perf_counter() - started) * 1000
        state = services.runs.get(run_id).state
        if state != "succeeded":
            raise RuntimeError(f"engine-only run {run_id} {state}")
        return elapsed

    one()
    walls = [one() for _ in range(runs)]
    result: dict[str, Any] = {"wall_ms": walls, "ms_per_node": statistics.median(walls) / len(graph["nodes"])}
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one()
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(r"(storage|graph_runtime|nodes)/|sqlalchemy/orm/session.py.*(commit|execute)|"
                          r"threading.py.*(start|join)|sqlite3|json", 40)
        result["profile"] = text.getvalue()
    return result


def micro_costs(services: Services, graph: dict[str, Any]) -> dict[str, float]:
    """What a node's run() itself costs, and what starting and joining one thread costs (µs each)."""
    loaded = services.engine.load(services.graphs.save(graph, source_kind="cli").id)
    template, join = loaded.nodes["c0-t0"], loaded.nodes["join-0"]
    template_in = template.node_type.Inputs.model_validate({"x": "hello"})
    join_in = join.node_type.Inputs.model_validate({f"text_{i}": "hello" for i in range(1, 5)})
    n = 1000

    def per_call_us(fn) -> float:
        started = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - started) / n * 1e6

    def thread_round() -> None:
        thread = threading.Thread(target=lambda: None, daemon=True)
        thread.start()
        thread.join(30)

    return {
        "template_run_us": per_call_us(lambda: template.node_type().run(None, template.config, template_in)),
        "join_run_us": per_call_us(lambda: join.node_type().run(None, join.config, join_in)),
        "thread_start_join_us": per_call_us(thread_round),
    }


# --- raw Dramatiq round trip ------------------------------------------------------------------------
def raw_round_trip(broker: dramatiq.Broker, sequential: int, burst: int) -> dict[str, float]:
    """ms per no-op message: one after another (latency) and all at once (throughput)."""
    done = threading.Condition()
    count = 0

    def noop() -> None:
        nonlocal count
        with done:
            count += 1
            done.notify_all()

    actor = dramatiq.actor(noop, broker=broker, actor_name=f"bench_noop_{uuid.uuid4().hex[:6]}",
                           queue_name="default", max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=WORKER_THREADS, worker_timeout=100)
    worker.start()

    def wait_for(target: int) -> None:
        with done:
            if not done.wait_for(lambda: count >= target, timeout=RUN_TIMEOUT_S):
                raise TimeoutError(f"no-op messages: {count} of {target} processed")

    def one_by_one(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            target = count + 1  # read before sending: the worker may be done before send() returns
            actor.send()
            wait_for(target)
        return (time.perf_counter() - started) * 1000 / n

    try:
        one_by_one(20)  # warm-up
        seq_ms = one_by_one(sequential)
        target = count + burst
        started = time.perf_counter()
        for _ in range(burst):
            actor.send()
        wait_for(target)
        burst_ms = (time.perf_counter() - started) * 1000 / burst
    finally:
        worker.stop()
        broker.close()
    return {"sequential_ms_per_msg": seq_ms, "burst_ms_per_msg": burst_ms}


# --- Redis workers and PostgreSQL -------------------------------------------------------------------
@contextmanager
def worker_process(env: dict[str, str], log_path: Path, processes: int) -> Iterator[subprocess.Popen]:
    """`minddocs worker --processes N --threads 8`, ready for messages; stopped (and waited for) on exit."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MINDDOCS_", "dramatiq_"))}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(WORKER_BIN), "worker", "--processes", str(processes),
                                 "--threads", str(WORKER_THREADS)],
                                env=clean | env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while log_path.read_bytes().count(b"Worker process is ready for action") < processes:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"minddocs worker did not start:\n{tail}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only the worker and its children
                proc.wait(10)


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"minddocs_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_namespace(namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
    finally:
        client.close()


# --- set-ups ----------------------------------------------------------------------------------------
def bench_embedded(tmp: Path, graph: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    # the node cache is off: every run must execute every node (reuse is measured in bench/batch.py)
    settings = Settings(_env_file=None, data_dir=tmp / "embedded", load_samples=False, runtime={"cache": False})
    with Services(settings) as services:
        runs = measure_runs(services, graph, args.runs)
    services = Services(settings)  # not started: no worker thread, the engine is driven directly
    try:
        engine_only = drive_engine(services, graph, min(args.runs, 3), args.profile)
        micro = micro_costs(services, graph)
    finally:
        services.close()
    raw = raw_round_trip(make_broker(BrokerOptions()), args.messages, args.burst)
    return {"runs": runs, "raw": raw, "engine_only": engine_only, "micro": micro}


def bench_redis(tmp: Path, graph: dict[str, Any], args: argparse.Namespace,
                database_url: str | None) -> dict[str, Any]:
    raw_ns = f"bench-raw-{uuid.uuid4().hex[:8]}"
    try:
        raw = raw_round_trip(make_broker(BrokerOptions(redis_url=REDIS_URL, namespace=raw_ns)),
                             args.messages, args.burst)
    finally:
        drop_namespace(raw_ns)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    data_dir = tmp / f"redis-{uuid.uuid4().hex[:4]}"
    settings = Settings(_env_file=None, data_dir=data_dir, load_samples=False, redis_url=REDIS_URL,
                        database_url=database_url, broker={"namespace": namespace}, runtime={"cache": False})
    env = {"MINDDOCS_REDIS_URL": REDIS_URL, "MINDDOCS_DATA_DIR": str(data_dir),
           "MINDDOCS_BROKER__NAMESPACE": namespace, "MINDDOCS_LOAD_SAMPLES": "false",
           "MINDDOCS_RUNTIME__CACHE": "false"}
    if database_url:
        env["MINDDOCS_DATABASE_URL"] = database_url
    services = Services(settings)  # migrates the database before the worker opens it
    try:
        with worker_process(env, tmp / f"worker-{namespace}.log", args.worker_processes), services:
            runs = measure_runs(services, graph, args.runs)
    finally:
        services.close()
        drop_namespace(namespace)
    return {"runs": runs, "raw": raw}


# --- report -----------------------------------------------------------------------------------------
def summarise(name: str, result: dict[str, Any]) -> dict[str, Any]:
    runs: list[RunFigures] = result["runs"]
    med = lambda values: statistics.median(values)
    overhead = med([r.overhead_per_node for r in runs])
    raw = result["raw"]
    return {
        "setup": name,
        "runs": len(runs),
        "nodes": runs[0].nodes,
        "wall_ms": med([r.wall_ms for r in runs]),
        "wall_ms_min_max": [min(r.wall_ms for r in runs), max(r.wall_ms for r in runs)],
        "client_ms": med([r.client_ms for r in runs]),
        "work_ms": med([r.work_ms for r in runs]),
        "critical_ms": med([r.critical_ms for r in runs]),
        "parallelism": med([r.parallelism for r in runs]),
        "queue_wait_ms": med([r.queue_wait_ms for r in runs]),
        "overhead_ms_per_node": overhead,
        "wall_ms_per_node": med([r.wall_per_node for r in runs]),
        "raw_seq_ms_per_msg": raw["sequential_ms_per_msg"],
        "raw_burst_ms_per_msg": raw["burst_ms_per_msg"],
        "overhead_vs_raw_seq": overhead / raw["sequential_ms_per_msg"],
        "overhead_vs_raw_burst": overhead / raw["burst_ms_per_msg"],
        "target_ms_per_node": TARGET_MS[name],
        "meets_target": overhead <= TARGET_MS[name],
        "per_run": [asdict(r) | {"overhead_ms_per_node": r.overhead_per_node} for r in runs],
    }


def print_report(rows: list[dict[str, Any]], extras: dict[str, Any]) -> None:
    print()
    print("overhead/node = (wall - critical-path node work) / nodes;  wall/node = wall / nodes")
    print("wall = Run.started_at -> finished_at; node work = sum of NodeRun.duration_ms (includes gathering")
    print("inputs from the database and the per-node thread); medians over the measured runs.")
    print()
    head = (f"{'set-up':<15}{'wall ms':>9}{'work ms':>9}{'crit ms':>9}{'par':>6}{'wait ms':>9}"
            f"{'ovh/node':>10}{'wall/node':>10}{'raw seq':>9}{'raw bst':>9}{'ovh/seq':>9}{'target':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        verdict = "ok" if r["meets_target"] else "MISSED"
        print(f"{r['setup']:<15}{r['wall_ms']:>9.0f}{r['work_ms']:>9.0f}{r['critical_ms']:>9.1f}"
              f"{r['parallelism']:>6.2f}{r['queue_wait_ms']:>9.1f}{r['overhead_ms_per_node']:>10.2f}"
              f"{r['wall_ms_per_node']:>10.2f}{r['raw_seq_ms_per_msg']:>9.3f}"
              f"{r['raw_burst_ms_per_msg']:>9.3f}"
              f"{r['overhead_vs_raw_seq']:>8.1f}x{r['target_ms_per_node']:>5.0f} {verdict}")
    print("(ms; par = work / wall; wait = mean queued->started per node; raw seq / raw bst = no-op Dramatiq")
    print(" message one after another / all at once, ms per message; ovh/seq = overhead/node / raw seq)")
    if "engine_only" in extras:
        e, m = extras["engine_only"], extras["micro"]
        print()
        print(f"engine + storage alone (SQLite, no broker, one thread): {e['ms_per_node']:.2f} ms/node "
              f"(median of {len(e['wall_ms'])} runs)")
        print(f"run() alone: text.template {m['template_run_us']:.0f} µs, "
              f"text.join {m['join_run_us']:.0f} µs; "
              f"start+join of one thread: {m['thread_start_join_us']:.0f} µs")
        if "profile" in e:
            print()
            print(e["profile"])


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "dramatiq": dramatiq.__version__, "loadavg_at_end": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated: {', '.join(SETUPS)}")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="measured runs per set-up (after one warm-up)")
    parser.add_argument("--messages", type=int, default=300, help="no-op messages sent one after another")
    parser.add_argument("--burst", type=int, default=1000, help="no-op messages sent at once")
    parser.add_argument("--worker-processes", type=int, default=1,
                        help="processes of `minddocs worker` (Redis set-ups)")
    parser.add_argument("--profile", action="store_true", help="cProfile one engine-only run (embedded)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    unknown = set(setups) - set(SETUPS)
    if unknown:
        parser.error(f"unknown set-up(s): {', '.join(sorted(unknown))}")

    graph = build_graph(args.nodes)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    rows, extras = [], {}
    with tempfile.TemporaryDirectory(prefix="minddocs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for name in setups:
            print(f"[{time.monotonic() - began:5.1f}s] {name} ...", flush=True)
            if name == "embedded":
                result = bench_embedded(tmp, graph, args)
                extras = {"engine_only": result["engine_only"], "micro": result["micro"]}
            elif name == "redis-sqlite":
                result = bench_redis(tmp, graph, args, None)
            else:
                with postgres_database() as url:
                    result = bench_redis(tmp, graph, args, url)
            rows.append(summarise(name, result))
    print(f"[{time.monotonic() - began:5.1f}s] done (1-min load average {load_before:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end; anything else running skews the figures)")
    print_report(rows, extras)
    if not args.no_json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"runtime_overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps({"machine": machine(), "argv": sys.argv[1:], "graph_nodes": args.nodes,
                                    "loadavg_at_start": load_before,
                                    "results": rows, **extras}, indent=2, default=str))
        print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
