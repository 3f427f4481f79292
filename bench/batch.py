"""Batch: N contracts from a generated client CSV through sample_graphs/mass_contracts.json (issue #9).

The same work four ways, in one run of this script:

  bare      a plain single-process loop: csv.DictReader -> docxtpl (template opened per row) -> the PDF
            conversion doc.export uses (nodes/export/pdf.py `to_pdf`, engine "auto") -> one ZIP; run
            first and again last, to bracket the graph runs (the load from elsewhere drifts)
  embedded  the graph on the embedded runtime: SQLite, the in-process worker (8 threads)
  redis     the graph on Redis with two `minddocs worker` processes (--processes 1 --threads 8 each),
            PostgreSQL by default (--redis-db sqlite: the SQLite file shared by all processes)
  cached    the same graph version again, unchanged inputs, right after the first run of each set-up:
            every node result comes from the node cache

Targets: embedded and redis faster than bare on this 2-core machine; cached <= 5 % of its first run.

With --profile, the graph also runs with Engine.execute called in this thread (no broker, no worker,
one node run after another) under cProfile: the time outside the nodes' own work is the runtime's.

Each graph set-up first runs a 3-row warm-up (other clients, so nothing of it is reused), then the
measured run. Wall = Run.started_at -> Run.finished_at (the engine's clock); the client polls the run
every 0.25 s. CPU = this process and the children it waited for (pandoc, the workers are not counted).
Every result is checked: the ZIP holds N PDFs, in order, and the first and last PDF name their client.

    .venv/bin/python bench/batch.py --n 50                   # quick check, ~2-3 min on 2 cores
    .venv/bin/python bench/batch.py                          # 1,000 contracts
    .venv/bin/python bench/batch.py --n 200 --setups bare,embedded --profile

Needs Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`) for the
redis set-up. Writes bench/results/batch-<time>.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymupdf
from docxtpl import DocxTemplate

from app.services import Services
from app.settings import Settings
from bench.runtime_overhead import (
    REDIS_URL,
    drop_namespace,
    postgres_database,
    worker_process,
)
from nodes.export import pdf as pdf_export
from nodes.files import Limits, safe_file_name

SAMPLE = ROOT / "sample_graphs" / "mass_contracts.json"
TEMPLATE = ROOT / "sample_graphs" / "mass_contracts_template.docx"
RESULTS = ROOT / "bench" / "results"
SETUPS = ("bare", "embedded", "redis")
COMPANY = "Bufete Ruiz S.L.P."
POLL_S = 0.25
CACHED_TARGET = 0.05
WORKERS = 2

FIRST = ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Julia", "Daniel", "Paula", "Álvaro", "Valeria",
         "Pablo", "Emma", "Manuel", "Noa", "Jürgen", "Carmen", "José", "Ainhoa", "Iñaki"]
LAST = ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
        "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Etxeberria",
        "Núñez"]
SERVICES = ["asesoría laboral", "auditoría de cuentas", "traducción jurada", "mediación", "gestión fiscal",
            "protección de datos"]
CITIES = ["Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", "Zaragoza", "Málaga", "Santiago"]


# --- the data -----------------------------------------------------------------------------------------
def clients(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n distinct clients; the row number is in the name, so every contract (and its cache key) differs."""
    rows = []
    for i in range(n):
        k = i + seed * 100_003
        number = 10_000_000 + (k * 7919) % 89_999_999
        rows.append({"nombre": f"{FIRST[k % 20]} {LAST[(k // 20) % 20]} {LAST[(k // 400 + k) % 20]} {i + 1:04d}",
                     "nif": f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}",
                     "direccion": f"Calle {LAST[(k * 3) % 20]} {k % 120 + 1}, {CITIES[k % 8]}",
                     "servicio": SERVICES[k % 6], "importe": 300 + (k * 37) % 4700,
                     "fecha": f"2026-{k % 12 + 1:02d}-{k % 28 + 1:02d}"})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def check_zip(data: bytes | Path, rows: list[dict[str, Any]]) -> None:
    """N PDFs in the order of the rows; the first and the last name their own client."""
    with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
        names = zf.namelist()
        if len(names) != len(rows):
            raise AssertionError(f"the ZIP holds {len(names)} files, not {len(rows)}")
        for index in {0, len(rows) - 1}:
            if rows[index]["nombre"] not in names[index]:
                raise AssertionError(f"entry {index} is {names[index]!r}, not {rows[index]['nombre']!r}'s")
            with pymupdf.open(stream=zf.read(names[index]), filetype="pdf") as pdf:
                text = " ".join(" ".join(page.get_text() for page in pdf).split())
            if rows[index]["nombre"] not in text or rows[index]["nif"] not in text:
                raise AssertionError(f"{names[index]} does not name its client")


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# --- (c) the bare loop ----------------------------------------------------------------------------
def bare_loop(csv_path: Path, out: Path) -> dict[str, Any]:
    """What a script would do without MindDocs: same template, same PDF route, one process, one row at a time."""
    pandoc_s = [0.0]  # of pdf_s: the pandoc child process (DOCX -> HTML); the rest is PyMuPDF's layout
    pandoc_run = pdf_export.pandoc.run

    def timed_pandoc(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return pandoc_run(*a, **k)
        finally:
            pandoc_s[0] += time.perf_counter() - t

    pdf_export.pandoc.run = timed_pandoc  # restored below: the graph set-ups run in this process too
    try:
        return _bare_rows(csv_path, out) | {"pandoc_s": pandoc_s[0]}
    finally:
        pdf_export.pandoc.run = pandoc_run


def _bare_rows(csv_path: Path, out: Path) -> dict[str, Any]:
    limits, routes = Limits(), set()
    fill_s = pdf_s = 0.0
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, \
            tempfile.TemporaryDirectory(prefix="minddocs-bare-") as tmp_name:
        used: set[str] = set()
        for number, row in enumerate(rows):
            t0 = time.perf_counter()
            template = DocxTemplate(TEMPLATE)
            template.render({**row, "importe": int(row["importe"]), "empresa": COMPANY}, autoescape=True)
            workdir = Path(tmp_name) / str(number)
            workdir.mkdir()
            docx = workdir / "contrato.docx"
            template.save(docx)
            t1 = time.perf_counter()
            data, route, _ = pdf_export.to_pdf(docx, "docx", workdir, engine="auto", page_size="A4", limits=limits,
                                               title=f"contrato-{row['nombre']}")
            t2 = time.perf_counter()
            name = safe_file_name(f"contrato-{row['nombre']}.pdf")
            while name.lower() in used:
                name = f"_{name}"
            used.add(name.lower())
            archive.writestr(name, data)
            fill_s, pdf_s, routes = fill_s + t1 - t0, pdf_s + t2 - t1, routes | {route}
    return {"fill_s": fill_s, "pdf_s": pdf_s, "routes": sorted(routes)}


def bench_bare(tmp: Path, csv_path: Path, warm_csv: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    bare_loop(warm_csv, tmp / "bare-warm.zip")
    cpu, started = cpu_s(), time.perf_counter()
    parts = bare_loop(csv_path, tmp / "bare.zip")
    wall = time.perf_counter() - started
    cpu = cpu_s() - cpu
    check_zip(tmp / "bare.zip", rows)
    return {"setup": "bare", "wall_s": wall, "cpu_s": cpu, **parts}


# --- (a), (b), (d) the graph ------------------------------------------------------------------------
def run_graph(services: Services, version_id: str, inputs: dict[str, Any], timeout_s: float) -> tuple[Any, float]:
    started = time.perf_counter()
    run_id = services.runs.start(version_id, inputs)
    repo = services.engine.runs
    deadline = time.monotonic() + timeout_s
    while not repo.get(run_id, with_nodes=False).finished:  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            services.runs.cancel(run_id)
            raise TimeoutError(f"run {run_id} did not finish within {timeout_s:.0f} s")
        time.sleep(POLL_S)
    client_s = time.perf_counter() - started
    run = services.runs.get(run_id)
    if run.state != "succeeded" or run.outputs.get("errors"):
        failed = [f"{n.node_id}: {n.error_message}" for n in run.nodes if n.state == "failed"]
        raise RuntimeError(f"run {run_id} {run.state}: {failed[:3]} {run.outputs.get('errors', [])[:3]}")
    return run, client_s


def figures(run: Any, client_s: float, rows: list[dict[str, Any]], services: Services) -> dict[str, Any]:
    """Wall time, and where it went: node time per node type, reuse, queue waits."""
    check_zip(services.artifacts.read_bytes(run.outputs["contracts_zip"]["artifact"]), rows)
    by_node: dict[str, list[float]] = defaultdict(list)
    waits, reused = [], 0
    for n in run.nodes:
        base = n.node_id.split("[", 1)[0]
        if n.item is None and base in ("fill", "pdf"):
            continue  # the body node's own row sums its items up
        by_node[base].append(n.duration_ms or 0.0)
        reused += n.reused is not None
        if n.queued_at and n.started_at:
            waits.append((n.started_at - n.queued_at).total_seconds() * 1000)
    wall = (run.finished_at - run.started_at).total_seconds()
    return {"wall_s": wall, "client_s": client_s, "node_runs": sum(len(v) for v in by_node.values()),
            "reused": reused, "queue_wait_ms_median": statistics.median(waits) if waits else 0.0,
            "node_ms_total": {k: sum(v) for k, v in by_node.items()},
            "node_ms_median": {k: statistics.median(v) for k, v in by_node.items()}}


def sample_graph(concurrency: int | None) -> dict[str, Any]:
    """The sample as shipped, or with another concurrency on its For each node."""
    spec = json.loads(SAMPLE.read_text(encoding="utf-8"))
    if concurrency:
        next(n for n in spec["nodes"] if n["type"] == "flow.for_each")["config"]["concurrency"] = concurrency
    return spec


def measure(services: Services, inputs: dict[str, Any], warm_inputs: dict[str, Any], rows: list[dict[str, Any]],
            args: argparse.Namespace, name: str) -> list[dict[str, Any]]:
    timeout_s = args.timeout
    version = services.graphs.save(sample_graph(args.concurrency), source_kind="cli")
    run_graph(services, version.id, warm_inputs, timeout_s)
    cpu = cpu_s()
    run, client_s = run_graph(services, version.id, inputs, timeout_s)
    first = {"setup": name, **figures(run, client_s, rows, services), "cpu_s": cpu_s() - cpu}
    cpu = cpu_s()
    run, client_s = run_graph(services, version.id, inputs, timeout_s)
    cached = {"setup": f"{name} cached", **figures(run, client_s, rows, services), "cpu_s": cpu_s() - cpu}
    if cached["reused"] < 2 * len(rows) + 2:  # every item, read and collect; inputs, outputs, for-each never
        raise AssertionError(f"{name}: the second run reused only {cached['reused']} of {cached['node_runs']} nodes")
    return [first, cached]


def upload_inputs(services: Services, csv_path: Path) -> dict[str, Any]:
    with csv_path.open("rb") as f:
        clients_ref = services.runs.upload(f, name=csv_path.name).model_dump()
    with TEMPLATE.open("rb") as f:
        template_ref = services.runs.upload(f, name=TEMPLATE.name).model_dump()
    return {"clients": clients_ref, "template": template_ref, "empresa": COMPANY}


def bench_embedded(tmp: Path, csv_path: Path, warm_csv: Path, rows: list[dict[str, Any]],
                   args: argparse.Namespace) -> list[dict[str, Any]]:
    settings = Settings(_env_file=None, data_dir=tmp / "embedded", load_samples=False)
    with Services(settings) as services:
        inputs, warm = upload_inputs(services, csv_path), upload_inputs(services, warm_csv)
        return measure(services, inputs, warm, rows, args, "embedded")


def bench_one_thread(tmp: Path, csv_path: Path, warm_csv: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The graph with Engine.execute called in this thread, one node run after another, no broker and no
    worker, under cProfile: the runtime's own cost per contract beside the bare loop's."""
    import cProfile
    import pstats
    from collections import deque

    settings = Settings(_env_file=None, data_dir=tmp / "one-thread", load_samples=False)
    services = Services(settings)  # not started: no worker; the engine is driven directly
    pending: deque[str] = deque()
    services.engine.dispatch = lambda run_id, node_id, *, queue, time_limit_s: pending.append(node_id)
    version = services.graphs.save(sample_graph(None), source_kind="cli")

    def one(inputs: dict[str, Any]) -> str:
        run_id = services.engine.start(version.id, services.graphs.owner_id, inputs)
        while pending:
            services.engine.execute(run_id, pending.popleft())
        return run_id

    try:
        inputs, warm = upload_inputs(services, csv_path), upload_inputs(services, warm_csv)
        one(warm)
        profiler = cProfile.Profile()
        cpu, started = cpu_s(), time.perf_counter()
        profiler.enable()
        run_id = one(inputs)
        profiler.disable()
        wall, cpu = time.perf_counter() - started, cpu_s() - cpu
        run = services.runs.get(run_id)
        if run.state != "succeeded":
            raise RuntimeError(f"one-thread run {run.state}")
        result = {"setup": "graph, 1 thread", **figures(run, wall, rows, services), "cpu_s": cpu}
        result["wall_s"] = wall  # the engine's clock starts after start(); this one includes it
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        (tmp / "batch-profile.txt").write_text(text.getvalue())
        return result
    finally:
        services.close()


def bench_redis(tmp: Path, csv_path: Path, warm_csv: Path, rows: list[dict[str, Any]],
                args: argparse.Namespace, database_url: str | None) -> list[dict[str, Any]]:
    namespace = f"bench-batch-{uuid.uuid4().hex[:8]}"
    data_dir = tmp / "redis"
    settings = Settings(_env_file=None, data_dir=data_dir, load_samples=False, redis_url=REDIS_URL,
                        database_url=database_url, broker={"namespace": namespace})
    env = {"MINDDOCS_REDIS_URL": REDIS_URL, "MINDDOCS_DATA_DIR": str(data_dir),
           "MINDDOCS_BROKER__NAMESPACE": namespace, "MINDDOCS_LOAD_SAMPLES": "false"}
    if database_url:
        env["MINDDOCS_DATABASE_URL"] = database_url
    services = Services(settings)  # migrates the database before the workers open it
    try:
        with worker_process(env, tmp / "worker-1.log", 1), worker_process(env, tmp / "worker-2.log", 1), services:
            inputs, warm = upload_inputs(services, csv_path), upload_inputs(services, warm_csv)
            return measure(services, inputs, warm, rows, args, "redis")
    finally:
        services.close()
        drop_namespace(namespace)


# --- report -----------------------------------------------------------------------------------------
def print_report(results: list[dict[str, Any]], n: int) -> None:
    bares = [r["wall_s"] for r in results if r["setup"].startswith("bare")]
    bare = next((r for r in results if r["setup"] == "bare"), None)
    bare_wall = statistics.fmean(bares) if bares else float("nan")
    firsts = {r["setup"]: r for r in results if not r["setup"].endswith("cached")}
    print()
    head = f"{'set-up':<17}{'wall s':>9}{'ms/contract':>13}{'vs bare':>9}{'vs 1st run':>11}{'CPU s':>8}{'verdict':>9}"
    print(head)
    print("-" * len(head))
    for r in results:
        vs_bare = r["wall_s"] / bare_wall
        verdict, vs_first = "", ""
        if r["setup"].endswith("cached"):
            ratio = r["wall_s"] / firsts[r["setup"].removesuffix(" cached")]["wall_s"]
            vs_first, verdict = f"{ratio:.1%}", "ok" if ratio <= CACHED_TARGET else "MISSED"
            r["vs_first_run"] = ratio
        elif not r["setup"].startswith("bare") and bare:
            verdict = "ok" if vs_bare < 1 else "MISSED"
        r["vs_bare"] = vs_bare
        print(f"{r['setup']:<17}{r['wall_s']:>9.1f}{r['wall_s'] * 1000 / n:>13.0f}{vs_bare:>8.2f}x{vs_first:>11}"
              f"{r.get('cpu_s', float('nan')):>8.1f}{verdict:>9}")
    print("(vs bare: wall / mean wall of the bare runs, < 1 is faster; targets: graph faster than bare, cached "
          "<= 5 % of its\n first run; CPU: this process and the children it waited for, so not the Redis workers)")
    print()
    for r in results:
        if "pdf_s" in r:
            print(f"{r['setup']}: docxtpl {r['fill_s'] * 1000 / n:.0f} ms + PDF ({', '.join(r['routes'])}) "
                  f"{r['pdf_s'] * 1000 / n:.0f} ms per contract, of which pandoc {r['pandoc_s'] * 1000 / n:.0f} ms "
                  f"and PyMuPDF's layout {(r['pdf_s'] - r['pandoc_s']) * 1000 / n:.0f} ms")
    for r in results:
        if "node_ms_median" in r:
            medians = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["node_ms_median"].items()))
            print(f"{r['setup']}: {r['node_runs']} node runs ({r['reused']} reused), median ms per node run: "
                  f"{medians}; median queue wait {r['queue_wait_ms_median']:.0f} ms")


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "libreoffice": pdf_export.libreoffice(), "loadavg_at_end": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="contracts (rows of the generated CSV)")
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated: {', '.join(SETUPS)}")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="items at a time in the graph's For each node (default: the sample's, 4)")
    parser.add_argument("--redis-db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a run may take")
    parser.add_argument("--profile", action="store_true", help="also run the graph in one thread (Engine.execute, "
                                                               "no worker) under cProfile; listing next to the JSON")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    if unknown := set(setups) - set(SETUPS):
        parser.error(f"unknown set-up(s): {', '.join(sorted(unknown))}")
    if args.n < 2:
        parser.error("--n must be at least 2")

    rows = clients(args.n)
    load_before = os.getloadavg()
    began = time.monotonic()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="minddocs-batch-") as tmp_name:
        tmp = Path(tmp_name)
        csv_path = write_csv(tmp / "clientes.csv", rows)
        warm_csv = write_csv(tmp / "warm.csv", clients(3, seed=1))
        for name in setups:
            print(f"[{time.monotonic() - began:6.1f}s] {name} ...", flush=True)
            if name == "bare":
                results.append(bench_bare(tmp, csv_path, warm_csv, rows))
            elif name == "embedded":
                results += bench_embedded(tmp, csv_path, warm_csv, rows, args)
            elif args.redis_db == "sqlite":
                results += bench_redis(tmp, csv_path, warm_csv, rows, args, None)
            else:
                with postgres_database() as url:
                    results += bench_redis(tmp, csv_path, warm_csv, rows, args, url)
        if args.profile:
            print(f"[{time.monotonic() - began:6.1f}s] graph, 1 thread, profiled ...", flush=True)
            results.append(bench_one_thread(tmp, csv_path, warm_csv, rows))
        if "bare" in setups and len(setups) > 1:  # load from elsewhere drifts: bracket the graph runs
            print(f"[{time.monotonic() - began:6.1f}s] bare, again ...", flush=True)
            results.append(bench_bare(tmp, csv_path, warm_csv, rows) | {"setup": "bare, again"})
        profile = tmp / "batch-profile.txt"
        profile_text = profile.read_text() if profile.exists() else None
    print(f"[{time.monotonic() - began:6.1f}s] done; {args.n} contracts; 1-min load average {load_before[0]:.2f} at "
          f"the start, {os.getloadavg()[0]:.2f} at the end (anything else running skews the figures)")
    print_report(results, args.n)
    if not args.no_json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"batch-{stamp}.json"
        path.write_text(json.dumps({"machine": machine(), "argv": sys.argv[1:], "n": args.n,
                                    "date": datetime.now().isoformat(timespec="seconds"),
                                    "loadavg_at_start": load_before, "results": results}, indent=2, default=str))
        print(f"\nwrote {path.relative_to(ROOT)}")
        if profile_text:
            (RESULTS / f"batch-profile-{stamp}.txt").write_text(profile_text)
            print(f"wrote bench/results/batch-profile-{stamp}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
