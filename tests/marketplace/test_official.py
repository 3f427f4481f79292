"""Official templates: the sample graphs as public listings by MindDocs, in Spanish and English, once."""

from __future__ import annotations

import json

from app.services import Services
from marketplace.search import Filters
from tests.conftest import SAMPLES, make_settings
from tests.marketplace.helpers import person


def test_samples_become_official_listings_once(tmp_path):
    settings = make_settings(tmp_path / "data", load_samples=True)
    samples = sorted(SAMPLES.glob("*.json"))
    with Services(settings) as first:
        ana = person(first, "ana@example.com")
        rows = first.marketplace.search(ana, Filters(official=True))
        assert len(rows) == len(samples)
        assert {r.author_name for r in rows} == {"MindDocs"} and all(r.visibility == "public" for r in rows)
        ids = sorted(r.id for r in rows)
    with Services(settings) as again:  # a restart publishes nothing new
        ana = again.scope_for(ana.actor)
        rows = again.marketplace.search(ana, Filters(official=True))
        assert sorted(r.id for r in rows) == ids
        assert all(r.latest_version == 1 for r in rows)
        assert again.marketplace.load_official(SAMPLES) == 0


def test_official_listings_read_in_spanish_and_english_and_are_found_in_both(tmp_path):
    with Services(make_settings(tmp_path / "data", load_samples=True)) as services:
        ana = person(services, "ana@example.com")
        spanish = services.marketplace.search(ana, Filters(query="contratos masa"))
        english = services.marketplace.search(ana, Filters(query="mass contracts"))
        assert [r.id for r in spanish][:1] == [r.id for r in english][:1]
        row = spanish[0]
        meta = json.loads((SAMPLES / "mass_contracts.json").read_text(encoding="utf-8"))["meta"]
        assert row.text("es")["title"] == "Contratos en masa" and row.text("en")["title"] == "Mass contracts"
        assert row.text("en")["long_description"] == meta["description"]
        assert row.category == "legal" and "sample" not in row.tags
        assert services.marketplace.search(ana, Filters(category="photography"))[0].text("en")["title"] == (
            "Tourist photo clean-up")


def test_an_official_template_installs_and_the_author_cannot_be_rated_against(tmp_path):
    with Services(make_settings(tmp_path / "data", load_samples=True)) as services:
        ana = person(services, "ana@example.com")
        row = services.marketplace.search(ana, Filters(query="welcome letter"))[0]
        done = services.marketplace.install(ana, row.id)
        runs = services.scoped(ana).runs
        run = runs.wait(runs.start(done.graph_version_id, {"client_name": "Ana"}), timeout_s=60)
        assert run.state == "succeeded"
        assert services.marketplace.rate(ana, row.id, 5).stars == 5  # nobody owns an official listing
