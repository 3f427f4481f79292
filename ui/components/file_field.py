"""A config field that holds a stored file (`"format": "file"`, e.g. the template of Fill template): an upload
button that stores the file and puts its reference in the config. `"kinds"` in the schema lists the kinds of
file accepted (sniffed from the content: 'docx', 'html', 'text', 'pdf', …); other files are refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from nicegui import events, ui

from app.errors import AppError

from ..i18n import t
from ..state import services

#: what the browser's file picker offers for each kind (the server still checks the content)
EXTENSIONS = {"docx": ".docx", "html": ".html,.htm", "text": ".md,.markdown,.txt", "pdf": ".pdf", "odt": ".odt",
              "png": ".png", "jpeg": ".jpg,.jpeg", "webp": ".webp", "tiff": ".tif,.tiff"}


def file_field(label: str, name: str, value: Any, schema: dict[str, Any],
               on_change: Callable[[str, Any], None]) -> None:
    kinds = list(schema.get("kinds") or [])
    current = {"ref": value if isinstance(value, dict) and value.get("artifact") else None}

    def show() -> None:
        ref = current["ref"]
        status.text = t("config.file_current", name=ref["name"]) if ref else t("config.file_none")
        remove.visible = ref is not None

    async def uploaded(e: events.UploadEventArguments) -> None:
        data = await e.file.read()
        e.sender.reset()
        try:
            ref = services().runs.upload(io.BytesIO(data), name=e.file.name or "upload",
                                         media_type=e.file.content_type or None, kinds=kinds or None)
        except AppError as exc:
            problem.text = wrong_kind_text(exc)
            ui.notify(problem.text, type="negative", multi_line=True)
            return
        problem.text = ""
        current["ref"] = ref.model_dump(mode="json")
        show()
        on_change(name, current["ref"])
        ui.notify(t("config.file_uploaded", name=ref.name), type="positive")

    def cleared() -> None:
        current["ref"] = None
        problem.text = ""
        show()
        on_change(name, None)

    ui.label(label).classes("text-sm")
    with ui.row().classes("w-full items-center no-wrap gap-1"):
        ui.icon("description").classes("text-gray-500")
        status = ui.label("").classes("text-sm grow truncate").mark(f"file-{name}")
        accept = ",".join(EXTENSIONS[k] for k in kinds if k in EXTENSIONS)
        picker = ui.upload(auto_upload=True, on_upload=uploaded).classes("hidden").mark(f"upload-{name}")
        if accept:
            picker.props(f'accept="{accept}"')
        ui.button(icon="upload_file", on_click=lambda: picker.run_method("pickFiles")) \
            .props("flat round dense").tooltip(t("config.file_upload")).mark(f"upload-button-{name}")
        remove = ui.button(icon="close", on_click=cleared).props("flat round dense") \
            .tooltip(t("config.file_remove")).mark(f"remove-{name}")
    problem = ui.label("").classes("text-xs text-negative").mark(f"file-problem-{name}")
    show()


def wrong_kind_text(exc: AppError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "wrong_file_type" and details.get("kind") == "empty":
        return t("config.file_empty")
    if exc.code == "wrong_file_type":
        kind = details.get("kind", "")
        shown = t("config.file_kind_unknown") if kind in ("unknown", "corrupt_zip") else kind.upper()
        return t("config.file_wrong_kind", kind=shown,
                 accepted=", ".join(k.upper() for k in details.get("accepted", [])))
    return t("common.error", message=exc.message)
