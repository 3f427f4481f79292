"""file.unzip and file.zip: the files of a ZIP archive as a list, and a list of files as one archive.

Entry names inside an archive are the sender's word and never become paths here: each entry is streamed
into the artifact store under its bare, cleaned file name, so '../../etc/passwd' or 'C:\\evil.exe' cannot
land anywhere (zip slip). Sizes are counted as the bytes come out, not taken from the archive's header.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import mimetypes
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

from pydantic import BaseModel, Field, field_validator

from .base import NodeContext, NodeInputError, NodeType
from .files import Limits, check_zip, safe_file_name, sniff
from .ports import File, FileRef, ListOf, Number
from .registry import register
from .tables import XLSX_MEDIA_TYPE
from .templating import check_name_template, render_file_name

CHUNK = 1024 * 1024
#: Media type of each kind `sniff` tells; other kinds are named by their extension.
MEDIA_TYPES = {
    "pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": XLSX_MEDIA_TYPE, "odt": "application/vnd.oasis.opendocument.text", "epub": "application/epub+zip",
    "zip": "application/zip", "png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff", "gif": "image/gif",
    "webp": "image/webp", "bmp": "image/bmp", "wav": "audio/wav", "aiff": "audio/aiff", "flac": "audio/flac",
    "ogg": "audio/ogg", "mp3": "audio/mpeg", "m4a": "audio/mp4", "mp4": "video/mp4", "html": "text/html",
}
#: Files that operating systems leave in folders, never wanted in a batch.
JUNK_FILES = frozenset({"thumbs.db", "desktop.ini"})


class UnzipConfig(BaseModel):
    pattern: str = Field("", max_length=500, title="Only files matching",
                         description="e.g. *.pdf, or several separated by commas (*.pdf, *.docx); empty = every file")


class UnzipIn(BaseModel):
    file: File = Field(description="A ZIP archive")


class UnzipOut(BaseModel):
    files: ListOf[File] = Field(description="The files in the archive, sorted by folder and name")
    count: Number = Field(description="How many files were taken out")


@register
class Unzip(NodeType[UnzipConfig, UnzipIn, UnzipOut]):
    """Take the files out of a ZIP archive (all, or those matching a pattern such as *.pdf) as a list.

    Folders are flattened (a repeated name gets a number: a (2).pdf), hidden and system files (__MACOSX,
    .DS_Store, Thumbs.db) are skipped, and a ZIP inside the ZIP comes out as one file. Password-protected
    archives and zip bombs are refused.
    """

    type_id = "file.unzip"
    display_name = "Unzip"
    category = "files"
    queue = "documents"
    timeout_s = 300

    def run(self, ctx: NodeContext, config: UnzipConfig, inputs: UnzipIn) -> UnzipOut:
        path = ctx.artifacts.path(inputs.file)
        _expect_zip(path)
        check_zip(path, "file", ctx.limits)
        patterns = [p.strip().lower() for p in config.pattern.split(",") if p.strip()]
        with zipfile.ZipFile(path) as archive:
            entries, everything = _entries(archive, patterns)
            if not entries:
                raise NodeInputError("file", "The ZIP archive holds no files (folders and hidden files are skipped)."
                                     if not everything else f"No file in the ZIP matches '{config.pattern}'; it "
                                     f"holds: {', '.join(everything[:10])}. Correct 'Only files matching'.")
            if len(entries) > ctx.limits.max_archive_files:
                raise NodeInputError("file", f"The ZIP holds {len(entries):,} files, more than the limit of "
                                     f"{ctx.limits.max_archive_files:,}; split it, or pick some with 'Only files "
                                     "matching'.")
            files, left = [], ctx.limits.max_uncompressed_bytes
            with tempfile.TemporaryDirectory(prefix="minddocs-unzip-") as tmp:
                names = unique_names([name for _, name in entries])
                for number, ((info, _), name) in enumerate(zip(entries, names, strict=True), 1):
                    target = Path(tmp) / f"entry-{number}"  # our own name: the entry's never touches the disk
                    left -= _extract(archive, info, target, left, ctx.limits)
                    files.append(ctx.artifacts.put_file(target, name=name, media_type=media_type_of(target, name)))
                    target.unlink()
        return UnzipOut(files=files, count=len(files))


def _expect_zip(path: Path) -> None:
    kind = sniff(path)
    if kind == "zip":
        return
    if kind == "empty":
        raise NodeInputError("file", "The file is empty (0 bytes); upload the ZIP archive again.")
    if kind == "corrupt_zip":
        raise NodeInputError("file", "The ZIP archive is damaged (its list of files cannot be read); create it "
                             "again and upload it.")
    shown = "not a format MindDocs recognises" if kind == "unknown" else f"a {kind.upper()} file"
    raise NodeInputError("file", f"This file is {shown}, not a ZIP archive; Unzip takes .zip files.")


def _entries(archive: zipfile.ZipFile, patterns: list[str]) -> tuple[list[tuple[zipfile.ZipInfo, str]], list[str]]:
    """The entries to take out, in natural name order, each with its bare file name; and every file's name."""
    chosen, everything = [], []
    for info in archive.infolist():
        # Both separators: a ZIP made on Windows may use backslashes; '..', '.' and drive letters fall away.
        parts = [p for p in re.split(r"[/\\]+", info.filename) if p not in ("", ".", "..")]
        if info.is_dir() or not parts or any(p.startswith(".") or p.lower() == "__macosx" for p in parts) \
                or parts[-1].lower() in JUNK_FILES:
            continue
        everything.append(parts[-1])
        if patterns and not any(fnmatch.fnmatchcase(parts[-1].lower(), p) or
                                fnmatch.fnmatchcase("/".join(parts).lower(), p) for p in patterns):
            continue
        if info.flag_bits & 0x1:
            raise NodeInputError("file", f"The ZIP is protected with a password ('{info.filename}' is encrypted), "
                                 "so it cannot be opened; unzip it on your computer and upload a ZIP without a "
                                 "password.")
        chosen.append((info, safe_file_name(parts[-1], fallback="file"), _natural("/".join(parts))))
    chosen.sort(key=lambda c: c[2])
    return [(info, name) for info, name, _ in chosen], everything


