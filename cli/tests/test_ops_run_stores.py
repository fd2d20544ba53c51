"""`fangpin run` puts each service on the store the operator names: `--db` (one PostgreSQL
database per service), else `FANGPIN_<SERVICE>_DB_URL` from the environment, else SQLite;
a setting it cannot honour stops it with the reason, never silently."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from fangpin_cli.launcher import STORES_FILE, Suite, configure_stores
from fangpin_cli.main import app
from fangpin_cli.stores import StoreError, database_name, postgres_server, service_databases
from fangpin_contracts.subjects import SERVICES
from fangpin_kit.clock import in_china, offset_to
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import DEFAULT_TEST_PG, postgres_reason

# the demo is generated for, and the services run on, a day the test names
START = in_china(date(2026, 9, 14))
PG_SERVER = os.environ.get("FANGPIN_TEST_PG", DEFAULT_TEST_PG)


def started_suite(tmp_path: Path, **settings: str) -> Suite:
    """A suite whose service environments can be built (no process is started)."""
    suite = Suite(var_dir=tmp_path, env=dict(settings))
    suite.nats = EmbeddedNats(tmp_path / "nats", port=14999)
    suite.ports = {service: 50100 + n for n, service in enumerate(SERVICES)}
    return suite


def unique_county() -> str:
    return f"{uuid.uuid4().int % 900000 + 100000:06d}"


def drop_databases(county: str) -> None:
    admin = make_url(PG_SERVER).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        for service in SERVICES:
            conn.execute(f'DROP DATABASE IF EXISTS "{database_name(county, service)}" WITH (FORCE)')


def test_a_service_db_url_exported_in_the_environment_is_the_services_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://ops@db.example:5432/fangpin_approval"
    monkeypatch.setenv("FANGPIN_APPROVAL_DB_URL", url)
    suite = started_suite(tmp_path)
    assert suite.service_env("approval")["FANGPIN_DB_URL"] == url
    # the others keep their default: no FANGPIN_DB_URL, so SQLite var/<service>.db
    assert "FANGPIN_DB_URL" not in suite.service_env("intake")
    assert suite.store_url("intake") == f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    # the suite's own settings (tests, drills) still win over the environment
    mine = "postgresql+psycopg://drill@127.0.0.1:5432/approval_drill"
    assert started_suite(tmp_path, FANGPIN_APPROVAL_DB_URL=mine).store_url("approval") == mine


def test_db_names_one_database_per_service_of_the_county() -> None:
    urls = service_databases("postgresql://ops:secret@db.example:6432/", "652827", SERVICES)
    assert urls["intake"] == "postgresql+psycopg://ops:secret@db.example:6432/fangpin_652827_intake"
    assert {make_url(u).database for u in urls.values()} == {
        f"fangpin_652827_{service}" for service in SERVICES
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://ops@db.example/", "only a PostgreSQL server is taken"),
        ("postgresql+asyncpg://ops@db.example/", "driver 'postgresql+asyncpg'"),
        ("postgresql+psycopg:///", "no host"),
        ("not a url", "not a database URL"),
    ],
)
def test_db_refuses_what_is_not_a_postgresql_server(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=re.escape(reason)):
        postgres_server(url)


def test_run_refuses_a_bad_db_url_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "--once", "--var-dir", str(tmp_path), "--db", "mysql://ops@db.example/"]
    )
    assert result.exit_code == 2
    assert "only a PostgreSQL server is taken" in result.output
    assert not (tmp_path / "nats").exists()


def test_run_refuses_fangpin_db_url_instead_of_ignoring_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "--once", "--var-dir", str(tmp_path)],
        env={"FANGPIN_DB_URL": "postgresql+psycopg://ops@db.example/fangpin"},
    )
    assert result.exit_code == 2
    assert "FANGPIN_DB_URL is set, but it names one service's store" in result.output
    assert "--db SERVER_URL" in result.output


def test_a_state_directory_keeps_the_stores_it_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_stores(Suite(var_dir=tmp_path), None)
    assert (tmp_path / STORES_FILE).exists()
    monkeypatch.setenv("FANGPIN_INTAKE_DB_URL", "postgresql+psycopg://ops:pw@db.example/intake")
    with pytest.raises(StoreError) as refused:
        configure_stores(Suite(var_dir=tmp_path), None)
    message = str(refused.value)
    assert f"intake: sqlite+aiosqlite:///{tmp_path}/intake.db -> " in message
    assert "postgresql+psycopg://ops:***@db.example/intake" in message  # no password shown
    assert "use another --var-dir" in message


def test_a_state_directory_from_before_the_record_counts_its_sqlite_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "screening.db").write_bytes(b"")
    monkeypatch.setenv("FANGPIN_SCREENING_DB_URL", "postgresql+psycopg://ops@db.example/s")
    with pytest.raises(StoreError, match="screening: sqlite"):
        configure_stores(Suite(var_dir=tmp_path), None)


@pytest.mark.pg
def test_db_creates_the_databases_once_and_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reason := postgres_reason():
        pytest.skip(reason)
    county = unique_county()
    monkeypatch.setenv("FANGPIN_NOTIFY_DB_URL", "postgresql+psycopg://ops@elsewhere/notify")
    try:
        suite = Suite(var_dir=tmp_path / "first", county=county)
        notes = configure_stores(suite, PG_SERVER)
        assert f"database(s) {database_name(county, 'intake')}, " in notes[-1]
        assert "FANGPIN_NOTIFY_DB_URL from the environment not used" in notes[0]
        assert make_url(suite.store_url("notify")).database == database_name(county, "notify")
        again = configure_stores(Suite(var_dir=tmp_path / "second", county=county), PG_SERVER)
        assert not any("created" in note for note in again)  # they exist: nothing created
    finally:
        drop_databases(county)


@pytest.mark.pg
def test_run_with_db_puts_the_whole_suite_and_the_demo_on_postgresql(tmp_path: Path) -> None:
    if reason := postgres_reason():
        pytest.skip(reason)
    county = unique_county()
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")},
        "FANGPIN_LOG_LEVEL": "WARNING",
        "FANGPIN_EMBEDDED_NATS_PORT": "0",
        "FANGPIN_CLOCK_OFFSET_SECONDS": str(offset_to(START)),
    }
    command = [sys.executable, "-m", "fangpin_cli.main", "run", "--once", "--households", "12"]
    command += ["--var-dir", str(tmp_path), "--county", county, "--db", PG_SERVER]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=240, env=env, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "households created 12" in result.stdout
        for service in SERVICES:
            assert f"{service:<11} store postgresql+psycopg://" in result.stdout
            assert f"/{database_name(county, service)}" in result.stdout
        intake = make_url(PG_SERVER).set(
            drivername="postgresql", database=database_name(county, "intake")
        )
        with psycopg.connect(intake.render_as_string(hide_password=False)) as conn:
            row = conn.execute("SELECT count(*) FROM households").fetchone()
        assert row is not None and row[0] == 12
        assert not list(tmp_path.glob("*.db"))  # nothing went to SQLite
    finally:
        drop_databases(county)
