"""Offline exchange: export listings as a bundle, import them elsewhere; bad bundles are refused clearly."""

from __future__ import annotations

import copy
import io
import json
import zipfile

import pytest

from app.errors import InvalidRequest, TooLarge
from app.services import Services
from marketplace.search import Filters
from tests.conftest import make_settings
from tests.marketplace.helpers import WELCOME, person, publish, save
from tests.marketplace.test_publish import with_secrets


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_round_trip_to_another_instance(services, ana, tmp_path):
    listing, _ = publish(services, ana, visibility="public", tags=["letters"],
                         translations={"en": {"title": "Welcome letter (EN)"}})
    changed = copy.deepcopy(WELCOME)
    changed["nodes"][2]["config"]["template"] = "Hola {{ client }} de {{ firm }}"
    saved = save(services, ana, changed)
    from marketplace.service import ListingForm

    services.marketplace.publish(ana, saved.id, ListingForm(title="x", changelog="Shorter"), listing_id=listing.id)
    secret_listing, _ = publish(services, ana, with_secrets(), title="Posts")

    data = services.marketplace.export_bundle(ana, [listing.id, secret_listing.id])
    assert b"openai_key_of_ana" not in zipfile.ZipFile(io.BytesIO(data)).read("bundle.json")

    with Services(make_settings(tmp_path / "office")) as other:
        zoe = person(other, "zoe@example.com")
        imported = other.marketplace.import_bundle(zoe, data)
        assert [r.title for r in imported] == ["Welcome letter", "Posts"]
        first = other.marketplace.get(zoe, imported[0].id)
        assert [v.number for v in first.versions] == [1, 2] and first.versions[1].changelog == "Shorter"
        assert first.listing.workspace_id == zoe.workspace_id and first.listing.tags == ["letters"]
        assert first.listing.translations["en"]["title"] == "Welcome letter (EN)"
        assert first.versions[1].spec == services.marketplace.version(ana, listing.id, 2).spec
        # importing it again adds nothing
        again = other.marketplace.import_bundle(zoe, data)
        assert [r.id for r in again] == [r.id for r in imported]
        assert len(other.marketplace.get(zoe, imported[0].id).versions) == 2
        # and it installs and runs there
        done = other.marketplace.install(zoe, imported[0].id)
        runs = other.scoped(zoe).runs
        run = runs.wait(runs.start(done.graph_version_id, {"client_name": "Ío"}), timeout_s=60)
        assert run.state == "succeeded" and "Hola Ío" in run.outputs["letter"]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\x00\x01garbage\xff", "neither"),
    (b'{"hello": "world"}', "not a MindDocs marketplace bundle"),
    (b"PK\x03\x04 broken zip", "not a readable .zip"),
    (zipped({"bundle.json": b"{}", "run.sh": b"rm -rf /"}), "exactly one file"),
    (json.dumps({"format": "minddocs-marketplace-bundle", "listings": []}).encode(), "problem"),
    (json.dumps({"format": "minddocs-marketplace-bundle", "listings": [{"id": "x", "title": "T"}]}).encode(),
     "versions"),
])
def test_bad_bundles_are_refused_with_a_sentence(services, ana, data, words):
    with pytest.raises(InvalidRequest) as caught:
        services.marketplace.import_bundle(ana, data)
    assert caught.value.code == "invalid_bundle"
    assert words in caught.value.message + json.dumps(caught.value.details)
    assert services.marketplace.search(ana, Filters()) == []


def test_a_zip_bomb_is_not_unpacked(services, ana):
    bomb = zipped({"bundle.json": b" " * (60 * 1024 * 1024)})  # 60 MB of spaces packs to ~60 KB
    with pytest.raises(TooLarge) as caught:
        services.marketplace.import_bundle(ana, bomb)
    assert "not unpacked" in caught.value.message


def test_a_bundle_is_checked_like_a_publish_and_imports_all_or_nothing(services, ana):
    good = {"id": "good", "title": "Good", "versions": [{"number": 1, "spec": WELCOME}]}
    broken_spec = copy.deepcopy(WELCOME)
    broken_spec["nodes"].append({"id": "x", "type": "shell.exec", "version": 1, "config": {"cmd": "ls"}})
    bad = {"id": "bad", "title": "Bad", "versions": [{"number": 1, "spec": broken_spec}]}
    data = json.dumps({"format": "minddocs-marketplace-bundle", "listings": [good, bad]}).encode()

    with pytest.raises(InvalidRequest) as caught:
        services.marketplace.import_bundle(ana, data)

    assert [p["listing"] for p in caught.value.details] == ["bad"]
    assert "shell.exec" in json.dumps(caught.value.details)
    assert services.marketplace.search(ana, Filters()) == []
