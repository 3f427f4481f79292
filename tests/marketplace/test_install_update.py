"""Installing a listing into a workspace, update-available, and updates with and without conflicts."""

from __future__ import annotations

import copy

import pytest

from app.errors import Conflict, Forbidden, NotFound
from marketplace.service import ListingForm
from tests.marketplace.helpers import WELCOME, publish, save


def new_version(services, scope, listing_id, spec, changelog="changed"):
    saved = save(services, scope, spec)
    return services.marketplace.publish(scope, saved.id, ListingForm(title="Welcome letter", changelog=changelog),
                                        listing_id=listing_id)[1]


def node(spec, node_id):
    return next(n for n in spec["nodes"] if n["id"] == node_id)


def test_install_copies_the_graph_into_the_chosen_workspace(services, ana, ben):
    listing, version = publish(services, ana, visibility="public")

    done = services.marketplace.install(ben, listing.id)

    graph = services.scoped(ben).graphs.get(done.install.graph_id)
    assert graph.workspace_id == ben.workspace_id and graph.source == "marketplace"
    assert graph.name == "Welcome letter"
    copied = services.scoped(ben).graphs.latest(graph.id).spec
    assert copied["nodes"] == version.spec["nodes"] and copied["edges"] == version.spec["edges"]
    assert services.marketplace.get(ben, listing.id).listing.installs == 1
    assert services.marketplace.installed_from(ben, graph.id).version_id == version.id


