"""Fixtures for node tests that call node types directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.services import Services
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Services]:
    """Real services (database and artifact store), not started: the tests call nodes directly, and one
    store per module keeps them fast."""
    svc = Services(make_settings(tmp_path_factory.mktemp("data")))
    yield svc
    svc.close()
