"""The one translation mechanism of the UI: `t("key", **values)` in the person's language (Spanish or English).

The language is kept in the person's browser storage; the first visit takes it from the browser's
Accept-Language header. `tests/ui/test_i18n.py` fails when a key exists in one language and not the other.
"""

from __future__ import annotations

from typing import Any

from nicegui import app

LANGUAGES = {"es": "Español", "en": "English"}
DEFAULT = "es"  # most people who use MindDocs speak Spanish

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app.title": "MindDocs",
        "nav.library": "Graphs",
        "nav.runs": "Runs",
        "nav.nodes": "Node catalogue",
        "nav.language": "Language",
        "nav.secrets": "Secrets",
        "nav.webhooks": "Webhooks",
        "notifications.title": "Notifications",
        "notifications.intro": "Runs that finished or failed. New ones appear here and on the bell as they end.",
        "notifications.empty": "No notifications yet.",
        "notifications.mark_all": "Mark all read",
        "notifications.succeeded": "The run of '{graph}' finished",
        "notifications.failed": "The run of '{graph}' failed",
        "notifications.toast_succeeded": "A run of '{graph}' finished.",
        "notifications.toast_failed": "A run of '{graph}' failed.",
        "webhooks.title": "Webhooks",
        "webhooks.intro": "Tell other systems when a graph's runs end, and let them start runs with a signed request.",
        "webhooks.no_graphs": "There are no graphs yet; create one first.",
        "webhooks.graph": "Graph",
        "webhooks.outbound": "Addresses told when a run ends",
        "webhooks.url": "Address (URL)",
        "webhooks.add": "Add webhook",
        "webhooks.empty": "No webhooks for this graph yet.",
        "webhooks.active": "Active",
        "webhooks.rotate": "New secret",
        "webhooks.secret_once": "Copy the signing secret now: it is not shown again.",
        "webhooks.secret": "Signing secret",
        "webhooks.address": "Address",
        "webhooks.event.run.succeeded": "run finished",
        "webhooks.event.run.failed": "run failed",
        "webhooks.no_deliveries": "Nothing sent yet.",
        "webhooks.delivery.pending": "pending",
        "webhooks.delivery.delivered": "delivered",
        "webhooks.delivery.failed": "failed",
        "webhooks.attempts": "{n} attempt(s)",
        "webhooks.redeliver": "Send again",
        "webhooks.redelivering": "Sending again.",
        "webhooks.refresh": "Refresh history",
        "webhooks.inbound": "Address that starts a run",
        "webhooks.inbound_intro": "Other systems POST JSON or files to this address, signed with its secret, to run the graph.",
        "webhooks.inbound_none": "This graph has no inbound address.",
        "webhooks.inbound_create": "Create address",
        "tokens.title": "API tokens",
        "tokens.intro": "Tokens let scripts and other programs use the MindDocs API as you. Each one is shown once, "
                        "when it is created; keep it like a password.",
        "tokens.new": "New token",
        "tokens.create": "Create token",
        "tokens.empty": "No API tokens yet.",
        "tokens.name_hint": "Where it is used, e.g. CI pipeline",
        "tokens.scopes": "What it may do",
        "tokens.scope.read": "read",
        "tokens.scope.run": "run graphs",
        "tokens.scope.write": "change things",
        "tokens.expiry": "Expires",
        "tokens.expiry_days": "after {days} days",
        "tokens.no_expiry": "never",
        "tokens.workspace": "Workspace",
        "tokens.any_workspace": "All my workspaces",
        "tokens.only_in": "only in {name}",
        "tokens.shown_once": "Copy the token now: it is not shown again.",
        "tokens.token": "Token",
        "tokens.details": "Created {created} · expires {expires} · last used {used}",
        "tokens.never": "never",
        "tokens.state.active": "active",
        "tokens.state.expired": "expired",
        "tokens.state.revoked": "revoked",
        "tokens.revoke": "Revoke",
        "tokens.revoke_confirm": "Revoke the token '{name}'? Programs that use it stop working at once.",
        "tokens.revoked": "Token '{name}' revoked.",
        "tokens.bad_name": "Give the token a name of 1 to 100 characters that says where it is used.",
        "tokens.bad_scopes": "Choose at least one thing the token may do.",
        "secrets.title": "Secrets",
        "secrets.intro": "API keys and passwords that nodes use. Values are stored encrypted and never shown again.",
        "secrets.new": "New secret",
        "secrets.empty": "No secrets yet.",
        "secrets.name_help": "Letters, digits, '_', '.' or '-', without spaces (e.g. openai_key).",
        "secrets.value": "Value (key or password)",
        "secrets.new_value": "New value",
        "secrets.replace": "Replace value",
        "secrets.replace_title": "New value for '{name}'",
        "secrets.updated": "Changed {when}",
        "secrets.created": "Secret '{name}' saved.",
        "secrets.replaced": "New value of '{name}' saved.",
        "secrets.deleted": "Secret '{name}' deleted.",
        "secrets.delete_confirm": "Delete the secret '{name}'? Nodes that use it will fail until you choose another.",
        "secrets.exists": "A secret named '{name}' already exists; choose another name or replace its value.",
        "secrets.bad_name": "Use 1 to 100 letters, digits, '_', '.' or '-', without spaces (e.g. openai_key).",
        "secrets.bad_value": "Give the value to keep (the key or password); it cannot be empty.",
        "secrets.bad_description": "The description is too long (500 characters at most).",
        "config.secret_new": "Create a new secret…",
        "config.secret_missing": "The secret '{name}' does not exist; create it or choose another.",
        "config.secret_missing_option": "{name} (missing)",
        "config.file_none": "No file uploaded",
        "config.file_current": "File: {name}",
        "config.file_upload": "Upload file",
        "config.file_remove": "Remove file",
        "config.file_uploaded": "Uploaded '{name}'.",
        "config.file_wrong_kind": "This file is {kind}, but this setting accepts {accepted}.",
        "config.file_kind_unknown": "not a format MindDocs recognises",
        "config.file_empty": "The file is empty (0 bytes); choose another.",
        "common.cancel": "Cancel",
        "common.save": "Save",
        "common.delete": "Delete",
        "common.open": "Open",
        "common.close": "Close",
        "common.search": "Search",
        "common.name": "Name",
        "common.description": "Description",
        "common.all": "All",
        "common.copy": "Copy",
        "common.copied": "Copied",
        "common.download": "Download",
        "common.not_found": "Not found: {message}",
        "common.error": "Error: {message}",
        "library.title": "Graph library",
        "library.new": "New graph",
        "library.import": "Import JSON",
        "library.import_done": "Imported '{name}'.",
        "library.import_failed": "The file is not a graph: {message}",
        "library.empty": "No graphs yet. Create one or import a JSON file.",
        "library.version": "version {number}",
        "library.updated": "updated {when}",
        "library.edit": "Edit",
        "library.run": "Run",
        "library.rename": "Rename",
        "library.duplicate": "Duplicate",
        "library.export": "Export JSON",
        "library.copy_suffix": "(copy)",
        "library.new_name": "Untitled graph",
        "library.delete_confirm": "Delete '{name}' with all its versions and runs? This cannot be undone.",
        "library.deleted": "Deleted '{name}'.",
        "library.renamed": "Renamed to '{name}'.",
        "library.duplicated": "Created '{name}'.",
        "library.issues": "{count} problem(s)",
        "library.ok": "Ready to run",
        "run_form.title": "Run '{name}'",
        "run_form.no_inputs": "This graph asks for nothing; press Run.",
        "run_form.start": "Run",
        "run_form.reuse": "Reuse results of earlier runs",
        "run_form.reuse_help": "Nodes whose settings and inputs did not change take their earlier result instead of "
                               "running again. Turn off to run every node again.",
        "run_form.required": "Required",
        "run_form.uploaded": "Uploaded {name}",
        "run_form.upload": "Choose a file",
        "run_form.bad_json": "'{name}' is not valid JSON: {message}",
        "run_form.missing": "'{name}' is required.",
        "run_form.issues": "The graph has problems; open the editor to fix them.",
        "run_detail.title": "Run {id}",
        "run_detail.graph": "Graph",
        "run_detail.state": "State",
        "run_detail.started": "Started",
        "run_detail.duration": "Duration",
        "run_detail.nodes": "Nodes",
        "run_detail.outputs": "Results",
        "run_detail.no_outputs": "No results yet.",
        "run_detail.log": "Log",
        "run_detail.no_log": "Nothing logged.",
        "run_detail.cancel": "Cancel run",
        "run_detail.rerun_same": "Run again with the same inputs",
        "run_detail.resume": "Resume from the failed node(s)",
        "run_detail.resume_tip": "A new run of the graph's latest version: nodes that succeeded and did not change keep "
                                 "their results; the failed and changed nodes run again.",
        "run_detail.new_inputs": "Run with other inputs",
        "run_detail.resumed_from": "Resumes",
        "run.reused_cache": "from cache",
        "run.reused_cache_tip": "Not run again: the result was taken from the cache (same node, settings and inputs).",
        "run.reused_run": "reused",
        "run.reused_run_tip": "Not run again: the result was reused from the run being resumed.",
        "runs.actions": "Actions",
        "editor.node_run": "In this run",
        "editor.hide_run": "Hide the run's states",
        "editor.resume_tip": "Saves your changes, then runs the latest version again, reusing the results of the "
                             "nodes that succeeded and did not change.",
        "run_detail.on_canvas": "Show on canvas",
        "run_detail.node_outputs": "Outputs of this node",
        "run_detail.inputs": "Inputs",
        "run_detail.attempts": "attempts: {count}",
        "runs.title": "Runs",
        "runs.graph": "Graph",
        "runs.state": "State",
        "runs.created": "Created",
        "runs.empty": "No runs match.",
        "state.pending": "pending",
        "state.queued": "queued",
        "state.running": "running",
        "state.succeeded": "succeeded",
        "state.failed": "failed",
        "state.skipped": "skipped",
        "state.cancelled": "cancelled",
        "catalogue.title": "Node catalogue",
        "catalogue.inputs": "Inputs",
        "catalogue.outputs": "Outputs",
        "catalogue.config": "Settings",
        "catalogue.none": "none",
        "catalogue.ports_follow_config": "Some ports depend on the settings.",
        "output.page_preview": "First page",
        "output.file": "File {name} ({size})",
        "editor.title": "Editor — {name}",
        "editor.palette": "Nodes",
        "editor.palette_hint": "Click or drag a node onto the canvas",
        "editor.save": "Save",
        "editor.saved": "Saved version {number}.",
        "editor.conflict": "Not saved: someone saved version {latest} of this graph after you opened version {mine}. "
                           "Your changes stay in this editor; copy what you need, reload the page to see theirs, "
                           "then apply yours again.",
        "editor.unsaved": "Unsaved changes",
        "editor.layout": "Auto-layout",
        "editor.fit": "Fit view",
        "editor.run": "Run",
        "editor.undo": "Undo",
        "editor.redo": "Redo",
        "editor.delete": "Delete selected",
        "editor.duplicate": "Duplicate selected",
        "editor.export": "Export JSON",
        "editor.node": "Node",
        "editor.label": "Label",
        "editor.no_selection": "Select a node to edit its settings.",
        "editor.valid": "No problems found.",
        "editor.issues": "Problems",
        "editor.refused": "Connection refused: {reason}",
        "editor.graph_name": "Graph name",
        "editor.add_item": "Add",
        "editor.draft_restored": "Restored your unsaved draft.",
        "editor.discard_draft": "Discard draft",
        "editor.delete_key": "Del",
        "editor.snap": "Snap to grid",
        "editor.minimap": "Minimap",
    },
    "es": {
        "app.title": "MindDocs",
        "nav.library": "Grafos",
        "nav.runs": "Ejecuciones",
        "nav.nodes": "Catálogo de nodos",
        "nav.language": "Idioma",
        "nav.secrets": "Secretos",
        "nav.webhooks": "Webhooks",
        "notifications.title": "Notificaciones",
        "notifications.intro": "Ejecuciones que terminaron o fallaron. Las nuevas aparecen aquí y en la campana al terminar.",
        "notifications.empty": "Aún no hay notificaciones.",
        "notifications.mark_all": "Marcar todas como leídas",
        "notifications.succeeded": "La ejecución de '{graph}' terminó",
        "notifications.failed": "La ejecución de '{graph}' falló",
        "notifications.toast_succeeded": "Una ejecución de '{graph}' terminó.",
        "notifications.toast_failed": "Una ejecución de '{graph}' falló.",
        "webhooks.title": "Webhooks",
        "webhooks.intro": "Avise a otros sistemas cuando terminen las ejecuciones de un grafo, y deje que inicien ejecuciones con una petición firmada.",
        "webhooks.no_graphs": "Aún no hay grafos; cree uno primero.",
        "webhooks.graph": "Grafo",
        "webhooks.outbound": "Direcciones avisadas al terminar una ejecución",
        "webhooks.url": "Dirección (URL)",
        "webhooks.add": "Añadir webhook",
        "webhooks.empty": "Este grafo aún no tiene webhooks.",
        "webhooks.active": "Activo",
        "webhooks.rotate": "Nuevo secreto",
        "webhooks.secret_once": "Copie ahora el secreto de firma: no se volverá a mostrar.",
        "webhooks.secret": "Secreto de firma",
        "webhooks.address": "Dirección",
        "webhooks.event.run.succeeded": "ejecución terminada",
        "webhooks.event.run.failed": "ejecución fallida",
        "webhooks.no_deliveries": "Aún no se ha enviado nada.",
        "webhooks.delivery.pending": "pendiente",
        "webhooks.delivery.delivered": "entregado",
        "webhooks.delivery.failed": "fallido",
        "webhooks.attempts": "{n} intento(s)",
        "webhooks.redeliver": "Enviar de nuevo",
        "webhooks.redelivering": "Enviando de nuevo.",
        "webhooks.refresh": "Actualizar historial",
        "webhooks.inbound": "Dirección que inicia una ejecución",
        "webhooks.inbound_intro": "Otros sistemas envían JSON o archivos a esta dirección, firmados con su secreto, para ejecutar el grafo.",
        "webhooks.inbound_none": "Este grafo no tiene dirección de entrada.",
        "webhooks.inbound_create": "Crear dirección",
        "tokens.title": "Tokens de API",
        "tokens.intro": "Los tokens permiten a scripts y otros programas usar la API de MindDocs en su nombre. Cada uno "
                        "se muestra una sola vez, al crearlo; guárdelo como una contraseña.",
        "tokens.new": "Nuevo token",
        "tokens.create": "Crear token",
        "tokens.empty": "Aún no hay tokens de API.",
        "tokens.name_hint": "Dónde se usa, p. ej. integración continua",
        "tokens.scopes": "Qué puede hacer",
        "tokens.scope.read": "leer",
        "tokens.scope.run": "ejecutar grafos",
        "tokens.scope.write": "modificar",
        "tokens.expiry": "Caduca",
        "tokens.expiry_days": "a los {days} días",
        "tokens.no_expiry": "nunca",
        "tokens.workspace": "Espacio de trabajo",
        "tokens.any_workspace": "Todos mis espacios de trabajo",
        "tokens.only_in": "solo en {name}",
        "tokens.shown_once": "Copie el token ahora: no se volverá a mostrar.",
        "tokens.token": "Token",
        "tokens.details": "Creado {created} · caduca {expires} · último uso {used}",
        "tokens.never": "nunca",
        "tokens.state.active": "activo",
        "tokens.state.expired": "caducado",
        "tokens.state.revoked": "revocado",
        "tokens.revoke": "Revocar",
        "tokens.revoke_confirm": "¿Revocar el token '{name}'? Los programas que lo usan dejarán de funcionar al instante.",
        "tokens.revoked": "Token '{name}' revocado.",
        "tokens.bad_name": "Dé al token un nombre de 1 a 100 caracteres que diga dónde se usa.",
        "tokens.bad_scopes": "Elija al menos una cosa que el token pueda hacer.",
        "secrets.title": "Secretos",
        "secrets.intro": "Claves de API y contraseñas que usan los nodos. Los valores se guardan cifrados y no se "
                         "vuelven a mostrar.",
        "secrets.new": "Nuevo secreto",
        "secrets.empty": "Aún no hay secretos.",
        "secrets.name_help": "Letras, dígitos, '_', '.' o '-', sin espacios (p. ej. clave_openai).",
        "secrets.value": "Valor (clave o contraseña)",
        "secrets.new_value": "Nuevo valor",
        "secrets.replace": "Cambiar valor",
        "secrets.replace_title": "Nuevo valor para '{name}'",
        "secrets.updated": "Modificado {when}",
        "secrets.created": "Secreto '{name}' guardado.",
        "secrets.replaced": "Nuevo valor de '{name}' guardado.",
        "secrets.deleted": "Secreto '{name}' eliminado.",
        "secrets.delete_confirm": "¿Eliminar el secreto '{name}'? Los nodos que lo usan fallarán hasta que elija "
                                  "otro.",
        "secrets.exists": "Ya existe un secreto llamado '{name}'; elija otro nombre o cambie su valor.",
        "secrets.bad_name": "Use de 1 a 100 letras, dígitos, '_', '.' o '-', sin espacios (p. ej. clave_openai).",
        "secrets.bad_value": "Escriba el valor que quiere guardar (la clave o contraseña); no puede estar vacío.",
        "secrets.bad_description": "La descripción es demasiado larga (500 caracteres como máximo).",
        "config.secret_new": "Crear un secreto nuevo…",
        "config.secret_missing": "El secreto '{name}' no existe; créelo o elija otro.",
        "config.secret_missing_option": "{name} (no existe)",
        "config.file_none": "Ningún archivo subido",
        "config.file_current": "Archivo: {name}",
        "config.file_upload": "Subir archivo",
        "config.file_remove": "Quitar archivo",
        "config.file_uploaded": "Se subió '{name}'.",
        "config.file_wrong_kind": "Este archivo es {kind}, pero este ajuste acepta {accepted}.",
        "config.file_kind_unknown": "de un formato que MindDocs no reconoce",
        "config.file_empty": "El archivo está vacío (0 bytes); elija otro.",
        "common.cancel": "Cancelar",
        "common.save": "Guardar",
        "common.delete": "Eliminar",
        "common.open": "Abrir",
        "common.close": "Cerrar",
        "common.search": "Buscar",
        "common.name": "Nombre",
        "common.description": "Descripción",
        "common.all": "Todos",
        "common.copy": "Copiar",
        "common.copied": "Copiado",
        "common.download": "Descargar",
        "common.not_found": "No encontrado: {message}",
        "common.error": "Error: {message}",
        "library.title": "Biblioteca de grafos",
        "library.new": "Nuevo grafo",
        "library.import": "Importar JSON",
        "library.import_done": "Importado «{name}».",
        "library.import_failed": "El archivo no es un grafo: {message}",
        "library.empty": "Aún no hay grafos. Cree uno o importe un archivo JSON.",
        "library.version": "versión {number}",
        "library.updated": "actualizado {when}",
        "library.edit": "Editar",
        "library.run": "Ejecutar",
        "library.rename": "Renombrar",
        "library.duplicate": "Duplicar",
        "library.export": "Exportar JSON",
        "library.copy_suffix": "(copia)",
        "library.new_name": "Grafo sin título",
        "library.delete_confirm": "¿Eliminar «{name}» con todas sus versiones y ejecuciones? No se puede deshacer.",
        "library.deleted": "Eliminado «{name}».",
        "library.renamed": "Renombrado a «{name}».",
        "library.duplicated": "Creado «{name}».",
        "library.issues": "{count} problema(s)",
        "library.ok": "Listo para ejecutar",
        "run_form.title": "Ejecutar «{name}»",
        "run_form.no_inputs": "Este grafo no pide nada; pulse Ejecutar.",
        "run_form.start": "Ejecutar",
        "run_form.reuse": "Reutilizar resultados de ejecuciones anteriores",
        "run_form.reuse_help": "Los nodos cuya configuración y entradas no han cambiado toman su resultado anterior "
                               "en lugar de ejecutarse de nuevo. Desactívelo para ejecutar todos los nodos otra vez.",
        "run_form.required": "Obligatorio",
        "run_form.uploaded": "Subido {name}",
        "run_form.upload": "Elija un archivo",
        "run_form.bad_json": "«{name}» no es JSON válido: {message}",
        "run_form.missing": "«{name}» es obligatorio.",
        "run_form.issues": "El grafo tiene problemas; ábralo en el editor para corregirlos.",
        "run_detail.title": "Ejecución {id}",
        "run_detail.graph": "Grafo",
        "run_detail.state": "Estado",
        "run_detail.started": "Inicio",
        "run_detail.duration": "Duración",
        "run_detail.nodes": "Nodos",
        "run_detail.outputs": "Resultados",
        "run_detail.no_outputs": "Aún no hay resultados.",
        "run_detail.log": "Registro",
        "run_detail.no_log": "Nada registrado.",
        "run_detail.cancel": "Cancelar ejecución",
        "run_detail.rerun_same": "Ejecutar de nuevo con las mismas entradas",
        "run_detail.resume": "Reanudar desde los nodos fallidos",
        "run_detail.resume_tip": "Una ejecución nueva con la última versión del grafo: los nodos que terminaron bien y no "
                                 "han cambiado conservan sus resultados; los fallidos y los cambiados se ejecutan otra vez.",
        "run_detail.new_inputs": "Ejecutar con otras entradas",
        "run_detail.resumed_from": "Reanuda",
        "run.reused_cache": "de caché",
        "run.reused_cache_tip": "No se ejecutó de nuevo: el resultado salió de la caché (mismo nodo, ajustes y entradas).",
        "run.reused_run": "reutilizado",
        "run.reused_run_tip": "No se ejecutó de nuevo: el resultado se reutilizó de la ejecución reanudada.",
        "runs.actions": "Acciones",
        "editor.node_run": "En esta ejecución",
        "editor.hide_run": "Ocultar los estados de la ejecución",
        "editor.resume_tip": "Guarda sus cambios y ejecuta de nuevo la última versión, reutilizando los resultados de "
                             "los nodos que terminaron bien y no han cambiado.",
        "run_detail.on_canvas": "Ver en el lienzo",
        "run_detail.node_outputs": "Salidas de este nodo",
        "run_detail.inputs": "Entradas",
        "run_detail.attempts": "intentos: {count}",
        "runs.title": "Ejecuciones",
        "runs.graph": "Grafo",
        "runs.state": "Estado",
        "runs.created": "Creada",
        "runs.empty": "Ninguna ejecución coincide.",
        "state.pending": "pendiente",
        "state.queued": "en cola",
        "state.running": "en curso",
        "state.succeeded": "completado",
        "state.failed": "fallido",
        "state.skipped": "omitido",
        "state.cancelled": "cancelado",
        "catalogue.title": "Catálogo de nodos",
        "catalogue.inputs": "Entradas",
        "catalogue.outputs": "Salidas",
        "catalogue.config": "Ajustes",
        "catalogue.none": "ninguna",
        "catalogue.ports_follow_config": "Algunos puertos dependen de los ajustes.",
        "output.page_preview": "Primera página",
        "output.file": "Archivo {name} ({size})",
        "editor.title": "Editor — {name}",
        "editor.palette": "Nodos",
        "editor.palette_hint": "Haga clic o arrastre un nodo al lienzo",
        "editor.save": "Guardar",
        "editor.saved": "Guardada la versión {number}.",
        "editor.conflict": "No se ha guardado: alguien guardó la versión {latest} de este grafo después de que "
                           "abrieras la versión {mine}. Tus cambios siguen en este editor; copia lo que necesites, "
                           "recarga la página para ver los suyos y vuelve a aplicar los tuyos.",
        "editor.unsaved": "Cambios sin guardar",
        "editor.layout": "Ordenar automáticamente",
        "editor.fit": "Ajustar vista",
        "editor.run": "Ejecutar",
        "editor.undo": "Deshacer",
        "editor.redo": "Rehacer",
        "editor.delete": "Eliminar selección",
        "editor.duplicate": "Duplicar selección",
        "editor.export": "Exportar JSON",
        "editor.node": "Nodo",
        "editor.label": "Etiqueta",
        "editor.no_selection": "Seleccione un nodo para editar sus ajustes.",
        "editor.valid": "No hay problemas.",
        "editor.issues": "Problemas",
        "editor.refused": "Conexión rechazada: {reason}",
        "editor.graph_name": "Nombre del grafo",
        "editor.add_item": "Añadir",
        "editor.draft_restored": "Se ha recuperado su borrador sin guardar.",
        "editor.discard_draft": "Descartar borrador",
        "editor.delete_key": "Supr",
        "editor.snap": "Ajustar a la cuadrícula",
        "editor.minimap": "Minimapa",
    },
}


