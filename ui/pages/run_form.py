"""Run a graph: a form built from its io.input declarations (files, text, numbers, yes/no, JSON)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from nicegui import events, ui

from app import ui_support
from app.errors import AppError

from ..components.frame import frame, not_found_page
from ..i18n import issue_text, language, t
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


def start_run(version_id: str, inputs: dict[str, Any], *, reuse: bool = True) -> str | None:
    """Start a run; on a refusal (graph problems, wrong inputs) tell the person why and return None.

    `reuse`: nodes whose settings and inputs did not change since an earlier run take its results.
    """
    try:
        return services().runs.start(version_id, inputs, no_cache=not reuse)
    except AppError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return None


def inputs_form(version_id: str, on_started: Callable[[str], None]) -> None:
    """The fields of a graph version's inputs and a Run button; `on_started(run_id)` once the run starts.

    Used by the run page and by the editor's run dialog.
    """
    interface = services().graphs.interface(version_id)["inputs"]
    values: dict[str, Any] = {}
    if not interface:
        ui.label(t("run_form.no_inputs")).classes("text-gray-600")
    for decl in interface:
        input_field(decl, values)
    reuse = ui.switch(t("run_form.reuse"), value=True).mark("reuse-results") \
        .tooltip(t("run_form.reuse_help"))

    def start() -> None:
        inputs, problems = collect(interface, values)
        if problems:
            ui.notify(" ".join(problems), type="warning", multi_line=True)
            return
        run_id = start_run(version_id, inputs, reuse=reuse.value)
        if run_id:
            on_started(run_id)

    ui.button(t("run_form.start"), icon="play_arrow", on_click=start).mark("start-run")


def issues_card(issues: list[dict[str, Any]], edit_url: str | None = None) -> None:
    with ui.card().classes("w-full bg-red-50").mark("issues"):
        ui.label(t("run_form.issues")).classes("font-medium")
        names = {c["type_id"]: c["display_name"] for c in ui_support.catalogue(services(), language())}
        for issue in issues:
            ui.label(f"• {issue_text(issue, names)}").classes("text-sm")
        if edit_url:
            ui.link(t("library.edit"), edit_url)


@ui.page("/graphs/{graph_id}/run")
def run_form_page(request: Request, graph_id: str) -> None:
    svc = services()
    try:
        graph = svc.graphs.get(graph_id)
    except AppError as exc:
        not_found_page(request, "nav.library", exc.message)
        return
    version = svc.graphs.latest(graph_id)
    issues = svc.graphs.validate(version.spec)
    with frame(request, "run_form.title", name=graph.name):
        if issues:
            issues_card(issues, f"/graphs/{graph_id}/edit")
        with ui.card().classes("w-full max-w-2xl"):
            inputs_form(version.id, lambda run_id: ui.navigate.to(f"/runs/{run_id}"))
