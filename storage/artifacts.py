"""The artifact store: files addressed by the sha256 of their content, with a size limit.

`ArtifactStore` records each file in the database and keeps the bytes in a `FileBackend`; the local
file system is the only backend today (an S3 one would implement the same four methods).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from nodes.ports import FileRef

from .db import Database
from .models import Artifact, WorkspaceFile, utcnow

SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class ArtifactTooLarge(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"The file is larger than the limit of {limit // (1024 * 1024)} MB.")
        self.limit = limit


class ArtifactMissing(LookupError):
    pass


def safe_name(name: str) -> str:
    """A file name without folders, control characters or leading dots (no path traversal)."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", os.path.basename(str(name).replace("\\", "/"))).strip().lstrip(".")
    return name[:255] or "file"


class FileBackend(Protocol):
    def store(self, tmp_path: Path, sha256: str) -> None: ...

    def open(self, sha256: str) -> IO[bytes]: ...

    def local_path(self, sha256: str) -> Path: ...

    def exists(self, sha256: str) -> bool: ...

    def remove(self, sha256: str) -> None: ...


class LocalFiles:
    """Files under `root/ab/cd/<sha256>`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def local_path(self, sha256: str) -> Path:
        if not SHA256.fullmatch(sha256):  # not match: "$" also matches before a final newline
            raise ArtifactMissing(f"'{sha256}' is not an artifact id.")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def store(self, tmp_path: Path, sha256: str) -> None:
        target = self.local_path(sha256)
        if target.exists():
            tmp_path.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, target)  # atomic: readers never see half a file

    def open(self, sha256: str) -> IO[bytes]:
        try:
            return self.local_path(sha256).open("rb")
        except FileNotFoundError:
            raise ArtifactMissing(f"The stored file {sha256[:12]}… is missing from the artifact folder.") from None

    def exists(self, sha256: str) -> bool:
        return self.local_path(sha256).exists()

    def remove(self, sha256: str) -> None:
        self.local_path(sha256).unlink(missing_ok=True)


class ArtifactStore:
    def __init__(self, db: Database, backend: LocalFiles, *, max_bytes: int):
        self.db = db
        self.backend = backend
        self.max_bytes = max_bytes

    def put_stream(self, stream: BinaryIO, *, name: str, media_type: str | None = None) -> FileRef:
        """Store a stream, hashing it on the way; refuses it past `max_bytes` without keeping a byte."""
        name = safe_name(name)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.backend.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ArtifactTooLarge(self.max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            self.backend.store(Path(tmp), sha)
        finally:
            Path(tmp).unlink(missing_ok=True)
        media_type = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._record(sha, size, media_type)
        return FileRef(artifact=sha, name=name, media_type=media_type, size=size)

    def put_bytes(self, data: bytes, *, name: str, media_type: str | None = None) -> FileRef:
        import io

        return self.put_stream(io.BytesIO(data), name=name, media_type=media_type)

    def put_file(self, path: Path, *, name: str | None = None, media_type: str | None = None) -> FileRef:
        with open(path, "rb") as f:
            return self.put_stream(f, name=name or Path(path).name, media_type=media_type)

    def open(self, ref: FileRef | str) -> IO[bytes]:
        return self.backend.open(ref if isinstance(ref, str) else ref.artifact)

    def path(self, ref: FileRef | str) -> Path:
        return self.backend.local_path(ref if isinstance(ref, str) else ref.artifact)

    def read_bytes(self, ref: FileRef | str) -> bytes:
        with self.open(ref) as f:
            return f.read()

    def copy_to(self, ref: FileRef, target: Path) -> Path:
        with self.open(ref) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        return target

    def grant(self, workspace_id: str, *shas: str) -> None:
        """Let a workspace use and download these stored files (uploaded there, or made by its runs)."""
        if not shas:
            return
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        with self.db.session() as session:
            # granted again: the grant is new for retention (app/lifecycle.py), which drops old unused grants
            statement = insert(WorkspaceFile).values([{"workspace_id": workspace_id, "sha256": sha}
                                                      for sha in sorted(set(shas))])
            session.execute(statement.on_conflict_do_update(index_elements=["workspace_id", "sha256"],
                                                            set_={"created_at": utcnow()}))

    def granted(self, workspace_id: str, sha: str) -> bool:
        with self.db.read() as session:
            return session.get(WorkspaceFile, (workspace_id, sha)) is not None

    def remove(self, sha: str) -> None:
        """Forget a file (its record and its bytes); the caller has made sure nothing refers to it."""
        with self.db.session() as session:
            session.execute(delete(Artifact).where(Artifact.sha256 == sha))
        self.backend.remove(sha)

    def _record(self, sha: str, size: int, media_type: str) -> None:
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        with self.db.session() as session:
            # stored again: the file counts as new for the orphan sweep's grace period (app/lifecycle.py), so a
            # re-upload of a forgotten file is not swept before the workspace gets hold of it
            session.execute(
                insert(Artifact).values(sha256=sha, size=size, media_type=media_type)
                .on_conflict_do_update(index_elements=["sha256"], set_={"created_at": utcnow()})
            )