def pick_language(accept_language: str | None) -> str:
    """The supported language the browser prefers most (Accept-Language: 'en-GB,en;q=0.9,es;q=0.8')."""
    choices = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in MESSAGES and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT


def language() -> str:
    try:  # a page's own language first (public share pages: nothing stored for anonymous visitors)
        lang = app.storage.client.get("lang") or app.storage.user.get("lang")
    except RuntimeError:  # outside a page (no browser storage)
        lang = None
    return lang if lang in MESSAGES else DEFAULT


def set_language(lang: str) -> None:
    if lang in MESSAGES:
        app.storage.user["lang"] = lang


def t(key: str, lang: str | None = None, **values: Any) -> str:
    text = MESSAGES[lang or language()].get(key) or MESSAGES["en"].get(key) or key
    return text.format(**values) if values else text


# --- validation issues -------------------------------------------------------------------------------
# One template per issue code (graph_runtime/validate.py): "issue.<code>", and "issue.<code>.<variant>"
# where the parameters name a variant ("variant", "side" or a pydantic "error" type). `issue_text` fills
# them from the issue's params; an issue without a template (e.g. from a plug-in) shows its English message.
ISSUE_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "issue.none": "none",
        "issue.duplicate_node_id": "{count} nodes share the id '{id}'; give each node its own id.",
        "issue.unknown_node_type": "Node #{id} uses the node type '{type}', which is not installed; install the "
                                   "plug-in that provides it or remove the node.",
        "issue.unknown_node_version": "{node} was made for version {version} of '{type}', but version {installed} "
                                      "is installed; update MindDocs or the plug-in, or replace the node.",
        "issue.invalid_config": "Setting '{field}' of {node} {problem}.",
        "issue.invalid_config.form": "The settings of {node} are wrong: {problem}.",
        "issue.invalid_config.missing": "Setting '{field}' of {node} is required.",
        "issue.invalid_config.extra_forbidden": "'{field}' is not a setting of {node}; remove it.",
        "issue.invalid_config.less_than_equal": "Setting '{field}' of {node} should be at most {le}.",
        "issue.invalid_config.less_than": "Setting '{field}' of {node} should be less than {lt}.",
        "issue.invalid_config.greater_than_equal": "Setting '{field}' of {node} should be at least {ge}.",
        "issue.invalid_config.greater_than": "Setting '{field}' of {node} should be greater than {gt}.",
        "issue.invalid_config.string_too_long": "Setting '{field}' of {node} should have at most {max_length} "
                                                "characters.",
        "issue.invalid_config.string_too_short": "Setting '{field}' of {node} should have at least {min_length} "
                                                 "characters.",
        "issue.invalid_config.too_long": "Setting '{field}' of {node} should have at most {max_length} items.",
        "issue.invalid_config.too_short": "Setting '{field}' of {node} should have at least {min_length} items.",
        "issue.invalid_config.int_parsing": "Setting '{field}' of {node} should be a whole number.",
        "issue.invalid_config.int_from_float": "Setting '{field}' of {node} should be a whole number.",
        "issue.invalid_config.float_parsing": "Setting '{field}' of {node} should be a number.",
        "issue.invalid_config.string_type": "Setting '{field}' of {node} should be a text.",
        "issue.dangling_edge": "An edge connects '{source}.{source_port}' to '{target}.{target_port}', but node "
                               "'{missing}' does not exist; delete the edge.",
        "issue.duplicate_edge_target": "Input '{port}' of {node} has more than one edge coming in; keep only one.",
        "issue.unknown_port.output": "{node} has no output '{port}'; its outputs are: {ports}.",
        "issue.unknown_port.input": "{node} has no input '{port}'; its inputs are: {ports}.",
        "issue.type_mismatch": "Port '{port}' of {node} expects {expects} but receives {receives} from {source}; "
                               "connect an output of type {expects} or put a converting node in between.",
        "issue.cycle": "These nodes form a loop: {path}. A graph must flow one way; remove one of these edges.",
        "issue.secret_missing": "Setting '{setting}' of {node} uses the secret '{secret}', which does not exist; "
                                "create it on the Secrets page or choose another secret.",
        "issue.required_input_missing": "Input '{port}' ({type}) of {node} is not connected; connect a node that "
                                        "produces it.",
        "issue.duplicate_input_name": "{count} graph inputs are called '{name}'; give each input its own name.",
        "issue.duplicate_output_name": "{count} graph outputs are called '{name}'; give each output its own name.",
        "issue.no_outputs": "The graph has no Output node, so a run would give nothing back; add an Output node "
                            "and connect the result to it.",
        "issue.empty_graph": "The graph has no nodes; add an Input, some work and an Output.",
        "issue.too_many_nodes": "The graph has {nodes} nodes and {edges} edges; the limit is {limit} nodes. Split "
                                "it into smaller graphs.",
        "issue.loop_without_collect": "{node} repeats the nodes after it for each item, but no Collect node "
                                      "gathers the results; add a Collect node at the end of the repeated part.",
        "issue.loop_collect_ambiguous": "{node} leads to more than one Collect node ({others}); a loop has exactly "
                                        "one Collect node where its items come together.",
        "issue.collect_without_loop": "{node} gathers the items of a For each node, but no For each node comes "
                                      "before it; add one or remove the Collect node.",
        "issue.collect_shared": "{node} is the end of several loops ({others}); give each For each node its own "
                                "Collect node.",
        "issue.loop_nested": "{node} is inside the loop of {for_each}; loops inside loops are not supported yet: "
                             "move it after {collect}, or split the work into two graphs.",
        "issue.loop_leak.items": "The items of {node} go to {target}, which does not lead to {collect}; everything "
                                 "after a For each node is repeated per item and must end in its Collect node. "
                                 "Connect {target} after {collect} instead.",
        "issue.loop_leak": "{node} runs once per item of {for_each}, but it also feeds {target}, which is not part "
                           "of the loop; connect it only to nodes that lead to {collect}, and use the output of "
                           "{collect} after the loop.",
    },
    "es": {
        "issue.none": "ninguna",
        "issue.duplicate_node_id": "{count} nodos comparten el id «{id}»; dé a cada nodo su propio id.",
        "issue.unknown_node_type": "El nodo #{id} usa el tipo de nodo «{type}», que no está instalado; instale el "
                                   "complemento que lo proporciona o elimine el nodo.",
        "issue.unknown_node_version": "{node} se creó para la versión {version} de «{type}», pero está instalada "
                                      "la versión {installed}; actualice MindDocs o el complemento, o sustituya "
                                      "el nodo.",
        "issue.invalid_config": "El ajuste «{field}» de {node} no es válido: {problem}.",
        "issue.invalid_config.form": "Los ajustes de {node} no son válidos: {problem}.",
        "issue.invalid_config.missing": "El ajuste «{field}» de {node} es obligatorio.",
        "issue.invalid_config.extra_forbidden": "«{field}» no es un ajuste de {node}; elimínelo.",
        "issue.invalid_config.less_than_equal": "El ajuste «{field}» de {node} debe ser como máximo {le}.",
        "issue.invalid_config.less_than": "El ajuste «{field}» de {node} debe ser menor que {lt}.",
        "issue.invalid_config.greater_than_equal": "El ajuste «{field}» de {node} debe ser como mínimo {ge}.",
        "issue.invalid_config.greater_than": "El ajuste «{field}» de {node} debe ser mayor que {gt}.",
        "issue.invalid_config.string_too_long": "El ajuste «{field}» de {node} debe tener como máximo "
                                                "{max_length} caracteres.",
        "issue.invalid_config.string_too_short": "El ajuste «{field}» de {node} debe tener como mínimo "
                                                 "{min_length} caracteres.",
        "issue.invalid_config.too_long": "El ajuste «{field}» de {node} debe tener como máximo {max_length} "
                                         "elementos.",
        "issue.invalid_config.too_short": "El ajuste «{field}» de {node} debe tener como mínimo {min_length} "
                                          "elementos.",
        "issue.invalid_config.int_parsing": "El ajuste «{field}» de {node} debe ser un número entero.",
        "issue.invalid_config.int_from_float": "El ajuste «{field}» de {node} debe ser un número entero.",
        "issue.invalid_config.float_parsing": "El ajuste «{field}» de {node} debe ser un número.",
        "issue.invalid_config.string_type": "El ajuste «{field}» de {node} debe ser un texto.",
        "issue.dangling_edge": "Una conexión une «{source}.{source_port}» con «{target}.{target_port}», pero el "
                               "nodo «{missing}» no existe; elimine la conexión.",
        "issue.duplicate_edge_target": "A la entrada «{port}» de {node} llega más de una conexión; deje solo una.",
        "issue.unknown_port.output": "{node} no tiene ninguna salida «{port}»; sus salidas son: {ports}.",
        "issue.unknown_port.input": "{node} no tiene ninguna entrada «{port}»; sus entradas son: {ports}.",
        "issue.type_mismatch": "El puerto «{port}» de {node} espera {expects}, pero recibe {receives} de {source}; "
                               "conecte una salida de tipo {expects} o ponga en medio un nodo que lo convierta.",
        "issue.cycle": "Estos nodos forman un ciclo: {path}. Un grafo debe avanzar en un solo sentido; elimine una "
                       "de estas conexiones.",
        "issue.secret_missing": "El ajuste «{setting}» de {node} usa el secreto «{secret}», que no existe; créelo en "
                                "la página Secretos o elija otro secreto.",
        "issue.required_input_missing": "La entrada «{port}» ({type}) de {node} no está conectada; conecte un nodo "
                                        "que la produzca.",
        "issue.duplicate_input_name": "{count} entradas del grafo se llaman «{name}»; dé a cada entrada su propio "
                                      "nombre.",
        "issue.duplicate_output_name": "{count} salidas del grafo se llaman «{name}»; dé a cada salida su propio "
                                       "nombre.",
        "issue.no_outputs": "El grafo no tiene ningún nodo Salida, así que una ejecución no devolvería nada; añada "
                            "un nodo Salida y conéctele el resultado.",
        "issue.empty_graph": "El grafo no tiene nodos; añada una Entrada, los nodos que hacen el trabajo y una "
                             "Salida.",
        "issue.too_many_nodes": "El grafo tiene {nodes} nodos y {edges} conexiones; el límite es de {limit} nodos. "
                                "Divídalo en grafos más pequeños.",
        "issue.loop_without_collect": "{node} repite para cada elemento los nodos que le siguen, pero ningún nodo "
                                      "Reunir junta los resultados; añada un nodo Reunir al final de la parte "
                                      "que se repite.",
        "issue.loop_collect_ambiguous": "{node} lleva a más de un nodo Reunir ({others}); un bucle tiene "
                                        "exactamente un nodo Reunir, donde se juntan sus elementos.",
        "issue.collect_without_loop": "{node} junta los elementos de un nodo Para cada, pero no hay ningún nodo "
                                      "Para cada antes de él; añada uno o elimine el nodo Reunir.",
        "issue.collect_shared": "{node} es el final de varios bucles ({others}); dé a cada nodo Para cada su "
                                "propio nodo Reunir.",
        "issue.loop_nested": "{node} está dentro del bucle de {for_each}; aún no se admiten bucles dentro de "
                             "bucles: muévalo después de {collect} o divida el trabajo en dos grafos.",
        "issue.loop_leak.items": "Los elementos de {node} van a {target}, que no lleva a {collect}; todo lo que "
                                 "sigue a un nodo Para cada se repite por elemento y debe terminar en su nodo "
                                 "Reunir. Conecte {target} después de {collect}.",
        "issue.loop_leak": "{node} se ejecuta una vez por elemento de {for_each}, pero también alimenta a "
                           "{target}, que no forma parte del bucle; conéctelo solo a nodos que lleven a {collect} "
                           "y use la salida de {collect} después del bucle.",
    },
}

