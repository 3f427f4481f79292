"""Helpers for the marketplace tests: people with workspaces, saved graphs, published listings."""

from __future__ import annotations

import copy
import json
from typing import Any

from app.policy import Actor, Scope
from marketplace.service import ListingForm
from tests.conftest import SAMPLES

WELCOME = json.loads((SAMPLES / "welcome_letter.json").read_text(encoding="utf-8"))


def person(services, email: str) -> Scope:
    """A new user (with a personal workspace) and their Scope there."""
    user = services.accounts_repo.create_user(email, name=email.split("@")[0].title())
    return services.scope_for(Actor(user_id=user.id, label=email))


def rescope(services, scope: Scope, workspace_id: str | None = None) -> Scope:
    """The same person with their memberships read again (after being added to a workspace)."""
    return services.scope_for(scope.actor, workspace_id)


def save(services, scope: Scope, spec: dict[str, Any], graph_id: str | None = None):
    return services.scoped(scope).graphs.save(copy.deepcopy(spec), graph_id=graph_id)


def publish(services, scope: Scope, spec: dict[str, Any] = WELCOME, **form: Any):
    version = save(services, scope, spec)
    values = {"title": "Welcome letter", "short_description": "A letter for new clients", **form}
    return services.marketplace.publish(scope, version.id, ListingForm(**values))
