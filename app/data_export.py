"""'Export my data': a ZIP of everything MindDocs keeps about one person (docs/data.md), written entry by entry
so that it streams to the browser (or into a file for the CLI) without being held in memory.

Contents: README.txt, account.json (account, sign-in identities, sessions, API tokens — never a secret),
workspaces.json, graphs/<id>.json (the graphs they made, latest version), schedules.json,
runs/<id>/run.json (each run they started: inputs, outputs, node states) with runs/<id>/files/<name> (the run's
output files still stored), audit.jsonl (events they caused or about their account).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Generator, Iterator
from typing import IO, Any

from storage.artifacts import CHUNK, ArtifactMissing, ArtifactStore, safe_name
from storage.lifecycle import file_hashes
from storage.user_data import UserDataRepository

from .errors import NotFound

README = """MindDocs: your data
===================

account.json      your account, the ways you sign in, your open sessions and your API tokens (no secrets)
workspaces.json   the workspaces you belong to and your role in each
graphs/           each graph you made, as JSON (its latest version); it can be imported again
schedules.json    the schedules you own
runs/<id>/        each run you started: run.json (inputs, outputs, the state of every node) and, in files/,
                  the files it produced that are still stored (files removed by retention are listed as missing)
audit.jsonl       the audit log's events you caused or that are about your account, one JSON object a line
"""


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes are taken away as they come: `zipfile` writes into it, the generator
    hands the bytes on."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()


class DataExport:
    def __init__(self, repo: UserDataRepository, artifacts: ArtifactStore):
        self.repo = repo
        self.artifacts = artifacts

    def check(self, user_id: str) -> None:
        if self.repo.account(user_id) is None:
            raise NotFound("There is no such account.")

    def stream(self, user_id: str) -> Iterator[bytes]:
        """The ZIP, in pieces (for a streamed HTTP response)."""
        self.check(user_id)
        pipe = _Pipe()
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for _ in self._entries(user_id, archive):
                if pipe.chunks:
                    yield pipe.take()
        yield pipe.take()

    def write(self, user_id: str, target: IO[bytes]) -> None:
        """The ZIP, into a file opened for writing."""
        self.check(user_id)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for _ in self._entries(user_id, archive):
                pass

    def _entries(self, user_id: str, archive: zipfile.ZipFile) -> Generator[None, None, None]:
        """Write one entry (or one file's chunk) at a time, yielding in between."""
        archive.writestr("README.txt", README)
        archive.writestr("account.json", _dump(self.repo.account(user_id)))
        archive.writestr("workspaces.json", _dump(self.repo.workspaces(user_id)))
        yield
        for graph in self.repo.graphs(user_id):
            archive.writestr(f"graphs/{graph['id']}.json", _dump(graph))
            yield
        archive.writestr("schedules.json", _dump(self.repo.schedules(user_id)))
        for run in self.repo.runs(user_id):
            names: set[str] = set()
            files = []
            for sha in sorted(file_hashes(run.get("outputs"))):
                name = _unique(_file_name(run.get("outputs"), sha), names)
                stored = yield from self._copy(archive, sha, f"runs/{run['id']}/files/{name}")
                files.append({"artifact": sha, "file": f"files/{name}", "stored": stored})
            archive.writestr(f"runs/{run['id']}/run.json", _dump({**run, "files": files}))
            yield
        with archive.open("audit.jsonl", "w") as out:
            for event in self.repo.audit(user_id):
                out.write(json.dumps(event, ensure_ascii=False, default=str).encode() + b"\n")
        yield

    def _copy(self, archive: zipfile.ZipFile, sha: str, name: str) -> Generator[None, None, bool]:
        """Copy a stored file into the archive a megabyte at a time; returns (through `yield from`) whether
        the file was still stored."""
        try:
            source = self.artifacts.open(sha)
        except ArtifactMissing:
            return False
        with source, archive.open(name, "w", force_zip64=True) as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                yield
        return True


def _file_name(outputs: Any, sha: str) -> str:
    """The name a run's output file was given (its FileRef's), else its hash."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if v.get("artifact") == sha and isinstance(v.get("name"), str):
                found.append(v["name"])
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(outputs)
    return safe_name(found[0]) if found else sha


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
    taken.add(candidate)
    return candidate
