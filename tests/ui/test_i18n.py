"""One translation mechanism, both languages complete, the browser's language picks the default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui.i18n import MESSAGES, pick_language

UI = Path(__file__).resolve().parents[2] / "ui"


def test_every_key_exists_in_spanish_and_english():
    es, en = set(MESSAGES["es"]), set(MESSAGES["en"])
    assert not (en - es), f"missing in Spanish: {sorted(en - es)}"
    assert not (es - en), f"missing in English: {sorted(es - en)}"


def test_placeholders_match_between_languages():
    for key, text in MESSAGES["en"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", MESSAGES["es"][key])), key


def test_every_key_used_in_the_code_is_translated():
    used = set()
    for path in UI.rglob("*.py"):
        used |= set(re.findall(r'\bt\(\s*f?"([a-z_]+\.[a-z_{}.]+)"', path.read_text(encoding="utf-8")))
    static = {k for k in used if "{" not in k}
    assert not static - set(MESSAGES["en"]), sorted(static - set(MESSAGES["en"]))
    for state in ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled"):
        assert f"state.{state}" in MESSAGES["en"]


@pytest.mark.parametrize("header, expected", [
    ("es-ES,es;q=0.9,en;q=0.8", "es"),
    ("en-GB,en;q=0.9,es;q=0.8", "en"),
    ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
    ("de-DE", "es"),
    ("", "es"),
    ("es;q=0.2,en;q=0.9", "en"),
])
def test_browser_language_picks_the_default(header, expected):
    assert pick_language(header) == expected




@pytest.mark.anyio
async def test_english_browser_gets_english_and_can_switch(user):
    user.http_client.headers["accept-language"] = "en-US,en;q=0.9"
    await user.open("/")
    await user.should_see("Graph library")
    # "language" marks both the switch and its label: take the one that holds a value
    switch = next(e for e in user.find("language").elements if hasattr(e, "set_value"))
    switch.set_value("es")
    await user.open("/")
    await user.should_see("Biblioteca de grafos")
