"""Fixtures the twin's own tests share: the session twin loaded with the synthetic world of
``helpers.twin_world`` (one twin per session; each test gets the world fresh)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.twin_fixtures import session_twin
from helpers.twin_world import world

from preflight.twin import Twin


@pytest.fixture
def graph_twin() -> Iterator[Twin]:
    twin = session_twin()
    twin.use(world())
    yield twin
    assert twin.errors() == []


@pytest.fixture
def rg_twin() -> Iterator[Twin]:
    """The world with Resource Graph pages of two rows, so paging is exercised."""
    twin = session_twin()
    twin.use(world(page_size=2))
    yield twin
    assert twin.errors() == []
