"""A dialog that creates a secret (name, value, description) or replaces a secret's value.

The value is typed into a password field and goes to the server once; it is cleared from the form as soon as
it is saved and never sent back to the browser.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from app.errors import AppError

from ..i18n import t
from ..state import services


def error_text(exc: AppError, name: str) -> str:
    """The sentence, in the person's language, for a refused secret."""
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    if exc.code == "secret_exists":
        return t("secrets.exists", name=name)
    if exc.code == "invalid_secret" and field in ("name", "value", "description"):
        return t(f"secrets.bad_{field}")
    return t("common.error", message=exc.message)


def secret_dialog(on_saved: Callable[[str], None], *, replace: str | None = None,
                  on_cancel: Callable[[], None] | None = None) -> ui.dialog:
    """A dialog, opened, that creates a secret or (with `replace`, a secret's name) stores a new value."""
    with ui.dialog().props("persistent") as dialog, ui.card().classes("w-96").mark("secret-dialog"):
        ui.label(t("secrets.replace_title", name=replace) if replace else t("secrets.new")).classes("text-lg")
        name = ui.input(t("common.name"), value=replace or "").classes("w-full").mark("secret-name")
        if replace:
            name.disable()
        else:
            ui.label(t("secrets.name_help")).classes("text-xs text-gray-500")
        value = ui.input(t("secrets.new_value") if replace else t("secrets.value"), password=True,
                         password_toggle_button=True).props('autocomplete="new-password"').classes("w-full") \
            .mark("secret-value")
        description = ui.input(t("common.description")).classes("w-full").mark("secret-description")
        problem = ui.label("").classes("text-sm text-negative").mark("secret-problem")

        def save() -> None:
            secret_name = (name.value or "").strip()
            try:
                if replace:
                    services().secrets.replace(replace, value.value or "", description.value or None)
                else:
                    services().secrets.create(secret_name, value.value or "", description.value or "")
            except AppError as exc:
                problem.text = error_text(exc, secret_name)
                return
            value.value = ""  # the value leaves the form as soon as it is stored
            close()
            ui.notify(t("secrets.replaced" if replace else "secrets.created", name=secret_name), type="positive")
            on_saved(secret_name)

        def close() -> None:
            dialog.close()
            dialog.delete()  # one dialog per opening: nothing of it stays in the page

        def cancel() -> None:
            value.value = ""
            close()
            if on_cancel:
                on_cancel()

        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.cancel"), on_click=cancel).props("flat").mark("secret-cancel")
            ui.button(t("common.save"), on_click=save).mark("secret-save")
    dialog.open()
    return dialog
