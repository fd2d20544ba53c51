"""Alembic plumbing shared by every service: the async env, upgrade and drift check.

A service's `migrations/env.py` is two lines: import its metadata and call `run_env(metadata)`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection

from fangpin_kit.db import make_engine
from fangpin_kit.settings import load_settings


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Bring the store at `url` to `revision`.

    The env runs its own event loop, so inside a running loop (tests) it runs on a thread."""
    config = alembic_config(script_location, url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, config, revision).result()


def check(script_location: Path, url: str | None = None) -> None:
    """Fail when the models and the migrations disagree (`alembic check` on a fresh store)."""
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'check.db'}"
        config = alembic_config(script_location, db_url)
        command.upgrade(config, "head")
        command.check(config)


def run_env(metadata: sa.MetaData, service: str) -> None:
    """Body of a service's `migrations/env.py` (online, async engine; offline renders SQL).

    The URL is the one the service passed, else the service's settings (`FANGPIN_DB_URL`)."""
    url = (
        context.config.get_main_option("sqlalchemy.url") or load_settings(service).resolved_db_url()
    )

    def configure(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def online() -> None:
        engine = make_engine(url)
        async with engine.connect() as conn:
            await conn.run_sync(configure)
        await engine.dispose()

    asyncio.run(online())


def main() -> None:
    """`python -m fangpin_kit.migrations check|upgrade MIGRATIONS_DIR...`."""
    if len(sys.argv) < 3 or sys.argv[1] not in ("check", "upgrade"):
        raise SystemExit("usage: python -m fangpin_kit.migrations check|upgrade MIGRATIONS_DIR...")
    for location in sys.argv[2:]:
        if sys.argv[1] == "upgrade":
            url = os.environ.get("FANGPIN_DB_URL")
            if not url:
                raise SystemExit("upgrade: set FANGPIN_DB_URL")
            upgrade(Path(location), url)
            print(f"alembic upgrade: {location}: at head")
        else:
            check(Path(location))
            print(f"alembic check: {location}: no drift")


if __name__ == "__main__":
    main()
