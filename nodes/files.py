"""Shared checks for files that nodes open: what a file really is, and limits against bombs.

Every document and media node calls these before handing a file to a parser, so a renamed file, a
zip bomb or a decompression bomb gets the same clear error everywhere.
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .base import NodeInputError
from .net import NetworkPolicy, SmtpServer

#: PyMuPDF must not run in two threads at once, and workers run nodes in threads: hold this around
#: PyMuPDF work (re-entrant, so helpers that call each other may each take it).
PYMUPDF_LOCK = threading.RLock()


@dataclass(frozen=True)
class Limits:
    """Ceilings that protect a worker from hostile or accidental giant inputs (settings: `limits`)."""

    max_pages: int = 2000
    max_image_pixels: int = 100_000_000  # 100 megapixels
    max_uncompressed_bytes: int = 500 * 1024 * 1024  # inside DOCX/ODT/EPUB/ZIP
    max_compression_ratio: int = 200
    max_audio_seconds: float = 4 * 3600
    max_table_rows: int = 100_000  # rows read or written by data.read_table / data.write_table
    max_archive_files: int = 1000  # files taken out of, or put into, one ZIP (file.unzip / file.zip)
    #: where URL-calling nodes may connect, and the mail server (nodes/net.py; settings network, smtp)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    smtp: SmtpServer | None = None


_MAGIC: list[tuple[bytes, int, str]] = [
    (b"%PDF-", 0, "pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"GIF8", 0, "gif"),
    (b"BM", 0, "bmp"),
    (b"fLaC", 0, "flac"),
    (b"OggS", 0, "ogg"),
    (b"ID3", 0, "mp3"),
    (b"\xff\xfb", 0, "mp3"),
    (b"\xff\xf3", 0, "mp3"),
    (b"\xff\xf2", 0, "mp3"),
    (b"\xd0\xcf\x11\xe0", 0, "ole"),  # old .doc/.xls
]


_HTML_TAG = re.compile(r"<(table|p|div|h[1-6]|span|ul|ol|section|article|head)[\s>]")


def sniff(path: Path) -> str:
    """The kind of file by its content, not its name: pdf, docx, odt, epub, xlsx, zip, png, jpeg, tiff,
    gif, webp, bmp, wav, aiff, flac, ogg, mp3, m4a, html, text, or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "empty"
    for magic, offset, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in (b"M4A ", b"M4B ", b"mp42", b"isom", b"dash") else "mp4"
    if head[:2] == b"PK":
        return _zip_kind(path)
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")  # a byte-order mark: Notepad's "Unicode" text
    try:
        text = head.decode("utf-16" if utf16 else "utf-8")
    except UnicodeDecodeError:
        try:
            text = head.decode("latin-1")
            if sum(c < " " and c not in "\r\n\t\f" for c in text) > len(text) // 20:
                return "unknown"
        except UnicodeDecodeError:
            return "unknown"
    lowered = text.lstrip("\ufeff \r\n\t").lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<body" in lowered[:2000] or (
        lowered.startswith("<") and _HTML_TAG.search(lowered[:2000])
    ):
        return "html"
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].decode("ascii", "replace")
                if "opendocument.text" in mimetype:
                    return "odt"
                if "epub" in mimetype:
                    return "epub"
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
            return "zip"
    except zipfile.BadZipFile:
        return "corrupt_zip"


def expect_kind(path: Path, port: str, allowed: set[str], what: str) -> str:
    """The sniffed kind, or a NodeInputError naming what the file really is and what is accepted."""
    kind = sniff(path)
    if kind == "empty":
        raise NodeInputError(port, "The file is empty (0 bytes); upload the document again.")
    if kind not in allowed:
        shown = {"unknown": "not a format MindDocs recognises", "corrupt_zip": "a damaged ZIP-based file"}
        raise NodeInputError(port, f"This file is {shown.get(kind, 'a ' + kind.upper() + ' file')}, but {what} "
                             f"accepts {', '.join(sorted(k.upper() for k in allowed))}.")
    return kind


