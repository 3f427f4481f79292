"""Installing a listing into a workspace, and updating installed copies (part of MarketplaceService)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.errors import Conflict, NotFound
from app.policy import Scope

from .merge import diff, merge
from .publish import missing_node_types
from .store import InstallRow, ListingRow, VersionRow


@dataclass(frozen=True)
class Installed:
    install: InstallRow
    graph_version_id: str
    stripped: list[dict[str, str]]  # settings to fill in (secrets, files) before the graph runs


@dataclass(frozen=True)
class UpdateInfo:
    install: InstallRow
    installed_version: int
    latest_version: int
    changes: dict[str, Any]  # merge.Diff.to_json()
    summary: str
    changelog: str

    @property
    def available(self) -> bool:
        return self.latest_version > self.installed_version


class Installer:
    """Mixed into MarketplaceService: uses its store, registry, graphs_for, audit and `_visible`."""

    def missing_for(self, scope: Scope, listing_id: str, number: int | None = None) -> list[dict[str, Any]]:
        """Node types the version needs that this installation lacks (empty: it can be installed)."""
        version = self.version(scope, listing_id, number)  # type: ignore[attr-defined]
        return missing_node_types(version.node_types, self.registry)  # type: ignore[attr-defined]

    def install(self, scope: Scope, listing_id: str, workspace_id: str | None = None, *,
                number: int | None = None, name: str | None = None) -> Installed:
        """Copy a listing version into a workspace as a new graph linked to it; refused (before anything is
        written) when this installation lacks node types it needs."""
        listing: ListingRow = self._visible(scope, listing_id)  # type: ignore[attr-defined]
        workspace_id = workspace_id or scope.workspace_id
        scope.require("listing.install", workspace_id, what="workspace")
        version: VersionRow = self.version(scope, listing_id, number)  # type: ignore[attr-defined]
        missing = missing_node_types(version.node_types, self.registry)  # type: ignore[attr-defined]
        if missing:
            names = ", ".join(m["type"] + (f" (version {m['version']}, installed {m['installed_version']})"
                                           if m["installed_version"] else "") for m in missing)
            raise Conflict(f"This template needs node types this MindDocs does not have: {names}. Ask the "
                           "administrator to install them (a newer MindDocs or a node plugin), then install again.",
                           code="missing_node_types", details={"missing": missing})
        spec = copy.deepcopy(version.spec)
        spec["meta"] = {**spec.get("meta", {}), "name": (name or listing.text(None)["title"])[:200]}
        graphs = self.graphs_for(scope.in_workspace(workspace_id))  # type: ignore[attr-defined]
        saved = graphs.save(spec, source_kind="marketplace")
        row = self.store.add_install(listing_id, version.id, workspace_id, saved.graph_id,  # type: ignore[attr-defined]
                                     scope.user_id)
        self.audit.record(scope.actor, "listing.installed", workspace_id=workspace_id,  # type: ignore[attr-defined]
                          target_type="graph", target_id=saved.graph_id,
                          details={"listing_id": listing_id, "version": version.number})
        return Installed(row, saved.id, version.stripped)

    def installed_from(self, scope: Scope, graph_id: str) -> InstallRow | None:
        """The install a graph came from (None: not from the marketplace)."""
        self.graphs_for(scope).get(graph_id)  # type: ignore[attr-defined]
        return self.store.install_of(graph_id)  # type: ignore[attr-defined]

    def update_info(self, scope: Scope, graph_id: str) -> UpdateInfo | None:
        """For a graph installed from the marketplace: its version, the newest one, and what changed."""
        install = self.installed_from(scope, graph_id)
        if install is None:
            return None
        try:
            self._visible(scope, install.listing_id)  # type: ignore[attr-defined]
        except NotFound:
            return None  # the listing was withdrawn or is no longer visible: nothing to update from
        installed = self.store.version(install.version_id)  # type: ignore[attr-defined]
        latest = self.store.latest(install.listing_id) or installed  # type: ignore[attr-defined]
        changes = diff(installed.spec, latest.spec)
        changelog = "\n\n".join(f"v{v.number}: {v.changelog}" for v in self.store.versions(  # type: ignore[attr-defined]
            install.listing_id) if installed.number < v.number <= latest.number and v.changelog)
        return UpdateInfo(install, installed.number, latest.number, changes.to_json(), changes.summary(), changelog)

    def updates(self, scope: Scope, workspace_id: str | None = None) -> dict[str, UpdateInfo]:
        """graph id -> update info, for the workspace's installed graphs that have a newer version."""
        workspace_id = workspace_id or scope.workspace_id
        scope.require("graph.read", workspace_id, what="workspace")
        out = {}
        for install in self.store.installs(workspace_id):  # type: ignore[attr-defined]
            latest = self.store.latest(install.listing_id)  # type: ignore[attr-defined]
            if latest is not None and latest.id != install.version_id:
                info = self.update_info(scope, install.graph_id)
                if info is not None and info.available:
                    out[install.graph_id] = info
        return out

    def update(self, scope: Scope, graph_id: str, *, side_by_side: bool = False) -> dict[str, Any]:
        """Bring an installed graph to the listing's newest version, keeping the workspace's own changes where
        they do not conflict. On a conflict: Conflict (code `update_conflict`, details name the nodes), unless
        `side_by_side`, which installs the new version as another graph and leaves this one as it is."""
        info = self.update_info(scope, graph_id)
        if info is None:
            raise NotFound("This graph was not installed from the marketplace (or its listing is gone), so there "
                           "is nothing to update it from.")
        install = info.install
        scope.require("listing.install", install.workspace_id, what="graph")
        if not info.available:
            return {"state": "up_to_date", "graph_id": graph_id, "version": info.installed_version}
        graphs = self.graphs_for(scope)  # type: ignore[attr-defined]
        current = graphs.latest(graph_id)
        latest: VersionRow = self.store.latest(install.listing_id)  # type: ignore[attr-defined]
        if side_by_side:
            title = f"{current.spec['meta']['name']} (v{latest.number})"
            installed = self.install(scope, install.listing_id, install.workspace_id, number=latest.number, name=title)
            return {"state": "installed_side_by_side", "graph_id": installed.install.graph_id,
                    "version": latest.number}
        base = self.store.version(install.version_id).spec  # type: ignore[attr-defined]
        result = merge(base, current.spec, latest.spec)
        if result.conflicts:
            raise Conflict(f"Your graph and version {latest.number} of the template both changed "
                           f"{len(result.conflicts)} node(s) or wire(s): "
                           + "; ".join(c["message"] for c in result.conflicts[:3])
                           + " Install the new version side by side instead, and move your changes over by hand.",
                           code="update_conflict", details={"conflicts": result.conflicts,
                                                            "version": latest.number})
        saved = graphs.save(result.spec, graph_id=graph_id, expected_version=current.number)
        self.store.move_install(install.id, latest.id)  # type: ignore[attr-defined]
        self.audit.record(scope.actor, "listing.updated", workspace_id=install.workspace_id,  # type: ignore[attr-defined]
                          target_type="graph", target_id=graph_id,
                          details={"listing_id": install.listing_id, "version": latest.number})
        return {"state": "updated", "graph_id": graph_id, "graph_version_id": saved.id, "version": latest.number}
