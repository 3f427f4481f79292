"""The graph canvas: `@vue-flow/core` wrapped as a NiceGUI element.

The library's ESM builds are served straight from `node_modules/` (installed by `npm ci` from the committed
package.json and package-lock.json); NiceGUI's `dependencies=` puts them in the page's importmap. Python is
the source of truth: it sets `nodes`/`edges` and handles the events this element emits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import __version__ as nicegui_version
from nicegui import ui
from nicegui.dependencies import register_importmap_override

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
CORE = NODE_MODULES / "@vue-flow" / "core" / "dist" / "vue-flow-core.mjs"
MINIMAP = NODE_MODULES / "@vue-flow" / "minimap" / "dist" / "vue-flow-minimap.mjs"
BACKGROUND = NODE_MODULES / "@vue-flow" / "background" / "dist" / "vue-flow-background.mjs"
CSS_FILES = (CORE.parent / "style.css", CORE.parent / "theme-default.css", Path(__file__).with_name("flow_editor.css"))


def installed() -> bool:
    """Whether `npm ci` has put the canvas library in node_modules."""
    return CORE.is_file() and MINIMAP.is_file() and BACKGROUND.is_file()


class FlowEditor(ui.element, component="flow_editor.js", dependencies=[CORE, MINIMAP, BACKGROUND]):
    def __init__(self, *, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                 compat: dict[str, dict[str, bool]], snap: bool = True, minimap: bool = True) -> None:
        super().__init__()
        self._props["nodes"] = nodes
        self._props["edges"] = edges
        self._props["compat"] = compat
        self._props["snap"] = snap
        self._props["minimap"] = minimap
        self._props["run"] = {}
        for css in CSS_FILES:
            if css.is_file():
                ui.add_css(css.read_text(encoding="utf-8"))

    def set_graph(self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
        self._props["nodes"] = nodes
        self._props["edges"] = edges
        self.update()

    def set_options(self, *, snap: bool | None = None, minimap: bool | None = None) -> None:
        if snap is not None:
            self._props["snap"] = snap
        if minimap is not None:
            self._props["minimap"] = minimap
        self.update()

    def set_run(self, states: dict[str, dict[str, Any]]) -> None:
        """Show a run's node states: node id -> {state, label, error, reused, reused_label, reused_title}.

        Only the states travel (a method call over the websocket); the graph is not sent again.
        """
        with self._props.suspend_updates():  # an update would send the whole graph again
            self._props["run"] = states
        if self.client.has_socket_connection:
            self.run_method("set_run", states)

    @property
    def run_states(self) -> dict[str, dict[str, Any]]:
        return self._props["run"]

    def fit_view(self) -> None:
        self.run_method("fit_view")

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self._props["nodes"]

    @property
    def edges(self) -> list[dict[str, Any]]:
        return self._props["edges"]


# @vue-flow/minimap and /background import "@vue-flow/core": point that name at the same served file.
for _library in FlowEditor.exposed_libraries:
    if _library.path == CORE:
        register_importmap_override("@vue-flow/core", f"/_nicegui/{nicegui_version}/libraries/{_library.key}")
