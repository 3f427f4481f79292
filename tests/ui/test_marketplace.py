"""Marketplace pages through NiceGUI's simulated user: browse, search, open, install, rate, publish."""

from __future__ import annotations

import pytest

from marketplace.search import Filters

pytestmark = pytest.mark.anyio


async def test_browse_search_and_install_an_official_template(user):
    await user.open("/marketplace")
    await user.should_see("Plantillas")
    await user.should_see("Carta de bienvenida")
    user.find("market-search").type("fotos")
    await user.should_see("Limpieza de fotos turísticas")
    await user.should_not_see("Carta de bienvenida")

    scope = user.services.scope_for(user.services.local_scope.actor)
    row = user.services.marketplace.search(scope, Filters(query="welcome letter"))[0]
    await user.open(f"/marketplace/{row.id}")
    await user.should_see("Carta de bienvenida")
    await user.should_see(marker="listing-preview")
    user.find("install").click()
    await user.should_see("Instalada como un grafo nuevo.")
    installs = [g for g in user.services.scoped(scope).graphs.list() if g.source == "marketplace"]
    assert [g.name for g in installs] == ["Carta de bienvenida"]


async def test_rate_an_official_template(user):
    scope = user.services.scope_for(user.services.local_scope.actor)
    row = user.services.marketplace.search(scope, Filters(query="booking"))[0]
    await user.open(f"/marketplace/{row.id}")
    user.find("rating-review").type("Muy útil")
    user.find("rating-save").click()
    await user.should_see("Gracias, tu valoración está guardada.")
    assert user.services.marketplace.get(scope, row.id).listing.rating_count == 1


async def test_publish_a_graph_from_the_library(user):
    scope = user.services.scope_for(user.services.local_scope.actor)
    graph = next(g for g in user.services.scoped(scope).graphs.list() if g.name.startswith("Carta de bienvenida"))
    await user.open(f"/graphs/{graph.id}/publish")
    await user.should_see("Publicar")
    user.find("publish-title").clear().type("Mi carta de equipo")
    user.find("publish-submit").click()
    await user.should_see("Mi carta de equipo")
    mine = user.services.marketplace.search(scope, Filters(query="equipo"))
    assert [r.title for r in mine] == ["Mi carta de equipo"] and mine[0].visibility == "workspace"


async def test_update_available_and_update_with_a_conflict_side_by_side(user):
    import copy

    from marketplace.service import ListingForm
    from tests.marketplace.helpers import WELCOME

    svc = user.services
    scope = svc.scope_for(svc.local_scope.actor)
    graphs = svc.scoped(scope).graphs
    source = graphs.save(copy.deepcopy(WELCOME) | {"meta": {"name": "Fuente", "description": "", "tags": []}})
    listing, _ = svc.marketplace.publish(scope, source.id, ListingForm(title="Carta del equipo"))
    installed = svc.marketplace.install(scope, listing.id).install.graph_id
    mine = copy.deepcopy(graphs.latest(installed).spec)
    mine["nodes"][2]["config"]["template"] = "Mía: {{ client }} {{ firm }}"
    graphs.save(mine, graph_id=installed)
    theirs = copy.deepcopy(WELCOME)
    theirs["nodes"][2]["config"]["template"] = "Suya: {{ client }} {{ firm }}"
    new = graphs.save(theirs | {"meta": {"name": "Fuente", "description": "", "tags": []}}, graph_id=source.graph_id)
    svc.marketplace.publish(scope, new.id, ListingForm(title="-", changelog="Otra carta"), listing_id=listing.id)

    await user.open("/marketplace")
    await user.should_see(marker="market-updates")
    await user.should_see("Actualización disponible")
    user.find(f"update-{installed}").click()
    await user.should_see(marker="update-conflict")
    user.find("side-by-side").click()
    await user.should_see("La versión 2 se instaló como un grafo aparte.")
    names = sorted(g.name for g in graphs.list() if g.source == "marketplace")
    assert names == ["Carta del equipo", "Carta del equipo (v2)"]


def test_descriptions_render_markdown_without_html_or_script_links():
    from ui.pages.listing import markdown_html

    html = markdown_html("# Title\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1)) "
                         "<img src=x onerror=alert(1)>")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