# Why the editor refuses a wire (ui/editor_model.py)
REFUSAL_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "editor.refused_node_gone": "That node no longer exists.",
        "editor.refused_self": "A node cannot feed itself.",
        "editor.refused_port_gone": "That port no longer exists.",
        "editor.refused_type": "'{target}' expects {expects} but '{source}' gives {gives}.",
        "editor.refused_loop": "This wire would make a loop; a graph must flow one way.",
    },
    "es": {
        "editor.refused_node_gone": "Ese nodo ya no existe.",
        "editor.refused_self": "Un nodo no puede alimentarse a sí mismo.",
        "editor.refused_port_gone": "Ese puerto ya no existe.",
        "editor.refused_type": "«{target}» espera {expects}, pero «{source}» da {gives}.",
        "editor.refused_loop": "Esta conexión formaría un ciclo; un grafo debe avanzar en un solo sentido.",
    },
}

# A setting's problem under its field in the settings form, by pydantic error type (see `config_problem_text`).
CONFIG_PROBLEM_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "config_problem.missing": "Required.",
        "config_problem.less_than_equal": "Should be at most {le}.",
        "config_problem.less_than": "Should be less than {lt}.",
        "config_problem.greater_than_equal": "Should be at least {ge}.",
        "config_problem.greater_than": "Should be greater than {gt}.",
        "config_problem.string_too_long": "Should have at most {max_length} characters.",
        "config_problem.string_too_short": "Should have at least {min_length} characters.",
        "config_problem.too_long": "Should have at most {max_length} items.",
        "config_problem.too_short": "Should have at least {min_length} items.",
        "config_problem.int_parsing": "Should be a whole number.",
        "config_problem.int_from_float": "Should be a whole number.",
        "config_problem.float_parsing": "Should be a number.",
        "config_problem.string_type": "Should be a text.",
    },
    "es": {
        "config_problem.missing": "Obligatorio.",
        "config_problem.less_than_equal": "Debe ser como máximo {le}.",
        "config_problem.less_than": "Debe ser menor que {lt}.",
        "config_problem.greater_than_equal": "Debe ser como mínimo {ge}.",
        "config_problem.greater_than": "Debe ser mayor que {gt}.",
        "config_problem.string_too_long": "Debe tener como máximo {max_length} caracteres.",
        "config_problem.string_too_short": "Debe tener como mínimo {min_length} caracteres.",
        "config_problem.too_long": "Debe tener como máximo {max_length} elementos.",
        "config_problem.too_short": "Debe tener como mínimo {min_length} elementos.",
        "config_problem.int_parsing": "Debe ser un número entero.",
        "config_problem.int_from_float": "Debe ser un número entero.",
        "config_problem.float_parsing": "Debe ser un número.",
        "config_problem.string_type": "Debe ser un texto.",
    },
}
for _messages in (ISSUE_MESSAGES, REFUSAL_MESSAGES, CONFIG_PROBLEM_MESSAGES):
    for _lang, _texts in _messages.items():
        MESSAGES[_lang].update(_texts)

