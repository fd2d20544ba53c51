"""Fixtures of screening's store, gRPC and bus tests (helpers live in screening_integration)."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import `screening_integration` by its (repository-unique) name; the rootdir's
# importlib mode does not put this folder on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from collections.abc import AsyncIterator

import pytest
from screening_integration import Clock, make_context

from fangpin_kit import migrations
from fangpin_kit.db import Database
from fangpin_screening.adapters.orm import MIGRATIONS, metadata
from fangpin_screening.service_layer.handlers import ScreeningContext


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> ScreeningContext:
    return make_context(clock)
