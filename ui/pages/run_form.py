"""Run a graph: a form built from its io.input declarations (files, text, numbers, yes/no, JSON)."""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi import Request
from nicegui import events, ui

from app.errors import AppError

from ..components.frame import frame, not_found_page
from ..i18n import t
from ..state import services

FILE_KINDS = {"file": "", "document": ".pdf,.docx,.odt,.txt,.md,.html,.rtf", "image": "image/*", "audio": "audio/*"}


def input_field(decl: dict[str, Any], values: dict[str, Any]) -> None:
    """One form field for one graph input; `values` receives what the person gives."""
    name, kind = decl["name"], decl["kind"]
    label = decl["label"] + (" *" if decl["required"] else "")
    default = decl["default"]
    with ui.column().classes("w-full gap-1").mark(f"input-{name}"):
        if kind in FILE_KINDS:
            ui.label(label).classes("font-medium")
            status = ui.label("").classes("text-sm text-gray-600")

            async def uploaded(e: events.UploadEventArguments, name=name, status=status) -> None:
                data = await e.file.read()
                ref = services().runs.upload(io.BytesIO(data), name=e.file.name, media_type=e.file.content_type or None)
                values[name] = ref.model_dump()
                status.text = t("run_form.uploaded", name=ref.name)

            ui.upload(label=t("run_form.upload"), auto_upload=True, on_upload=uploaded) \
                .props(f'accept="{FILE_KINDS[kind]}"' if FILE_KINDS[kind] else "").classes("w-full") \
                .mark(f"upload-{name}")
        elif kind == "number":
            ui.number(label, value=default, on_change=lambda e, name=name: values.__setitem__(name, e.value)) \
                .classes("w-64").mark(f"field-{name}")
            if default is not None:
                values[name] = default
        elif kind == "bool":
            values[name] = bool(default)
            ui.switch(label, value=bool(default), on_change=lambda e, name=name: values.__setitem__(name, e.value)) \
                .mark(f"field-{name}")
        elif kind == "json":
            text = json.dumps(default, ensure_ascii=False, indent=2) if default is not None else ""
            ui.textarea(label, value=text, on_change=lambda e, name=name: values.__setitem__(name, ("json", e.value))) \
                .props("outlined autogrow").classes("w-full font-mono").mark(f"field-{name}")
            if default is not None:
                values[name] = default
        else:
            ui.textarea(label, value=default or "",
                        on_change=lambda e, name=name: values.__setitem__(name, e.value)) \
                .props("outlined autogrow").classes("w-full").mark(f"field-{name}")
            if default is not None:
                values[name] = default
        if decl.get("help"):
            ui.label(decl["help"]).classes("text-xs text-gray-500")


def collect(interface: list[dict[str, Any]], values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The inputs to send, and the problems (in the person's language) that stop the run."""
    inputs, problems = {}, []
    for decl in interface:
        name = decl["name"]
        value = values.get(name)
        if isinstance(value, tuple) and value[0] == "json":
            if not value[1].strip():
                value = None
            else:
                try:
                    value = json.loads(value[1])
                except json.JSONDecodeError as exc:
                    problems.append(t("run_form.bad_json", name=decl["label"], message=exc.msg))
                    continue
        if value in (None, "") and decl["required"]:
            problems.append(t("run_form.missing", name=decl["label"]))
            continue
        if value is not None and not (value == "" and decl["default"] is not None):
            inputs[name] = value
    return inputs, problems


@ui.page("/graphs/{graph_id}/run")
def run_form_page(request: Request, graph_id: str) -> None:
    svc = services()
    try:
        graph = svc.graphs.get(graph_id)
    except AppError as exc:
        not_found_page(request, "nav.library", exc.message)
        return
    version = svc.graphs.latest(graph_id)
    interface = svc.graphs.interface(version.id)["inputs"]
    issues = svc.graphs.validate(version.spec)
    values: dict[str, Any] = {}
    with frame(request, "run_form.title", name=graph.name):
        if issues:
            with ui.card().classes("w-full bg-red-50").mark("issues"):
                ui.label(t("run_form.issues")).classes("font-medium")
                for issue in issues:
                    ui.label(f"• {issue['message']}").classes("text-sm")
                ui.link(t("library.edit"), f"/graphs/{graph_id}/edit")
        with ui.card().classes("w-full max-w-2xl"):
            if not interface:
                ui.label(t("run_form.no_inputs")).classes("text-gray-600")
            for decl in interface:
                input_field(decl, values)

            def start() -> None:
                inputs, problems = collect(interface, values)
                if problems:
                    ui.notify(" ".join(problems), type="warning", multi_line=True)
                    return
                try:
                    run_id = svc.runs.start(version.id, inputs)
                except AppError as exc:
                    ui.notify(exc.message, type="negative", multi_line=True)
                    return
                ui.navigate.to(f"/runs/{run_id}")

            ui.button(t("run_form.start"), icon="play_arrow", on_click=start).mark("start-run")