#: the Schedules page (ui/pages/schedules.py)
SCHEDULE_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "nav.schedules": "Schedules",
        "schedules.title": "Schedules",
        "schedules.intro": "Run graphs on a timetable, or once for each file dropped in a folder.",
        "schedules.new": "New schedule",
        "schedules.edit_title": "Schedule '{name}'",
        "schedules.empty": "No schedules yet.",
        "schedules.no_graphs": "There are no graphs yet: create one in the library first.",
        "schedules.graph": "Graph",
        "schedules.kind_cron": "On a timetable",
        "schedules.kind_watch": "For each file dropped in a folder",
        "schedules.cron": "Timetable (cron)",
        "schedules.cron_help": "minute hour day month weekday. \"0 8 * * 1-5\": weekdays at 8:00; \"*/15 * * * *\": "
                               "every 15 minutes; \"30 6 1 * *\": the 1st of each month at 6:30.",
        "schedules.timezone": "Time zone",
        "schedules.misfire": "If MindDocs was stopped at a run's time",
        "schedules.misfire_skip": "Skip the missed runs",
        "schedules.misfire_catch_up_one": "Run once when it is back",
        "schedules.start_at": "From (optional, e.g. 2026-01-31 08:00)",
        "schedules.end_at": "Until (optional)",
        "schedules.latest": "Always run the latest version of the graph",
        "schedules.pinned": "Runs version {number} of the graph",
        "schedules.folder": "Folder",
        "schedules.folder_help": "Inside {roots}; a plain name is a folder there. Each file is moved to processed/ "
                                 "(or failed/) once taken.",
        "schedules.file_input": "Input that receives each file",
        "schedules.no_file_input": "This graph has no file input: add an Input of kind file or document to watch a "
                                   "folder.",
        "schedules.inputs": "Inputs of every run",
        "schedules.preview": "Next runs",
        "schedules.bad_cron": "That is not a timetable. Write five fields: minute hour day month weekday, e.g. "
                              "\"0 8 * * 1-5\" (weekdays at 8:00).",
        "schedules.bad_timezone": "Choose a time zone from the list, e.g. Europe/Madrid.",
        "schedules.bad_folder": "The folder must be inside {roots}.",
        "schedules.bad_dates": "The end must be after the start.",
        "schedules.bad_date": "'{value}' is not a date and time; write it like 2026-01-31 08:00.",
        "schedules.bad_name": "Give the schedule a name.",
        "schedules.no_graph": "Choose a graph.",
        "schedules.saved": "Schedule '{name}' saved.",
        "schedules.deleted": "Schedule '{name}' deleted.",
        "schedules.delete_confirm": "Delete the schedule '{name}'? The runs it started are kept.",
        "schedules.state.active": "active",
        "schedules.state.paused": "paused",
        "schedules.state.watching": "watching a folder",
        "schedules.state.ended": "ended",
        "schedules.pause": "Pause",
        "schedules.resume": "Resume",
        "schedules.run_now": "Run now",
        "schedules.edit": "Edit",
        "schedules.started": "Run started.",
        "schedules.next": "Next run: {when}",
        "schedules.watching": "Watching {folder}",
        "schedules.last_run": "Last run",
        "schedules.last_error": "The last run could not start: {message}",
    },
    "es": {
        "nav.schedules": "Programaciones",
        "schedules.title": "Programaciones",
        "schedules.intro": "Ejecute grafos según un horario, o una vez por cada archivo que llegue a una carpeta.",
        "schedules.new": "Nueva programación",
        "schedules.edit_title": "Programación «{name}»",
        "schedules.empty": "Aún no hay programaciones.",
        "schedules.no_graphs": "Aún no hay grafos: cree uno primero en la biblioteca.",
        "schedules.graph": "Grafo",
        "schedules.kind_cron": "Según un horario",
        "schedules.kind_watch": "Por cada archivo que llegue a una carpeta",
        "schedules.cron": "Horario (cron)",
        "schedules.cron_help": "minuto hora día mes día-de-la-semana. \"0 8 * * 1-5\": de lunes a viernes a las 8:00; "
                               "\"*/15 * * * *\": cada 15 minutos; \"30 6 1 * *\": el día 1 de cada mes a las 6:30.",
        "schedules.timezone": "Zona horaria",
        "schedules.misfire": "Si MindDocs estaba parado a la hora de una ejecución",
        "schedules.misfire_skip": "Saltar las ejecuciones perdidas",
        "schedules.misfire_catch_up_one": "Ejecutar una vez al volver",
        "schedules.start_at": "Desde (opcional, p. ej. 2026-01-31 08:00)",
        "schedules.end_at": "Hasta (opcional)",
        "schedules.latest": "Ejecutar siempre la última versión del grafo",
        "schedules.pinned": "Ejecuta la versión {number} del grafo",
        "schedules.folder": "Carpeta",
        "schedules.folder_help": "Dentro de {roots}; un nombre sin ruta es una carpeta allí. Cada archivo se mueve a "
                                 "processed/ (o failed/) al tomarlo.",
        "schedules.file_input": "Entrada que recibe cada archivo",
        "schedules.no_file_input": "Este grafo no tiene entrada de archivo: añada una Entrada de tipo archivo o "
                                   "documento para vigilar una carpeta.",
        "schedules.inputs": "Entradas de cada ejecución",
        "schedules.preview": "Próximas ejecuciones",
        "schedules.bad_cron": "Eso no es un horario. Escriba cinco campos: minuto hora día mes día-de-la-semana, p. ej. "
                              "\"0 8 * * 1-5\" (de lunes a viernes a las 8:00).",
        "schedules.bad_timezone": "Elija una zona horaria de la lista, p. ej. Europe/Madrid.",
        "schedules.bad_folder": "La carpeta debe estar dentro de {roots}.",
        "schedules.bad_dates": "El final debe ser posterior al inicio.",
        "schedules.bad_date": "'{value}' no es una fecha y hora; escríbala como 2026-01-31 08:00.",
        "schedules.bad_name": "Dé un nombre a la programación.",
        "schedules.no_graph": "Elija un grafo.",
        "schedules.saved": "Programación «{name}» guardada.",
        "schedules.deleted": "Programación «{name}» eliminada.",
        "schedules.delete_confirm": "¿Eliminar la programación «{name}»? Las ejecuciones que inició se conservan.",
        "schedules.state.active": "activa",
        "schedules.state.paused": "en pausa",
        "schedules.state.watching": "vigilando una carpeta",
        "schedules.state.ended": "terminada",
        "schedules.pause": "Pausar",
        "schedules.resume": "Reanudar",
        "schedules.run_now": "Ejecutar ahora",
        "schedules.edit": "Editar",
        "schedules.started": "Ejecución iniciada.",
        "schedules.next": "Próxima ejecución: {when}",
        "schedules.watching": "Vigilando {folder}",
        "schedules.last_run": "Última ejecución",
        "schedules.last_error": "La última ejecución no pudo empezar: {message}",
    },
}
for _lang, _texts in SCHEDULE_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