def _natural(name: str) -> list:
    """'scan 2.pdf' before 'scan 10.pdf'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name.casefold())]


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, left: int, limits: Limits) -> int:
    copied = 0
    try:
        with archive.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(CHUNK):
                copied += len(chunk)
                if copied > left:
                    raise NodeInputError("file", f"The ZIP would unpack to more than {limits.max_uncompressed_bytes / 1e6:.0f}"
                                         " MB; that looks like a zip bomb, so it was not unpacked.")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise NodeInputError("file", f"'{info.filename}' inside the ZIP is damaged or packed in a way MindDocs "
                             f"cannot read ({exc}); create the ZIP again with a standard tool.") from None
    return copied


def media_type_of(path: Path, name: str) -> str:
    """By content when `sniff` knows the kind; text and unknown kinds by extension, never trusting an
    extension that claims a kind the content is not."""
    kind = sniff(path)
    if kind in MEDIA_TYPES:
        return MEDIA_TYPES[kind]
    guessed = mimetypes.guess_type(name)[0]
    if kind == "text":
        return guessed if guessed and guessed.startswith("text/") else "text/plain"
    return guessed if guessed and guessed not in MEDIA_TYPES.values() else "application/octet-stream"


def unique_names(names: list[str]) -> list[str]:
    """The same names, a repeated one (ignoring case, as Windows and macOS do) numbered: a.pdf, a (2).pdf."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, extension = name.rpartition(".")
        if not stem:
            stem, dot, extension = name, "", ""
        candidate, number = name, 2
        while candidate.lower() in seen:
            candidate, number = f"{stem} ({number}){dot}{extension}", number + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


class ZipConfig(BaseModel):
    archive_name: str = Field("files", max_length=300, title="Archive name",
                              description="Name of the ZIP file, without .zip")

    @field_validator("archive_name")
    @classmethod
    def _name_compiles(cls, pattern: str) -> str:
        return check_name_template(pattern)


class ZipIn(BaseModel):
    files: ListOf[File] = Field(description="The files to pack; a repeated name gets a number, e.g. a (2).pdf")


class ZipOut(BaseModel):
    archive: File = Field(description="The ZIP archive")


@register
class Zip(NodeType[ZipConfig, ZipIn, ZipOut]):
    """Pack a list of files into one ZIP archive."""

    type_id = "file.zip"
    display_name = "Zip"
    category = "files"
    queue = "documents"
    timeout_s = 300

    def run(self, ctx: NodeContext, config: ZipConfig, inputs: ZipIn) -> ZipOut:
        if not inputs.files:
            raise NodeInputError("files", "There are no files to pack; connect a list of files.")
        name = render_file_name(config.archive_name, {}, default="files", extension="zip")
        return ZipOut(archive=pack(ctx, inputs.files, name))


def pack(ctx: NodeContext, refs: list[FileRef], name: str, port: str = "files") -> FileRef:
    """Stored files as one stored ZIP named `name`, within the limits; entries get safe, unique names."""
    if len(refs) > ctx.limits.max_archive_files:
        raise NodeInputError(port, f"There are {len(refs):,} files, more than the limit of "
                             f"{ctx.limits.max_archive_files:,} in one ZIP; split them.")
    total = sum(ref.size for ref in refs)
    if total > ctx.limits.max_uncompressed_bytes:
        raise NodeInputError(port, f"The files add up to {total / 1e6:.0f} MB, more than the "
                             f"{ctx.limits.max_uncompressed_bytes / 1e6:.0f} MB one ZIP may hold; split them.")
    names = unique_names([safe_file_name(ref.name, fallback="file") for ref in refs])
    with tempfile.TemporaryDirectory(prefix="minddocs-zip-") as tmp:
        target = Path(tmp) / "archive.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for ref, entry in zip(refs, names, strict=True):
                _add(archive, ctx.artifacts.open(ref), entry, ref)
        return ctx.artifacts.put_file(target, name=name, media_type="application/zip")


def _add(archive: zipfile.ZipFile, source: IO[bytes], name: str, ref: FileRef) -> None:
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # an ordinary readable file when unpacked on Linux or macOS
    with source, archive.open(info, "w", force_zip64=ref.size >= zipfile.ZIP64_LIMIT) as target:
        while chunk := source.read(CHUNK):
            target.write(chunk)
