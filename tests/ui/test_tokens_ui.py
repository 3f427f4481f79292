"""The API tokens page: create (shown once, with a copy button), list, revoke."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_tokens_page_creates_shows_once_and_revokes(user):
    tokens = user.services.tokens
    await user.open("/tokens")
    await user.should_see("Aún no hay tokens de API.")

    # without a name the dialog stays open with a sentence
    user.find("new-token").click()
    user.find("token-save").click()
    await user.should_see("Dé al token un nombre")
    user.find("token-name").type("Integración")
    user.find("scope-run").click()
    user.find("token-save").click()
    await user.should_see("Copie el token ahora")
    await user.should_see(marker="copy")
    shown = user.find("token-value").elements.pop().value
    assert shown.startswith("md_")
    actor, _ = tokens.authenticate(shown, ip="")  # the token shown works, with the scopes ticked
    assert actor.scopes == frozenset({"read", "run"})
    user.find("token-close").click()

    await user.should_see(marker="token-Integración")
    await user.should_see("activo")
    [row] = tokens.repo.api_tokens(actor.user_id)
    assert row.expires_at is not None  # 90 days unless chosen otherwise

    user.find("revoke-Integración").click()
    await user.should_see("¿Revocar el token 'Integración'?")
    user.find("confirm-revoke").click()
    await user.should_see("revocado")
    assert tokens.repo.api_token(row.id).state() == "revoked"
    await user.should_not_see(marker="revoke-Integración")


async def test_a_token_for_one_workspace_says_so(user):
    tokens = user.services.tokens
    admin = user.account
    team = user.services.accounts_repo.create_workspace("Hotel Sol", admin.id)
    await user.open("/tokens")
    user.find("new-token").click()
    user.find("token-name").type("Recepción")
    next(e for e in user.find("token-workspace").elements if hasattr(e, "set_value")).set_value(team.id)
    user.find("token-save").click()
    await user.should_see("Copie el token ahora")
    user.find("token-close").click()
    await user.should_see("solo en Hotel Sol")
    [row] = tokens.repo.api_tokens(admin.id)
    assert row.workspace_id == team.id and row.scopes == ("read",)
