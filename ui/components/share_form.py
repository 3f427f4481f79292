"""The form of a share link for a visitor without an account: password (when the link has one), the graph's
inputs, then the progress and the result of their submission (docs/share-links.md).

Nothing here needs a cookie (an <iframe> on another site may not get one): the password stays in this page's
server-side state, and the submission's secret lives in the page address's #fragment, which the browser keeps
on a reload and never sends to any server. The page reads it back once it is connected.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from nicegui import events, run, ui

from app.errors import AppError
from app.share_links import FILE_KINDS, ShareLinkService
from app.share_models import PublicForm, SubmissionStatus, Upload
from ui.pages.run_form import FILE_KINDS as ACCEPT
from ui.pages.run_form import collect, input_field

from ..i18n import t
from .file_field import wrong_kind_text
from .output_view import human_size
from .run_state import state_badge

POLL_S = 0.5
_FRAGMENT = re.compile(r"^#r=([A-Za-z0-9]{1,40})\.([A-Za-z0-9_-]{20,100})$")


def problem_text(exc: AppError) -> str:
    """An error of the public side in the visitor's language where it has a text of its own."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code.startswith("share_link_"):
        key = exc.code.removeprefix("share_link_")
        return t(f"share.gone.{key}") if key in ("not_found", "revoked", "expired", "used_up") else exc.message
    if exc.code == "too_many_requests":
        return t("share.too_many", seconds=str(details.get("retry_after_s", 60)))
    if exc.code == "share_password_wrong":
        return t("share.password_wrong")
    if exc.code == "wrong_file_type":
        return wrong_kind_text(exc)
    return exc.message


