"""Where each service of `fangpin run` keeps its store: SQLite under `var/` by default, its
own URL from `FANGPIN_<SERVICE>_DB_URL`, or with `--db SERVER` one PostgreSQL database per
service (`fangpin_<county>_<service>`) on that server, created when missing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

MAINTENANCE_DB: Final = "postgres"
"""The database `--db` connects to (to create the services' ones) when its URL names none."""

SERVICE_DRIVER: Final = "postgresql+psycopg"


class StoreError(ValueError):
    """A store setting that cannot work, with the reason (shown to the operator as is)."""


def service_db_variable(service: str) -> str:
    """The environment variable naming one service's store: `FANGPIN_INTAKE_DB_URL`, ..."""
    return f"FANGPIN_{service.upper()}_DB_URL"


def database_name(county: str, service: str) -> str:
    """The database of `service` for `county` on a `--db` server: `fangpin_652827_intake`."""
    return f"fangpin_{county}_{service}"


def postgres_server(url: str) -> URL:
    """The `--db` URL parsed: a PostgreSQL server (`postgresql[+psycopg]://user@host:port/`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"--db {url!r}: not a database URL (expected postgresql+psycopg://USER@HOST:PORT/)"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"--db {url!r}: only a PostgreSQL server is taken (postgresql+psycopg://...); "
            "without --db each service keeps SQLite under var/"
        )
    if parsed.drivername not in ("postgresql", SERVICE_DRIVER):
        raise StoreError(f"--db {url!r}: driver {parsed.drivername!r}; use {SERVICE_DRIVER}")
    if not parsed.host:
        raise StoreError(f"--db {url!r}: no host (postgresql+psycopg://USER@HOST:PORT/)")
    return parsed.set(drivername=SERVICE_DRIVER)


def service_databases(server: str, county: str, services: Iterable[str]) -> dict[str, str]:
    """Each service's database URL on the `--db` server (passwords kept for the services)."""
    base = postgres_server(server)
    return {
        service: base.set(database=database_name(county, service)).render_as_string(
            hide_password=False
        )
        for service in services
    }


def ensure_databases(server: str, names: Iterable[str], timeout: float = 5.0) -> list[str]:
    """Create the databases `names` on the `--db` server when missing; returns those created.

    Connects with a sync psycopg connection to the server's maintenance database (the URL's
    database, else `postgres`).
    """
    import psycopg  # only `fangpin run --db` needs the driver here
    from psycopg import errors, sql

    base = postgres_server(server)
    target = base.set(drivername="postgresql", database=base.database or MAINTENANCE_DB)
    created: list[str] = []
    try:
        with psycopg.connect(
            target.render_as_string(hide_password=False), autocommit=True, connect_timeout=timeout
        ) as conn:
            for name in names:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if exists.fetchone() is not None:
                    continue
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except errors.DuplicateDatabase:  # another launcher created it meanwhile
                    continue
                created.append(name)
    except psycopg.Error as err:
        shown = target.render_as_string(hide_password=True)
        raise StoreError(f"--db: PostgreSQL at {shown}: {str(err).strip()}") from None
    return created


def shown(url: str) -> str:
    """A store URL as printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