from .i18n_accounts import ACCOUNT_MESSAGES

for _lang, _texts in ACCOUNT_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

from .i18n_admin import ADMIN_MESSAGES

for _lang, _texts in ADMIN_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

#: why a single sign-on (app/oidc_routes.py) was refused: /login?error=<code>
SSO_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "auth.error.sso_unknown_provider": "That sign-in option is not configured here. Use another one, or ask an "
                                           "administrator.",
        "auth.error.sso_refused": "The sign-in provider did not let you in. Try again, or use another sign-in "
                                  "option.",
        "auth.error.sso_unreachable": "The sign-in provider could not be reached. Try again in a few minutes.",
        "auth.error.sso_state": "The sign-in took too long or was started in another window. Please start it again.",
        "auth.error.sso_invalid_token": "The answer of the sign-in provider could not be verified, so you were not "
                                        "signed in. Try again; if it keeps happening, tell an administrator.",
        "auth.error.sso_email_missing": "The sign-in provider did not tell us your email address. Allow MindDocs to "
                                        "see it, or use another sign-in option.",
        "auth.error.sso_email_unverified": "Your email address is not verified with the sign-in provider. Verify it "
                                           "there, then try again.",
        "auth.error.sso_domain": "Accounts of your email domain may not sign in with this option. Use your work "
                                 "account, or another sign-in option.",
        "auth.error.sso_registration_closed": "There is no MindDocs account for your email address, and only invited "
                                              "people may join. Ask a workspace owner to invite you.",
        "auth.error.sso_account_disabled": "Your account is disabled. Ask an administrator.",
        "auth.error.sso_throttled": "Too many sign-in attempts. Wait a few minutes and try again.",
        "auth.error.sso_failed": "The sign-in did not work. Try again, or use another sign-in option.",
    },
    "es": {
        "auth.error.sso_unknown_provider": "Esa opción de acceso no está configurada aquí. Use otra, o consulte a un "
                                           "administrador.",
        "auth.error.sso_refused": "El proveedor de acceso no le ha dejado entrar. Inténtelo de nuevo o use otra "
                                  "opción de acceso.",
        "auth.error.sso_unreachable": "No se ha podido contactar con el proveedor de acceso. Inténtelo de nuevo en "
                                      "unos minutos.",
        "auth.error.sso_state": "El acceso tardó demasiado o se inició en otra ventana. Vuelva a empezarlo.",
        "auth.error.sso_invalid_token": "No se ha podido verificar la respuesta del proveedor de acceso, así que no "
                                        "ha entrado. Inténtelo de nuevo; si vuelve a ocurrir, avise a un "
                                        "administrador.",
        "auth.error.sso_email_missing": "El proveedor de acceso no nos ha dado su dirección de correo. Permita que "
                                        "MindDocs la vea, o use otra opción de acceso.",
        "auth.error.sso_email_unverified": "Su dirección de correo no está verificada en el proveedor de acceso. "
                                           "Verifíquela allí y vuelva a intentarlo.",
        "auth.error.sso_domain": "Las cuentas del dominio de su correo no pueden entrar con esta opción. Use su "
                                 "cuenta de trabajo u otra opción de acceso.",
        "auth.error.sso_registration_closed": "No hay ninguna cuenta de MindDocs para su dirección de correo, y solo "
                                              "pueden unirse personas invitadas. Pida a un propietario de un espacio "
                                              "de trabajo que le invite.",
        "auth.error.sso_account_disabled": "Su cuenta está desactivada. Consulte a un administrador.",
        "auth.error.sso_throttled": "Demasiados intentos de acceso. Espere unos minutos y vuelva a intentarlo.",
        "auth.error.sso_failed": "El acceso no ha funcionado. Inténtelo de nuevo o use otra opción de acceso.",
    },
}
for _lang, _texts in SSO_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