def test_the_installed_graph_runs(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    done = services.marketplace.install(ben, listing.id)

    runs = services.scoped(ben).runs
    run = runs.wait(runs.start(done.graph_version_id, {"client_name": "Eva"}), timeout_s=60)

    assert run.state == "succeeded", run
    assert "Estimado/a Eva" in run.outputs["letter"]


def test_install_needs_the_install_permission_and_a_visible_listing(services, ana, ben):
    listing, _ = publish(services, ana, visibility="workspace")
    with pytest.raises(NotFound):  # a workspace listing does not exist for outsiders
        services.marketplace.install(ben, listing.id)
    services.accounts_repo.set_role(ana.workspace_id, ben.user_id, "viewer")
    viewer = services.scope_for(ben.actor, ana.workspace_id)
    services.marketplace.get(viewer, listing.id)  # members see it
    with pytest.raises(Forbidden):
        services.marketplace.install(viewer, listing.id, ana.workspace_id)
    with pytest.raises(NotFound):  # nor into a workspace that is not theirs
        services.marketplace.install(ana, listing.id, ben.workspace_id)


def test_missing_node_types_are_reported_before_install(services, ana, ben):
    listing, version = publish(services, ana, visibility="public")
    from marketplace.models import ListingVersion

    with services.db.session() as s:  # as if published on a MindDocs with a newer text.template
        row = s.get(ListingVersion, version.id)
        row.node_types = [*row.node_types, {"type": "video.cut", "version": 1}]
        row.node_types = [t if t["type"] != "text.template" else {**t, "version": 99} for t in row.node_types]

    missing = services.marketplace.missing_for(ben, listing.id)
    assert {m["type"] for m in missing} == {"video.cut", "text.template"}
    with pytest.raises(Conflict) as caught:
        services.marketplace.install(ben, listing.id)
    assert caught.value.code == "missing_node_types" and "video.cut" in caught.value.message
    assert services.scoped(ben).graphs.list() == []  # nothing was written


def test_update_available_with_a_summary_of_the_changes(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    done = services.marketplace.install(ben, listing.id)
    assert not services.marketplace.update_info(ben, done.install.graph_id).available

    spec = copy.deepcopy(WELCOME)
    node(spec, "letter")["config"]["template"] = "Hola {{ client }} ({{ firm }})"
    spec["nodes"] = [n for n in spec["nodes"] if n["id"] != "firm"]
    node(spec, "letter")["config"]["variables"] = ["client", "firm"]
    spec["edges"] = [e for e in spec["edges"] if e["source"] != "firm"]
    spec["nodes"].append({"id": "firm2", "type": "io.input", "version": 1, "position": {"x": 0, "y": 300},
                          "config": {"name": "firm", "kind": "text", "default": "Bufete"}})
    spec["edges"].append({"source": "firm2", "source_port": "value", "target": "letter", "target_port": "firm"})
    new_version(services, ana, listing.id, spec, changelog="Firm input renamed")

    info = services.marketplace.update_info(ben, done.install.graph_id)
    assert info.available and (info.installed_version, info.latest_version) == (1, 2)
    assert info.changes == {"added": ["firm2"], "removed": ["firm"], "changed": ["letter"], "wires_changed": 1}
    assert "v2: Firm input renamed" in info.changelog
    assert list(services.marketplace.updates(ben)) == [done.install.graph_id]


def test_update_keeps_the_users_own_changes_that_do_not_conflict(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    done = services.marketplace.install(ben, listing.id)
    graph_id = done.install.graph_id
    # ben changes the firm's default and moves the letter node
    mine = copy.deepcopy(services.scoped(ben).graphs.latest(graph_id).spec)
    node(mine, "firm")["config"]["default"] = "Ben & Asociados"
    node(mine, "letter")["position"] = {"x": 500, "y": 500}
    save(services, ben, mine, graph_id)
    # the author changes the letter's text
    theirs = copy.deepcopy(WELCOME)
    node(theirs, "letter")["config"]["template"] = "Querido/a {{ client }}: bienvenido/a a {{ firm }}."
    new_version(services, ana, listing.id, theirs)

    result = services.marketplace.update(ben, graph_id)

    assert result["state"] == "updated" and result["version"] == 2
    merged = services.scoped(ben).graphs.latest(graph_id).spec
    assert node(merged, "firm")["config"]["default"] == "Ben & Asociados"  # ours
    assert node(merged, "letter")["config"]["template"].startswith("Querido/a")  # theirs
    assert node(merged, "letter")["position"] == {"x": 500.0, "y": 500.0}  # our move
    assert not services.marketplace.update_info(ben, graph_id).available
    assert services.marketplace.update(ben, graph_id)["state"] == "up_to_date"


def test_update_with_a_conflict_is_refused_and_offers_side_by_side(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    done = services.marketplace.install(ben, listing.id)
    graph_id = done.install.graph_id
    mine = copy.deepcopy(services.scoped(ben).graphs.latest(graph_id).spec)
    node(mine, "letter")["config"]["template"] = "Mi propia carta para {{ client }} de {{ firm }}."
    save(services, ben, mine, graph_id)
    theirs = copy.deepcopy(WELCOME)
    node(theirs, "letter")["config"]["template"] = "Otra carta para {{ client }} de {{ firm }}."
    new_version(services, ana, listing.id, theirs)

    with pytest.raises(Conflict) as caught:
        services.marketplace.update(ben, graph_id)
    assert caught.value.code == "update_conflict"
    assert [c["node_id"] for c in caught.value.details["conflicts"]] == ["letter"]
    assert node(services.scoped(ben).graphs.latest(graph_id).spec, "letter")["config"]["template"].startswith("Mi propia")

    result = services.marketplace.update(ben, graph_id, side_by_side=True)
    assert result["state"] == "installed_side_by_side" and result["graph_id"] != graph_id
    other = services.scoped(ben).graphs.latest(result["graph_id"]).spec
    assert node(other, "letter")["config"]["template"].startswith("Otra carta")
    assert node(services.scoped(ben).graphs.latest(graph_id).spec, "letter")["config"]["template"].startswith("Mi")


@pytest.mark.postgres
def test_the_whole_round_on_postgresql(tmp_path, pg_database):
    import uuid

    from app.services import Services
    from marketplace.search import Filters
    from tests.conftest import make_settings
    from tests.marketplace.helpers import person

    with Services(make_settings(tmp_path / "data", database_url=pg_database)) as services:
        tag = uuid.uuid4().hex[:8]
        ana, ben = person(services, f"ana-{tag}@example.com"), person(services, f"ben-{tag}@example.com")
        listing, _ = publish(services, ana, visibility="public", title=f"Carta {tag}")
        assert [r.id for r in services.marketplace.search(ben, Filters(query=f"carta {tag}"))] == [listing.id]
        done = services.marketplace.install(ben, listing.id)
        services.marketplace.rate(ben, listing.id, 4, "bien")
        theirs = copy.deepcopy(WELCOME)
        node(theirs, "letter")["config"]["template"] = "Hola {{ client }} ({{ firm }})"
        new_version(services, ana, listing.id, theirs)
        assert services.marketplace.update(ben, done.install.graph_id)["state"] == "updated"
        row = services.marketplace.get(ben, listing.id).listing
        assert (row.installs, row.rating_count, row.rating_average, row.latest_version) == (1, 1, 4.0, 2)
        data = services.marketplace.export_bundle(ana, [listing.id])
        imported = services.marketplace.import_bundle(ben, data)
        assert imported[0].workspace_id == ben.workspace_id and imported[0].latest_version == 2
