"""Bundle files: listings and their versions as one .zip (a `bundle.json` inside) or plain JSON, for offices
without internet. Reading one refuses anything that is not exactly that, before it is unpacked in full."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import InvalidRequest, TooLarge

FORMAT = "minddocs-marketplace-bundle"
MAX_BUNDLE_BYTES = 20 * 1024 * 1024  # the file as uploaded
MAX_JSON_BYTES = 50 * 1024 * 1024  # bundle.json unpacked
MAX_RATIO = 100  # unpacked / packed: more is a zip bomb
MAX_LISTINGS = 200
MAX_VERSIONS = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BundleVersion(_Model):
    number: int = Field(ge=1)
    spec: dict[str, Any]
    changelog: str = Field("", max_length=20_000)
    example_inputs: dict[str, Any] = Field(default_factory=dict)
    example_output: str = Field("", max_length=100_000)
    deprecated: bool = False


class BundleListing(_Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    title: str = Field(min_length=1, max_length=200)
    short_description: str = Field("", max_length=300)
    long_description: str = Field("", max_length=100_000)
    category: str = Field("general", max_length=40)
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = Field("es", max_length=8)
    licence: str = Field("CC-BY-4.0", max_length=100)
    visibility: Literal["public", "workspace"] = "workspace"
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)
    author_name: str = Field("", max_length=200)
    versions: list[BundleVersion] = Field(min_length=1, max_length=MAX_VERSIONS)


class Bundle(_Model):
    format: Literal["minddocs-marketplace-bundle"]
    format_version: Literal[1] = 1
    exported_at: str = ""
    listings: list[BundleListing] = Field(min_length=1, max_length=MAX_LISTINGS)


def write(listings: list[dict[str, Any]]) -> bytes:
    """A .zip holding bundle.json; `listings` as BundleListing dicts (with their versions)."""
    body = {"format": FORMAT, "format_version": 1, "exported_at": datetime.now(UTC).isoformat(),
            "listings": listings}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", json.dumps(body, ensure_ascii=False, indent=1))
    return out.getvalue()


def _refuse(message: str, **details: Any) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_bundle", details=details or None)


def _unzip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refuse("The file is not a readable .zip bundle; export it again from MindDocs.") from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        names = [i.filename for i in entries]
        if names != ["bundle.json"]:
            raise _refuse("A bundle holds exactly one file, bundle.json; this one holds "
                          f"{', '.join(n[:80] for n in names[:10]) or 'nothing'}. Export it again from MindDocs.",
                          files=names[:50])
        info = entries[0]
        if info.file_size > MAX_JSON_BYTES or info.file_size > max(len(data), 1) * MAX_RATIO:
            raise TooLarge(f"The bundle unpacks to {info.file_size:,} bytes, too much for a bundle of "
                           f"{len(data):,} bytes (a damaged or malicious file); it was not unpacked.",
                           code="invalid_bundle")
        with archive.open(info) as stream:  # read no more than allowed, whatever the header claims
            body = stream.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise TooLarge("The bundle unpacks to more than 50 MB; it was not read.", code="invalid_bundle")
        return body


def read(data: bytes) -> Bundle:
    """The bundle in `data` (.zip or JSON), or InvalidRequest / TooLarge saying what is wrong with it."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise TooLarge(f"The bundle is {len(data):,} bytes; at most {MAX_BUNDLE_BYTES:,} are accepted. Export "
                       "fewer listings per bundle.", code="invalid_bundle")
    if not data.strip():
        raise _refuse("The bundle file is empty.")
    body = _unzip(data) if data[:4] == b"PK\x03\x04" else data
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse("The bundle is neither a .zip bundle nor JSON; export it again from MindDocs.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _refuse("This is not a MindDocs marketplace bundle (its 'format' is not "
                      f"'{FORMAT}'). Export listings from the marketplace page to make one.")
    try:
        return Bundle.model_validate(raw)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()[:50]]
        raise _refuse(f"The bundle has {exc.error_count()} problem(s), e.g. {problems[0]['field']}: "
                      f"{problems[0]['message']}.", problems=problems) from None
