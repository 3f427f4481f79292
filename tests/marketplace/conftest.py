"""Fixtures of the marketplace tests: two people with personal workspaces on real services (SQLite)."""

from __future__ import annotations

import pytest

from app.policy import Scope
from tests.marketplace.helpers import person


@pytest.fixture
def ana(services) -> Scope:
    return person(services, "ana@example.com")


@pytest.fixture
def ben(services) -> Scope:
    return person(services, "ben@example.com")
