"""Two editors on one graph: the second save gets a conflict message, not a silent overwrite."""

from __future__ import annotations

import copy

import pytest

from tests.ui.test_library import LETTER, graph_id


@pytest.mark.anyio
async def test_a_stale_editor_cannot_overwrite_a_newer_version(user):
    # Given an editor open on version 1
    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/edit")
    await user.should_see(marker="canvas")
    user.find(marker="palette-text.join").click()
    await user.should_see(marker="unsaved")

    # When someone else saves version 2 meanwhile, and this editor saves
    theirs = copy.deepcopy(user.services.graphs.latest(gid).spec)
    theirs["meta"]["description"] = "their change"
    user.services.graphs.save(theirs, graph_id=gid, expected_version=1)
    user.find(marker="save").click()

    # Then the save is refused with a sentence, and their version stays the newest
    await user.should_see("No se ha guardado: alguien guardó la versión 2 de este grafo después de que abrieras "
                          "la versión 1.", retries=20)
    latest = user.services.graphs.latest(gid)
    assert latest.number == 2 and latest.spec["meta"]["description"] == "their change"
    await user.should_see(marker="unsaved")