_VARIANT_PARAMS = ("variant", "side", "error")


def _param_text(key: str, value: Any, names: dict[str, str], lang: str) -> str:
    if isinstance(value, dict) and "id" in value:  # a node (graph_runtime.validate.node_ref)
        name = value.get("label") or names.get(value.get("type") or "") or value.get("name") or ""
        return f"{name} #{value['id']}" if name else f"#{value['id']}"
    if isinstance(value, list | tuple):
        if not value:
            return t("issue.none", lang)
        return (" → " if key == "path" else ", ").join(_param_text(key, v, names, lang) for v in value)
    return str(value)


def issue_text(issue: dict[str, Any], names: dict[str, str] | None = None, lang: str | None = None) -> str:
    """A validation issue (`Issue.to_json()`) in the person's language, its node names from `names`
    (type id -> display name in that language); the English `message` when no template fits."""
    lang = lang or language()
    params = issue.get("params") or {}
    keys = [f"issue.{issue.get('code')}.{params[p]}" for p in _VARIANT_PARAMS if isinstance(params.get(p), str)]
    values = {k: _param_text(k, v, names or {}, lang) for k, v in params.items()}
    for key in [*keys, f"issue.{issue.get('code')}"]:
        template = MESSAGES[lang].get(key)
        if template is None:
            continue
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            continue  # the issue lacks a value this template needs: try the next one
    return issue.get("message", "")


def config_problem_text(problem: dict[str, Any], lang: str | None = None) -> str:
    """A setting's problem ({error, problem, le, ...} as `app.ui_support.config_problems` passes it) in the
    person's language; pydantic's English sentence when no template fits."""
    template = MESSAGES[lang or language()].get(f"config_problem.{problem.get('error')}")
    if template is not None:
        try:
            return template.format(**problem)
        except (KeyError, IndexError, ValueError):
            pass
    text = str(problem.get("problem", ""))
    return f"{text[:1].upper()}{text[1:]}." if text else ""

from .i18n_share import SHARE_MESSAGES

for _lang, _texts in SHARE_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

from .i18n_marketplace import MARKETPLACE_MESSAGES

for _lang, _texts in MARKETPLACE_MESSAGES.items():
    MESSAGES[_lang].update(_texts)

from .i18n_analytics import ANALYTICS_MESSAGES

for _lang, _texts in ANALYTICS_MESSAGES.items():
    MESSAGES[_lang].update(_texts)