def check_zip(path: Path, port: str, limits: Limits) -> None:
    """Refuse a ZIP-based file (DOCX, ODT, EPUB, ZIP) that would unpack into too much (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise NodeInputError(port, "The file is damaged (its ZIP structure cannot be read).") from None
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > limits.max_uncompressed_bytes or total / packed > limits.max_compression_ratio:
        raise NodeInputError(port, f"The file would unpack to {total / 1e6:.0f} MB from {packed / 1e6:.1f} MB; "
                             "that looks like a zip bomb, so it was not opened.")


def check_image_pixels(width: int, height: int, port: str, limits: Limits) -> None:
    if width * height > limits.max_image_pixels:
        raise NodeInputError(port, f"The image is {width}×{height} pixels, more than the limit of "
                             f"{limits.max_image_pixels / 1e6:g} megapixels; resize it first.")


_NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def safe_file_name(name: str, extension: str = "", fallback: str = "document") -> str:
    """A file name that is safe on every system, ending in `.extension` when one is given.

    Slashes, control and reserved characters become '-' (a value such as 'ACME/Sons' stays readable
    and cannot name a folder); leading dots and dashes go, so the result is never hidden or a path.
    """
    suffix = f".{extension.lower()}" if extension else ""
    name = " ".join(_NAME_UNSAFE.sub("-", str(name)).split()).lstrip(".- ").rstrip(". ")
    if suffix and name.lower().endswith(suffix):
        name = name[: -len(suffix)].rstrip(". ")
    name = name or fallback
    if _WINDOWS_RESERVED.match(name):
        name = f"_{name}"
    return name[: 255 - len(suffix)].rstrip(". ") + suffix


IMAGE_KINDS = frozenset({"png", "jpeg", "webp", "tiff", "gif", "bmp"})
#: What Pillow raises on a damaged EXIF block.
EXIF_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, IndexError, OSError, struct.error)


def open_image(path: Path, port: str, limits: Limits, what: str = "this node", *, colour: bool = False,
               upright: bool = False):
    """Open and decode a raster image, or raise a NodeInputError a person can act on.

    Refuses other kinds of files by content, images over `limits.max_image_pixels` (checked on the header,
    before a pixel is decoded: a decompression bomb never reaches memory), and damaged or cut-short files.
    Multi-frame files (TIFF pages, GIF animations) give their first frame. With `colour`, the pixels come
    back as 8-bit RGB, or RGBA when the image has transparency; `info` (EXIF, ICC profile) is kept. With
    `upright`, the EXIF orientation is applied (and reset to 1); an unreadable EXIF block is ignored.
    """
    from PIL import Image, UnidentifiedImageError

    expect_kind(path, port, set(IMAGE_KINDS), what)
    # Pillow's own bomb guard as a second line behind check_image_pixels; process-wide, but every node in
    # one worker runs under the same limits.
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        image = Image.open(path)
        check_image_pixels(*image.size, port, limits)
        image.load()
    except NodeInputError:
        raise
    except Image.DecompressionBombError:
        raise NodeInputError(port, "The image claims more than twice the limit of "
                             f"{limits.max_image_pixels / 1e6:g} megapixels; that looks like a decompression "
                             "bomb, so it was not opened.") from None
    except UnidentifiedImageError:
        raise NodeInputError(port, "The image is damaged: its content cannot be read as a picture. "
                             "Export or upload it again.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NodeInputError(port, f"The image is damaged or cut short ({exc}); export or upload it "
                             "again.") from None
    if getattr(image, "n_frames", 1) > 1:
        first, image = image, image.copy()  # the first frame, detached from the file left open for the others
        first.close()
    if colour and image.mode not in ("RGB", "RGBA"):
        info = image.info
        if image.mode.startswith("I"):  # 16/32-bit greys: scale down to 8 bits instead of clipping to white
            import numpy as np

            grey = np.asarray(image).astype(np.int64)
            image = Image.fromarray(np.clip(grey >> 8 if grey.max() > 255 else grey, 0, 255).astype(np.uint8))
        has_alpha = "A" in image.getbands() or "transparency" in image.info or image.mode == "PA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        image.info = info
    if upright:
        from PIL import ImageOps

        with contextlib.suppress(*EXIF_ERRORS):  # a damaged EXIF block must not cost the picture
            image = ImageOps.exif_transpose(image)
    return image

