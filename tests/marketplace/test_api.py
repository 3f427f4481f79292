"""The marketplace REST API: publish, search, install, rate, update, bundles (signed-in sessions)."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings, sign_in
from tests.marketplace.helpers import WELCOME


@pytest.fixture
def app(tmp_path):
    with TestClient(create_app(make_settings(tmp_path / "data"))) as client:
        yield client


def test_publish_search_install_rate_and_update_over_http(app, tmp_path):
    services = app.app.state.services
    sign_in(app, services, "ana@example.com")
    graph = app.post("/api/v1/graphs", json=WELCOME).json()
    version_id = graph.get("latest_version_id") or app.get(f"/api/v1/graphs/{graph['id']}").json()["latest_version_id"]

    made = app.post("/api/v1/marketplace/listings", json={
        "graph_version_id": version_id, "title": "Carta de bienvenida", "short_description": "Para clientes",
        "long_description": "# Carta\n\nRellena **una carta**.", "category": "legal", "tags": ["cartas"],
        "visibility": "public", "translations": {"en": {"title": "Welcome letter"}}})
    assert made.status_code == 201, made.text
    listing = made.json()
    assert listing["versions"][0]["number"] == 1 and listing["can_manage"]

    found = app.get("/api/v1/marketplace/listings", params={"q": "welcome", "lang": "en"}).json()
    assert [f["title"] for f in found] == ["Welcome letter"]
    svg = app.get(f"/api/v1/marketplace/listings/{listing['id']}/versions/1/preview.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and svg.text.startswith("<svg")
    assert app.post(f"/api/v1/marketplace/listings/{listing['id']}/rating").status_code in (405, 422)
    own = app.put(f"/api/v1/marketplace/listings/{listing['id']}/rating", json={"stars": 5})
    assert own.status_code == 403 and own.json()["code"] == "own_listing"

    # ben installs and rates it
    with TestClient(app.app) as ben:
        sign_in(ben, services, "ben@example.com")
        done = ben.post(f"/api/v1/marketplace/listings/{listing['id']}/install", json={})
        assert done.status_code == 201, done.text
        graph_id = done.json()["graph_id"]
        assert ben.get(f"/api/v1/graphs/{graph_id}").status_code == 200
        assert app.get(f"/api/v1/graphs/{graph_id}").status_code == 404  # ben's workspace, not ana's
        rated = ben.put(f"/api/v1/marketplace/listings/{listing['id']}/rating", json={"stars": 4, "review": "Bien"})
        assert rated.status_code == 200 and rated.json()["stars"] == 4
        assert ben.get(f"/api/v1/marketplace/installed/{graph_id}").json()["available"] is False

        changed = copy.deepcopy(WELCOME)
        changed["nodes"][2]["config"]["template"] = "Hola {{ client }} de {{ firm }}"
        new_graph = app.put(f"/api/v1/graphs/{graph['id']}", json=changed).json()
        new_version_id = new_graph.get("latest_version_id") or app.get(
            f"/api/v1/graphs/{graph['id']}").json()["latest_version_id"]
        published = app.post(f"/api/v1/marketplace/listings/{listing['id']}/versions",
                             json={"graph_version_id": new_version_id, "changelog": "Más corta"})
        assert published.status_code == 201 and published.json()["number"] == 2

        updates = ben.get("/api/v1/marketplace/updates").json()
        assert [u["graph_id"] for u in updates] == [graph_id] and updates[0]["changes"]["changed"] == ["letter"]
        updated = ben.post(f"/api/v1/marketplace/installed/{graph_id}/update", json={})
        assert updated.json()["state"] == "updated"

    detail = app.get(f"/api/v1/marketplace/listings/{listing['id']}").json()
    assert (detail["rating_count"], detail["rating_average"], detail["installs"]) == (1, 4.0, 1)

    bundle = app.post("/api/v1/marketplace/export", json={"listing_ids": [listing["id"]]})
    assert bundle.headers["content-type"] == "application/zip"
    garbage = app.post("/api/v1/marketplace/import", content=b"not a bundle")
    assert garbage.status_code == 422 and garbage.json()["code"] == "invalid_bundle"
    imported = app.post("/api/v1/marketplace/import", content=bundle.content)
    assert imported.status_code == 201 and imported.json()[0]["latest_version"] == 2


def test_the_marketplace_needs_a_signed_in_caller(app):
    response = app.get("/api/v1/marketplace/listings")
    assert response.status_code == 401 and response.json()["code"] == "not_signed_in"
