"""Pandoc — the binary bundled with pypandoc-binary — run with its sandbox, a time limit and a memory cap.

Pandoc is called directly rather than through `pypandoc.convert_file` because that offers no time
limit and no way to pass the memory cap. `--sandbox` is not optional: without it a Markdown line such
as `![x](/etc/passwd)` copies that file into the DOCX or EPUB it writes.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from ..base import NodeError, NodeInputError

TIMEOUT_S = 120
MEMORY_MB = 1024
#: sniffed kind -> pandoc reader. Plain text is read as Markdown (nearly every text file is valid Markdown),
#: with HTML and TeX inside it taken as text: people write "ACME <Corp>" and mean the brackets.
READERS = {"docx": "docx", "odt": "odt", "epub": "epub", "html": "html", "text": "markdown-raw_html-raw_tex"}
#: `to` of doc.export -> pandoc writer. Markdown keeps complex tables as grid tables, which read back
#: into DOCX; GitHub Markdown would fall back to raw HTML tables that a DOCX writer drops.
WRITERS = {"docx": "docx", "odt": "odt", "epub": "epub3", "html": "html5",
           "md": "markdown-simple_tables-multiline_tables", "txt": "plain"}
TABLE_CSS = ("table{border-collapse:collapse;margin:0.6em 0} th,td{border:1px solid #777;padding:3px 6px;"
             "vertical-align:top} th{background:#eee} caption{font-style:italic;caption-side:bottom}")


@cache
def binary() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def run(source: Path, reader: str, writer: str, target: Path, *options: str, port: str = "document") -> list[str]:
    """Convert `source` into `target`; returns pandoc's warnings. Unreadable input is a NodeInputError."""
    command = [binary(), "+RTS", f"-M{MEMORY_MB}m", "-RTS", "--sandbox", "--from", reader, "--to", writer,
               "--output", str(target), *options, str(source)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, cwd=target.parent, check=False)
    except subprocess.TimeoutExpired:
        raise NodeError(f"Converting took longer than {TIMEOUT_S} s and was stopped; split the document.",
                        code="timeout") from None
    messages = done.stderr.decode("utf-8", "replace").splitlines()
    if done.returncode:
        if any("heap" in m.lower() for m in messages):
            raise NodeError(f"Converting needed more than {MEMORY_MB} MB of memory; split the document.",
                            code="too_large")
        reason = next((m.strip() for m in messages if m.strip() and not m.startswith("[WARNING]")), "no reason given")
        raise NodeInputError(port, f"The document could not be converted: {reason.rstrip('.')}.")
    return [m.removeprefix("[WARNING] ") for m in messages if m.startswith("[WARNING]")]


def convert(source: Path, kind: str, to: str, workdir: Path, *, title: str,
            reference: Path | None = None) -> tuple[Path, list[str]]:
    """Convert a document of sniffed `kind` to the doc.export format `to` inside `workdir`."""
    target = workdir / f"result.{to}"
    options = []
    if to in ("md", "txt"):
        options.append("--wrap=none")  # one line per paragraph: better for people's editors and for LLMs
    if to in ("html", "epub"):
        # Values in the document's own metadata win over a metadata file, so a title it has is kept.
        meta = workdir / "metadata.json"
        meta.write_text(json.dumps({"title": title, "pagetitle": title}), encoding="utf-8")
        options += ["--metadata-file", str(meta)]
    if to == "html":
        style = workdir / "style.html"
        style.write_text(f"<style>{TABLE_CSS}</style>", encoding="utf-8")
        options += ["--standalone", "--embed-resources", "--include-in-header", str(style)]
    if reference is not None and to in ("docx", "odt"):
        options.append(f"--reference-doc={reference}")
    warnings = run(source, READERS[kind], WRITERS[to], target, *options)
    return target, warnings
