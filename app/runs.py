"""Runs as a scope may start, follow and manage them; the files they take and make belong to a workspace."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import IO, Any

from graph_runtime.engine import Engine
from graph_runtime.errors import GraphInvalid, InputsInvalid
from nodes.files import sniff
from nodes.ports import FileRef
from storage.artifacts import ArtifactStore, ArtifactTooLarge
from storage.runs import RunRepository, RunView

from .errors import Conflict, InvalidGraph, InvalidInputs, NotFound, TooLarge
from .graphs import GraphService
from .policy import Scope
from .quotas import QuotaService
from .secrets import SecretService, missing_secrets


def _file_hashes(value: Any) -> list[str]:
    """The sha256 of every file reference inside an input or output value (files, lists of files, JSON)."""
    if isinstance(value, dict):
        if isinstance(value.get("artifact"), str) and len(value["artifact"]) == 64:
            return [value["artifact"]]
        return [sha for v in value.values() for sha in _file_hashes(v)]
    if isinstance(value, list):
        return [sha for v in value for sha in _file_hashes(v)]
    return []


class GrantOutputs:
    """Engine observer: the files a finished run produced belong to the run's workspace (downloadable there,
    usable as inputs of its other runs)."""

    def __init__(self, runs: RunRepository, artifacts: ArtifactStore):
        self.runs = runs
        self.artifacts = artifacts

    def run_finished(self, run_id: str, state: str) -> None:
        run = self.runs.get(run_id, with_nodes=False)
        if run is not None and run.outputs:
            self.artifacts.grant(run.workspace_id, *_file_hashes(run.outputs))


class RunService:
    """The runs of one scope: started in the workspace of the graph they run, seen by its members (a runner
    sees only their own), files usable only in the workspace they were uploaded to or produced in."""

    def __init__(self, runs: RunRepository, engine: Engine, graphs: GraphService, artifacts: ArtifactStore,
                 secrets: SecretService | None = None, quotas: QuotaService | None = None):
        self.runs = runs
        self.engine = engine
        self.graphs = graphs
        self.artifacts = artifacts
        self.secrets = secrets
        self.quotas = quotas  # the workspace's plan (app/quotas.py); None: not counted (the server's own CLI)

    @property
    def scope(self) -> Scope:
        return self.graphs.scope

    def upload(self, stream: IO[bytes], *, name: str, media_type: str | None = None,
               kinds: Collection[str] | None = None) -> FileRef:
        """Store an uploaded file. With `kinds` (sniffed kinds such as 'docx', 'html', 'text'), a file of
        another kind is refused: InvalidInputs whose details say {"kind", "accepted"}."""
        self.scope.require("artifact.upload", what="workspace")
        if self.quotas is not None:
            stream = self.quotas.metered(self.scope.workspace_id, stream, name=name)
        try:
            ref = self.artifacts.put_stream(stream, name=name, media_type=media_type)
        except ArtifactTooLarge as exc:
            raise TooLarge(str(exc) + " Ask the administrator to raise MINDDOCS_STORAGE__MAX_UPLOAD_MB.") from None
        if kinds:
            kind = sniff(self.artifacts.path(ref))
            if kind not in kinds:
                shown = {"empty": "empty (0 bytes)", "unknown": "not a format MindDocs recognises",
                         "corrupt_zip": "a damaged ZIP-based file"}.get(kind, f"a {kind.upper()} file")
                raise InvalidInputs(f"'{name}' is {shown}; this setting accepts "
                                    f"{', '.join(sorted(k.upper() for k in kinds))}.", code="wrong_file_type",
                                    details={"kind": kind, "accepted": sorted(kinds)})
        self.artifacts.grant(self.scope.workspace_id, ref.artifact)
        return ref

    def check_files(self, workspace_id: str, inputs: dict[str, Any]) -> None:
        """Every file named in `inputs` must belong to the workspace (uploaded there or made by its runs): a
        file reference copied from another workspace is refused as if the file did not exist."""
        for name, value in inputs.items():
            for sha in _file_hashes(value):
                if not self.artifacts.granted(workspace_id, sha):
                    raise InvalidInputs(f"Input '{name}' names a file that is not in this workspace; upload it "
                                        "again (POST /api/v1/artifacts or the run form).", code="file_not_found",
                                        details={name: "unknown file"})

    def start(self, version_id: str, inputs: dict[str, Any], *, no_cache: bool = False,
              force: list[str] | None = None, reuse_from: str | None = None, share_link_id: str | None = None,
              submission_hash: str | None = None) -> str:
        """Start a run. `no_cache`: execute every node; `force`: these nodes execute even when a result
        could be reused; `reuse_from`: reuse unchanged node results of that run (see `resume`)."""
        version = self.graphs.version(version_id, "run.start")
        workspace_id = self.graphs.repo.get(version.graph_id).workspace_id  # type: ignore[union-attr]
        self.check_files(workspace_id, inputs)
        if self.quotas is not None:
            self.quotas.check_run(workspace_id, version)
        try:
            if self.secrets is not None:  # before anything runs, not as a failure halfway through
                names = self.secrets.repo.names(workspace_id)
                missing = missing_secrets(self.engine.load(version.id).nodes.values(), names)
                if missing:
                    names = ", ".join(sorted({f"'{issue['params']['secret']}'" for issue in missing}))
                    raise InvalidGraph(f"The graph uses secrets that do not exist: {names}. Create them on the "
                                       "Secrets page (or with POST /api/v1/secrets), or choose other secrets in the "
                                       "nodes' settings, before running it.", details=missing, code="secret_missing")
            return self.engine.start(version.id, self.scope.user_id, inputs,
                                     {"no_cache": no_cache, "force": list(force or []), "reuse_from": reuse_from},
                                     workspace_id=workspace_id, share_link_id=share_link_id,
                                     submission_hash=submission_hash)
        except GraphInvalid as exc:
            raise InvalidGraph("The graph has problems; fix them before running it.",
                               details=[i.to_json() for i in exc.issues]) from None
        except InputsInvalid as exc:
            raise InvalidInputs("Some inputs are missing or wrong: " + "; ".join(
                f"'{k}' {v}" for k, v in exc.problems.items()) + ".", details=exc.problems) from None

    def rerun(self, run_id: str) -> str:
        """Run the same graph version again with the same inputs; every node executes again."""
        run = self.get(run_id, "run.manage")
        return self.start(run.graph_version_id, run.inputs, no_cache=True)

    def resume(self, run_id: str, *, version_id: str | None = None, inputs: dict[str, Any] | None = None) -> str:
        """Continue a run that failed or was cancelled, after fixing the graph or the inputs.

        A new run of `version_id` (default: the latest version of the run's graph) with `inputs` (default:
        the same): nodes whose type, settings and inputs are unchanged reuse the old run's results, the
        failed ones and everything that changed run again.
        """
        run = self.get(run_id, "run.manage")
        if version_id is None:
            version_id = self.graphs.latest(self.graphs.version(run.graph_version_id).graph_id).id
        return self.start(version_id, run.inputs if inputs is None else inputs, reuse_from=run.id)

    def get(self, run_id: str, permission: str = "run.read") -> RunView:
        run = self.runs.get(run_id)
        if run is None or not self.scope.role(run.workspace_id):
            raise NotFound(f"There is no run with id {run_id}.")
        self.scope.require(permission, run.workspace_id, owner_id=run.owner_id, what="run")
        return run

    def list(self, limit: int = 50, *, graph_id: str | None = None, state: str | None = None,
             after: tuple[Any, str] | None = None) -> list[RunView]:
        """Newest first; `graph_id`: runs of any version of that graph; `after`: (created_at, id) of the
        last run of the previous page."""
        version_ids = None
        if graph_id is not None:
            self.graphs.get(graph_id)
            version_ids = [v.id for v in self.graphs.repo.versions(graph_id)]
        self.scope.require("run.read", what="workspace")
        owner = None if self.scope.sees_all_runs() else self.scope.user_id
        return self.runs.list(workspace_id=self.scope.workspace_id, owner_id=owner, limit=limit,
                              graph_version_ids=version_ids, state=state, after=after)

    def cancel(self, run_id: str) -> bool:
        self.get(run_id, "run.manage")
        return self.engine.cancel(run_id)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        self.get(run_id)
        return self.runs.logs(run_id)

    def output(self, run_id: str, name: str) -> Any:
        """One output value of a finished run (a file output is a FileRef as JSON)."""
        run = self.get(run_id)
        if not run.finished:
            raise Conflict(f"Run {run_id} is still {run.state}; its outputs exist once it has finished. Wait for "
                           "it (GET /api/v1/runs/{id} until 'state' is succeeded, failed or cancelled).",
                           code="run_not_finished", details={"state": run.state})
        outputs = run.outputs or {}
        if name not in outputs:
            known = ", ".join(f"'{k}'" for k in sorted(outputs)) or "none"
            raise NotFound(f"Run {run_id} has no output '{name[:100]}'; its outputs are: {known}.",
                           details={"outputs": sorted(outputs), "state": run.state})
        return outputs[name]

    def text_inputs(self, version_id: str, fields: dict[str, str]) -> dict[str, Any]:
        """Inputs given as text (form fields): 'json' inputs are parsed; the others are checked when the run
        starts (numbers and true/false are read from text there)."""
        if not fields:
            return {}
        kinds = {d["name"]: d["kind"] for d in self.graphs.interface(version_id)["inputs"]}
        values: dict[str, Any] = {}
        for name, raw in fields.items():
            if kinds.get(name) == "json":
                try:
                    values[name] = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise InvalidInputs(f"Input '{name}' must be JSON: {exc.msg} at character {exc.pos}.",
                                        details={name: "is not valid JSON"}) from None
            else:
                values[name] = raw
        return values

    def wait(self, run_id: str, timeout_s: float = 600, poll_s: float = 0.05) -> RunView:
        """The run once finished (or at the deadline), with its node runs; polls only the run's own row."""
        self.get(run_id)
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.runs.get(run_id, with_nodes=False)
            if run is None or run.finished or time.monotonic() >= deadline:
                return self.get(run_id)
            time.sleep(poll_s)