class ShareForm:
    def __init__(self, share: ShareLinkService, token: str, form: PublicForm, *, ip: str, path: str):
        self.share = share
        self.token = token
        self.form = form
        self.ip = ip
        self.path = path  # the page's own address, without query or fragment
        self.password: str | None = None
        self.values: dict[str, Any] = {}
        self.files: dict[str, tuple[str, str | None, bytes]] = {}
        self.timer: ui.timer | None = None

    def build(self) -> None:
        self.body = ui.column().classes("w-full gap-3").mark("share-body")
        with self.body:
            if self.form.needs_password:
                self.password_step()
            else:
                self.inputs_step()
        ui.timer(0.05, self.restore, once=True)

    # --- password ----------------------------------------------------------------------------------------------
    def password_step(self) -> None:
        ui.label(t("share.password_intro"))
        field = ui.input(t("share.password"), password=True).props("outlined").classes("w-full max-w-sm") \
            .mark("share-password")
        problem = ui.label("").classes("text-negative text-sm").mark("share-password-problem")

        async def check() -> None:
            try:
                form = await run.io_bound(self.share.form, self.token, password=field.value or "", ip=self.ip)
            except AppError as exc:
                problem.text = problem_text(exc)
                return
            self.form, self.password = form, field.value
            self.body.clear()
            with self.body:
                self.inputs_step()

        field.on("keydown.enter", check)
        ui.button(t("share.password_continue"), icon="lock_open", on_click=check).mark("share-password-continue")

    # --- inputs ------------------------------------------------------------------------------------------------
    def inputs_step(self) -> None:
        for decl in self.form.inputs:
            if decl["kind"] in FILE_KINDS:
                self.file_input(decl)
            else:
                input_field(decl, self.values)
        self.send_button = ui.button(t("share.send"), icon="send", on_click=self.send) \
            .props("data-testid=share-send").mark("share-send")

    def file_input(self, decl: dict[str, Any]) -> None:
        name, most = decl["name"], self.form.max_upload_mb

        async def uploaded(e: events.UploadEventArguments) -> None:
            data = await e.file.read()
            self.files[name] = (e.file.name or name, e.file.content_type or None, data)
            self.values[name] = {"upload": e.file.name}  # given, for `collect`; the bytes go with the form
            status.text = t("share.file_ready", name=e.file.name or name)

        with ui.column().classes("w-full gap-1").mark(f"input-{name}"):
            ui.label(decl["label"] + (" *" if decl["required"] else "")).classes("font-medium")
            upload = ui.upload(label=t("share.choose_file"), auto_upload=True, on_upload=uploaded,
                               max_file_size=most * 1024 * 1024,
                               on_rejected=lambda: ui.notify(t("share.file_too_large", mb=str(most)), type="warning")) \
                .classes("w-full").mark(f"upload-{name}")
            if ACCEPT.get(decl["kind"]):
                upload.props(f'accept="{ACCEPT[decl["kind"]]}"')
            status = ui.label("").classes("text-sm text-gray-600").props(f"data-testid=file-{name}") \
                .mark(f"file-{name}")
            if decl.get("help"):
                ui.label(decl["help"]).classes("text-xs text-gray-500")

    async def send(self) -> None:
        inputs, problems = collect(self.form.inputs, self.values)
        if problems:
            ui.notify(" ".join(problems), type="warning", multi_line=True)
            return
        uploads = [Upload(name, io.BytesIO(data), filename, media_type)
                   for name, (filename, media_type, data) in self.files.items() if name in inputs]
        values = {k: v for k, v in inputs.items() if k not in self.files}
        self.send_button.disable()
        self.send_button.text = t("share.sending")
        try:
            sent = await run.io_bound(self.share.submit, self.token, values=values, uploads=uploads,
                                      password=self.password, ip=self.ip)
        except AppError as exc:
            ui.notify(problem_text(exc), type="negative", multi_line=True)
            self.send_button.enable()
            self.send_button.text = t("share.send")
            return
        self.files.clear()
        ui.navigate.history.replace(f"{self.path}{ui_query()}#r={sent.run_id}.{sent.secret}")
        self.follow(sent.run_id, sent.secret)

    # --- progress and result -----------------------------------------------------------------------------------
    async def restore(self) -> None:
        """After a reload: follow the submission named in the address's #fragment."""
        try:
            fragment = await ui.run_javascript("window.location.hash", timeout=5)
        except (TimeoutError, RuntimeError):
            return
        match = _FRAGMENT.match(fragment or "")
        if match:
            self.follow(*match.groups())

    def follow(self, run_id: str, secret: str) -> None:
        self.body.clear()
        with self.body:
            with ui.row().classes("items-center gap-2"):
                self.badge = ui.row().classes("gap-0")
                self.progress_text = ui.label("").classes("text-sm text-gray-600").mark("share-progress")
            self.bar = ui.linear_progress(value=0, show_value=False).classes("w-full")
            self.result = ui.column().classes("w-full gap-2").mark("share-result")
        self.state: str | None = None
        self.timer = ui.timer(POLL_S, lambda: self.tick(run_id, secret))
        self.tick(run_id, secret)

    def tick(self, run_id: str, secret: str) -> None:
        try:
            status = self.share.status(self.token, run_id, secret)
        except AppError as exc:
            if self.timer:
                self.timer.deactivate()
            self.result.clear()
            with self.result:
                ui.label(t("share.lost") if exc.code == "submission_not_found" else problem_text(exc)) \
                    .classes("text-negative").mark("share-error")
                self.again_button()
            return
        if status.state != self.state:
            self.state = status.state
            self.badge.clear()
            with self.badge:
                state_badge(status.state)
        self.progress_text.text = t("share.progress", done=str(status.done), total=str(status.total))
        self.bar.value = status.done / status.total if status.total else 0
        if status.finished:
            if self.timer:
                self.timer.deactivate()
            self.bar.visible = False
            self.progress_text.visible = False
            self.show_result(status, secret)

    def show_result(self, status: SubmissionStatus, secret: str) -> None:
        self.result.clear()
        with self.result:
            if status.state == "succeeded" and not status.show_outputs:
                ui.label(t("share.delivered")).classes("text-positive").mark("share-delivered")
            elif status.state == "succeeded":
                ui.label(t("share.succeeded")).classes("text-positive")
                ui.label(t("share.results")).classes("text-lg font-medium")
                if not status.outputs:
                    ui.label(t("share.no_results")).classes("text-gray-600")
                for output in status.outputs:
                    self.output(status.run_id, secret, output)
            elif status.state == "failed":
                text = t("share.failed_detail", message=status.error) if status.error else t("share.failed")
                ui.label(text).classes("text-negative whitespace-pre-wrap").mark("share-error")
            else:
                ui.label(t("share.cancelled")).classes("text-warning").mark("share-error")
            self.again_button()

    def output(self, run_id: str, secret: str, output: dict[str, Any]) -> None:
        with ui.column().classes("w-full gap-1").mark(f"share-output-{output['name']}"):
            ui.label(output["label"]).classes("text-sm font-medium text-gray-600")
            files = [output["file"]] if output["kind"] == "file" else output.get("files", [])
            for item in files:
                index = "" if item["index"] is None else f"&index={item['index']}"
                url = (f"/api/v1/public/share/{self.token}/runs/{run_id}/outputs/{output['name']}"
                       f"?secret={secret}{index}")
                with ui.link(target=url).props("download").classes("flex items-center gap-1 text-primary") \
                        .mark("share-download"):
                    ui.icon("download")
                    ui.label(t("share.download", name=item["name"], size=human_size(int(item["size"] or 0))))
            if output["kind"] == "value":
                value = output["value"]
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
                ui.label(text).classes("whitespace-pre-wrap font-mono text-sm bg-gray-50 p-2 rounded w-full") \
                    .props("data-testid=share-output").mark("share-output")

    def again_button(self) -> None:
        def again() -> None:
            ui.navigate.history.replace(f"{self.path}{ui_query()}")
            ui.navigate.reload()

        ui.button(t("share.again"), icon="replay", on_click=again).props("outline").mark("share-again")


def ui_query() -> str:
    """The page's own ?lang= (kept when the address changes)."""
    from ..i18n import language

    return f"?lang={language()}"
