"""Fixtures every tier shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import stop_all_actors


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    """No actor outlives its test (a test that starts none pays one empty registry scan)."""
    yield
    stop_all_actors()
