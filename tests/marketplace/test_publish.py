"""Publishing: secrets and workspace files are stripped, the graph is checked, problems are listed."""

from __future__ import annotations

import copy
import json

import pytest

from app.errors import Forbidden, InvalidGraph, InvalidRequest, NotFound
from marketplace.preview import render_svg
from marketplace.search import Filters
from marketplace.service import ListingForm
from tests.conftest import SAMPLES
from tests.marketplace.helpers import WELCOME, publish, save

SOCIAL = json.loads((SAMPLES / "document_to_social_posts.json").read_text(encoding="utf-8"))
FILE_REF = {"artifact": "a" * 64, "name": "plantilla.docx", "size": 1234,
            "media_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def with_secrets() -> dict:
    """The social-posts sample with an API-key secret, plus a Slack post (its webhook secret is required)."""
    spec = copy.deepcopy(SOCIAL)
    spec["nodes"][3]["config"]["api_key"] = "openai_key_of_ana"
    spec["nodes"].append({"id": "slack", "type": "slack.post", "version": 1, "position": {"x": 900, "y": 200},
                          "config": {"webhook": "ana_slack_hook", "message": "{{ text }}"}})
    spec["edges"].append({"source": "posts", "source_port": "text", "target": "slack", "target_port": "text"})
    return spec


def test_publish_strips_secret_names_and_records_them(services, ana):
    listing, version = publish(services, ana, with_secrets(), title="Posts")

    text = json.dumps(version.spec)
    assert "openai_key_of_ana" not in text and "ana_slack_hook" not in text
    assert {(s["node_id"], s["setting"], s["kind"]) for s in version.stripped} == {
        ("posts", "api_key", "secret"), ("slack", "webhook", "secret")}
    # the rest of the settings stay as they were
    posts = next(n for n in version.spec["nodes"] if n["id"] == "posts")
    assert posts["config"]["variables"] == ["text", "tone"]
    assert {"type": "llm.prompt", "version": 1} in version.node_types
    assert {"type": "slack.post", "version": 1} in version.node_types
    assert listing.node_types == sorted({t["type"] for t in version.node_types})


def test_publish_strips_stored_files_from_settings(services, ana):
    spec = json.loads((SAMPLES / "contract_from_client_data.json").read_text(encoding="utf-8"))
    fill = next(n for n in spec["nodes"] if n["type"] == "doc.fill_template")
    fill["config"]["template_file"] = FILE_REF

    _, version = publish(services, ana, spec, title="Contrato")

    assert "a" * 64 not in json.dumps(version.spec)
    assert {"node_id": fill["id"], "setting": "template_file", "kind": "file"} in version.stripped


def test_the_graph_in_the_workspace_keeps_its_secrets(services, ana):
    spec = with_secrets()
    saved = save(services, ana, spec)
    services.marketplace.publish(ana, saved.id, ListingForm(title="Posts"))
    assert services.scoped(ana).graphs.version(saved.id).spec["nodes"][3]["config"]["api_key"] == "openai_key_of_ana"


def test_publish_refuses_a_broken_graph_with_every_problem(services, ana):
    spec = copy.deepcopy(WELCOME)
    spec["nodes"].append({"id": "ghost", "type": "no.such_type", "version": 1, "config": {}})
    spec["edges"].append({"source": "letter", "source_port": "nope", "target": "out", "target_port": "value"})
    saved = save(services, ana, spec)

    with pytest.raises(InvalidGraph) as caught:
        services.marketplace.publish(ana, saved.id, ListingForm(title="Broken"))

    codes = {d["code"] for d in caught.value.details}
    assert caught.value.code == "cannot_publish"
    assert "unknown_node_type" in codes and len(caught.value.details) >= 2
    assert "cannot be published" in caught.value.message
    assert services.marketplace.search(ana, Filters()) == []  # nothing was published


def test_publish_refuses_bad_listing_texts(services, ana):
    saved = save(services, ana, WELCOME)
    with pytest.raises(InvalidRequest) as caught:
        services.marketplace.publish(ana, saved.id, ListingForm(title=" ", category="astrology"))
    assert {d["field"] for d in caught.value.details} == {"title", "category"}


def test_only_members_who_may_publish_can(services, ana, ben):
    saved = save(services, ana, WELCOME)
    with pytest.raises(NotFound):  # someone else's graph does not exist for ben
        services.marketplace.publish(ben, saved.id, ListingForm(title="Mine now"))
    services.accounts_repo.set_role(ana.workspace_id, ben.user_id, "viewer")
    viewer = services.scope_for(ben.actor, ana.workspace_id)
    with pytest.raises(Forbidden):
        services.marketplace.publish(viewer, saved.id, ListingForm(title="Mine now"))


def test_new_versions_keep_the_history_and_can_be_deprecated(services, ana):
    listing, first = publish(services, ana)
    changed = copy.deepcopy(WELCOME)
    changed["nodes"][2]["config"]["template"] = "Hola {{ client }}, de parte de {{ firm }}."
    saved = save(services, ana, changed)
    _, second = services.marketplace.publish(ana, saved.id, ListingForm(title="Welcome letter", changelog="Shorter"),
                                             listing_id=listing.id)

    assert (first.number, second.number) == (1, 2)
    services.marketplace.deprecate(ana, listing.id, 2)
    assert services.marketplace.version(ana, listing.id).number == 1  # the newest not deprecated
    assert [v.deprecated for v in services.marketplace.get(ana, listing.id).versions] == [False, True]


def test_preview_is_an_svg_of_the_nodes_and_wires():
    svg = render_svg(WELCOME)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == len(WELCOME["nodes"]) + 1  # + background
    assert svg.count("<path") == len(WELCOME["edges"])
    hostile = copy.deepcopy(WELCOME)
    hostile["nodes"][2]["label"] = "<script>alert(1)</script>"
    assert "<script>" not in render_svg(hostile)
