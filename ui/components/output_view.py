"""Show one value that a node or a graph produced: text, JSON, or a stored file with a preview."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from nicegui import ui

from app import ui_support

from ..i18n import t
from ..state import services


def is_file_ref(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("artifact"), str) and "name" in value


def download_url(ref: dict[str, Any]) -> str:
    return f"/api/v1/artifacts/{ref['artifact']}?name={quote(ref['name'])}"


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def copy_button(text: str) -> None:
    def copy() -> None:
        ui.clipboard.write(text)
        ui.notify(t("common.copied"))

    ui.button(t("common.copy"), icon="content_copy", on_click=copy).props("flat dense").mark("copy")


def file_view(ref: dict[str, Any]) -> None:
    media = ref.get("media_type") or ""
    url = download_url(ref)
    with ui.row().classes("items-center gap-2"):
        ui.icon("description")
        ui.label(t("output.file", name=ref["name"], size=human_size(int(ref.get("size") or 0))))
        with ui.link(target=url).classes("flex items-center gap-1 text-primary").mark("download"):
            ui.icon("download")
            ui.label(t("common.download"))
    if media.startswith("image/"):
        ui.image(url).classes("max-w-xl border rounded").mark("image-preview")
    elif media == "application/pdf" or ref["name"].lower().endswith(".pdf"):
        png = ui_support.pdf_first_page_png(services(), ref["artifact"])
        if png:
            ui.label(t("output.page_preview")).classes("text-xs text-gray-500")
            ui.image("data:image/png;base64," + base64.b64encode(png).decode()).classes("max-w-xl border") \
                .mark("pdf-preview")
    elif media.startswith("audio/"):
        ui.audio(url).mark("audio-player")
    elif media.startswith("text/") and int(ref.get("size") or 0) < 200_000:
        try:
            text = services().artifacts.path(ref["artifact"]).read_text(encoding="utf-8", errors="replace")
        except (OSError, ValueError):
            return
        ui.code(text, language=None).classes("w-full max-h-96 overflow-auto")


def value_view(value: Any) -> None:
    """Text with a copy button, a JSON tree, or a file with its preview and download link."""
    if is_file_ref(value):
        file_view(value)
    elif isinstance(value, list) and value and all(is_file_ref(v) for v in value):
        for item in value:
            file_view(item)
    elif isinstance(value, str):
        with ui.column().classes("w-full gap-1"):
            ui.label(value).classes("whitespace-pre-wrap font-mono text-sm bg-gray-50 p-2 rounded w-full") \
                .mark("text-output")
            copy_button(value)
    elif isinstance(value, (dict, list)):
        ui.json_editor({"content": {"json": value}, "readOnly": True, "mainMenuBar": False}) \
            .classes("w-full").mark("json-output")
        copy_button(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        ui.label(json.dumps(value)).classes("font-mono").mark("value-output")
