"""`minddocs run graph.json --server URL`: the same run as the embedded one, through the REST API client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .client import ApiError, MindDocsClient, Run

FILE_KINDS = ("file", "document", "image", "audio")


class _RemoteFiles:
    """What `export_value` needs from an artifact store, served by the API."""

    def __init__(self, client: MindDocsClient):
        self.client = client

    def copy_to(self, ref: Any, target: Path) -> Path:
        return self.client.download(ref.model_dump(), target)


def run_remote(graph: Path, spec: Any, inputs: list[str], out_dir: Path, timeout: float, no_cache: bool,
               server: str, token: str | None) -> None:
    from .cli import SYMBOL, _fail, err, export_value, out, parse_input, split_input

    with MindDocsClient(server, token=token) as client:
        try:
            # the graph is kept on the server under its name, as the embedded CLI keeps it locally
            same = [g for g in client.list_graphs(search=spec.meta.name, source="cli") if g["name"] == spec.meta.name]
            saved = (client.save_graph(same[0]["id"], spec.to_json()) if same
                     else client.create_graph(spec.to_json(), source="cli"))
            if saved["issues"]:
                _fail(f"{graph} cannot run:\n  " + "\n  ".join(i["message"] for i in saved["issues"]), 2)
            declared = {d["name"]: d["kind"] for d in saved["interface"]["inputs"]}
            values: dict[str, Any] = {}
            files: dict[str, Path] = {}
            for item in inputs:
                name, raw = split_input(item, declared)
                if declared[name] in FILE_KINDS:
                    path = Path(raw[1:]).expanduser() if raw.startswith("@") else None
                    if path is None or not path.is_file():
                        _fail(f"input '{name}' is a file: write {name}=@path/to/file" if path is None
                              else f"input '{name}': there is no file {path}", 2)
                    files[name] = path  # type: ignore[assignment]
                    continue
                try:
                    values[name] = parse_input(declared[name], name, raw, None)
                except typer.BadParameter as exc:
                    _fail(str(exc), 2)
            run_id = client.start_run(saved["id"], values, files=files or None, no_cache=no_cache)
            titles = {n.id: f"{n.label or n.type} #{n.id}" for n in spec.nodes}
            finished = _follow(client, run_id, titles, timeout, err, SYMBOL, _fail)
            out_dir.mkdir(parents=True, exist_ok=True)
            exported = export_value(finished["outputs"] or {}, _RemoteFiles(client), out_dir, {"outputs.json"})
            (out_dir / "outputs.json").write_text(json.dumps(exported, indent=2, ensure_ascii=False),
                                                  encoding="utf-8")
            if finished["state"] != "succeeded":
                failed = [f"{titles.get(n['node_id'], n['node_id'])}: {n['error_message']}"
                          for n in finished["nodes"] if n["state"] == "failed"]
                _fail(f"The run {finished['state']}.\n  " + "\n  ".join(failed), 1)
            out.print(f"[green]Done.[/] Outputs are in {out_dir}/ (run {run_id} on {server}).")
        except ApiError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            _fail(exc.message + "".join(f"\n  {d.get('message', d) if isinstance(d, dict) else d}"
                                        for d in details), 2)


def _follow(client: MindDocsClient, run_id: str, titles: dict[str, str], timeout: float, console, symbols,
            fail) -> Run:
    """Per-node lines and a progress bar while the server runs the graph; cancels the run past `timeout`."""
    seen: dict[str, str] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("Running", total=len(titles))

        def show(run: Run) -> None:
            for node in run["nodes"]:
                state = node["state"]
                if state != seen.get(node["node_id"]) and state in symbols and state != "running":
                    seen[node["node_id"]] = state
                    if "[" in node["node_id"] and state != "failed":
                        continue  # an item of a For each loop: counted in the bar only
                    took = f" {node['duration_ms']:.0f} ms" if node.get("duration_ms") is not None else ""
                    extra = f": {node['error_message']}" if state == "failed" else ""
                    title = titles.get(node["node_id"], node["node_id"])
                    progress.console.print(f"{symbols[state]} {title}{took}{extra}", highlight=False)
            done = sum(n["state"] in ("succeeded", "failed", "skipped", "cancelled") for n in run["nodes"])
            running = sorted(titles.get(n["node_id"], n["node_id"]) for n in run["nodes"] if n["state"] == "running")
            progress.update(task, total=len(run["nodes"]), completed=done,
                            description=", ".join(running)[:50] or "Waiting for workers")

        try:
            return client.wait(run_id, timeout_s=timeout, poll_s=0.2, on_progress=show)
        except ApiError as exc:
            if exc.code != "timeout":
                raise
            client.cancel(run_id)
            fail(f"The run did not finish within {timeout:g} s and was cancelled.")
            raise  # unreachable: fail exits
