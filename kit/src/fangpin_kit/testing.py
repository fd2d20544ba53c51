"""pytest fixtures for adapter tests against real servers: nats-server from the wheel on a free
port (never the machine's own NATS), and PostgreSQL from `FANGPIN_TEST_PG` when reachable."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fangpin_kit.clock import offset_to
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp, ServiceSpec

DEFAULT_TEST_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A private nats-server with JetStream for the test session."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def county() -> str:
    """A fresh county code per test, so streams and subjects never mix between tests."""
    return f"{uuid.uuid4().int % 900000 + 100000:06d}"


def _pg_admin_url() -> str:
    return os.environ.get("FANGPIN_TEST_PG", DEFAULT_TEST_PG)


def postgres_reason() -> str | None:
    """None when the test PostgreSQL answers, else why not (`FANGPIN_TEST_PG=off`: not asked)."""
    if _pg_admin_url() == "off":
        return "PostgreSQL tests switched off (FANGPIN_TEST_PG=off)"
    url = make_url(_pg_admin_url()).set(drivername="postgresql+psycopg")
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as err:  # any failure means: no usable server here
        return f"PostgreSQL not reachable at FANGPIN_TEST_PG ({url.render_as_string()}): {err}"
    return None


@pytest.fixture(scope="session")
def postgres_available() -> str | None:
    return postgres_reason()


def create_pg_database() -> str:
    """A new empty database on the test server; returns its async URL."""
    admin = make_url(_pg_admin_url()).set(drivername="postgresql+psycopg")
    name = f"fangpin_t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    admin = make_url(_pg_admin_url()).set(drivername="postgresql+psycopg")
    name = make_url(url).database
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: str | None
) -> Iterator[str]:
    """A fresh store URL; every store test runs on SQLite and, when reachable, PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    if postgres_available:
        pytest.skip(postgres_available)
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running_service(
    spec: ServiceSpec, *, start: datetime, **settings: Any
) -> AsyncIterator[ServiceApp]:
    """A service in this process against real NATS and a real store: migrated, started, and
    stopped afterwards. Pass at least `county`, `nats_url` and `db_url`; the gRPC port is free.

    `start` is the instant the service clock reads when it starts (it then runs at real speed):
    every test names its dates, none depends on the day it runs."""
    from fangpin_kit import migrations
    from fangpin_kit.natsserver import free_port
    from fangpin_kit.settings import load_settings

    if "clock_offset_seconds" in settings:
        raise TypeError("running_service: name the clock's start instead of an offset")
    settings["clock_offset_seconds"] = offset_to(start)
    settings.setdefault("grpc_port", free_port())
    settings.setdefault("retry_backoff_seconds", 0.05)
    config = load_settings(spec.name, **settings)
    migrations.upgrade(spec.migrations_dir, config.resolved_db_url())
    app = ServiceApp(spec, config)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
