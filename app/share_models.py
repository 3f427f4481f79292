"""What the share-link service hands out and takes in (app/share_links.py): links as editors see them, the
public form, uploads, submissions and their status; and the checks of the sites allowed to embed a link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

from storage.share_links import ShareLinkRow

from .errors import InvalidRequest

_HOST = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]{2,45}\]$")


def normalise_origin(text: str) -> str:
    """`https://host[:port]` (or http), lower-case, without a path; InvalidRequest with a sentence otherwise."""
    raw = (text or "").strip()
    problem = None
    try:
        parts = urlsplit(raw.lower())
        port = parts.port
    except ValueError:
        parts, port, problem = None, None, "its port is not a number from 1 to 65535"
    if parts is not None:
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https"):
            problem = "it must start with https:// (or http://)"
        elif parts.username or parts.password or "@" in parts.netloc:
            problem = "it must not contain a user name or password"
        elif parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
            problem = "it must be only the site's address, without a path (e.g. https://www.example.com)"
        elif not (_HOST.match(host) or _IPV6.match(f"[{host}]")):
            problem = "its host name is not valid"
        else:
            shown = f"[{host}]" if ":" in host else host
            return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")
    raise InvalidRequest(f"'{raw[:120]}' is not a usable site address: {problem}.", code="invalid_origin",
                         details={"field": "allowed_origins", "origin": raw[:200]})


def frame_ancestors(origins: Iterable[str]) -> str:
    """The Content-Security-Policy of /embed/{token}: who may show it in an <iframe>."""
    shown = " ".join(origins)
    return f"frame-ancestors {shown or chr(39) + 'none' + chr(39)}"


@dataclass(frozen=True)
class ShareLinkView:
    """A link as its editors see it; `token` is None when the sealed token cannot be read (key changed)."""

    link: ShareLinkRow
    token: str | None
    base_url: str

    @property
    def url(self) -> str | None:
        return f"{self.base_url}/s/{self.token}" if self.token else None

    @property
    def embed_url(self) -> str | None:
        return f"{self.base_url}/embed/{self.token}" if self.token else None

    def to_json(self) -> dict[str, Any]:
        snippet = (f'<iframe src="{self.embed_url}" width="100%" height="640" style="border:0" '
                   f'title="{self.link.name}"></iframe>') if self.embed_url else None
        return {**self.link.to_json(), "token": self.token, "url": self.url, "embed_url": self.embed_url,
                "embed_html": snippet}


@dataclass(frozen=True)
class PublicForm:
    link: ShareLinkRow
    title: str
    inputs: list[dict[str, Any]]
    needs_password: bool
    max_upload_mb: int

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "needs_password": self.needs_password, "show_outputs": self.link.show_outputs,
                "max_upload_mb": self.max_upload_mb, "inputs": self.inputs if not self.needs_password else []}


@dataclass(frozen=True)
class Upload:
    """A file given for an input: a stream, its file name and the media type the browser said."""

    input: str
    stream: IO[bytes]
    filename: str
    media_type: str | None = None


@dataclass(frozen=True)
class Submitted:
    run_id: str
    secret: str  # given once to the submitter; only its sha256 is kept


@dataclass
class SubmissionStatus:
    run_id: str
    state: str
    finished: bool
    done: int
    total: int
    created_at: datetime
    finished_at: datetime | None
    show_outputs: bool
    error: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "state": self.state, "finished": self.finished,
                "progress": {"done": self.done, "total": self.total}, "created_at": self.created_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "delivered_to_owner_only": not self.show_outputs, "error": self.error,
                "outputs": self.outputs if self.show_outputs else None}


def described(name: str, value: Any, label: str = "") -> dict[str, Any]:
    """An output as the public side shows it, titled `label` (the output node's): a file by name, size and
    type (never its storage hash)."""
    def file(ref: dict[str, Any], index: int | None = None) -> dict[str, Any]:
        return {"name": ref.get("name"), "size": ref.get("size"), "media_type": ref.get("media_type"),
                "index": index}

    shown = {"name": name, "label": label or name}
    if is_file(value):
        return {**shown, "kind": "file", "file": file(value)}
    if isinstance(value, list) and value and all(is_file(v) for v in value):
        return {**shown, "kind": "files", "files": [file(v, i) for i, v in enumerate(value)]}
    return {**shown, "kind": "value", "value": value}


def is_file(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("artifact"), str) and "name" in value
