"""Running the suite as separate processes (as in production) for end-to-end tests and benches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_cli.launcher import Suite
from fangpin_kit.clock import offset_to
from fangpin_kit.grpcclient import channel


@asynccontextmanager
async def running_suite(
    var_dir: Path,
    *,
    start: datetime,
    county: str = "652827",
    services: tuple[str, ...] = ("intake", "screening", "approval", "assistance", "notify"),
    env: dict[str, str] | None = None,
) -> AsyncIterator[Suite]:
    """Start nats-server and the services on free ports; stop everything afterwards.

    Every service's clock reads `start` when the suite starts (one shared offset), so the test's
    dates are the ones it names, whatever day it runs."""
    suite = Suite(
        var_dir=var_dir,
        county=county,
        services=services,
        env={
            "FANGPIN_EMBEDDED_NATS_PORT": "0",
            "FANGPIN_LOG_LEVEL": "WARNING",
            "FANGPIN_CLOCK_OFFSET_SECONDS": str(offset_to(start)),
            **(env or {}),
        },
    )
    from fangpin_kit.natsserver import free_port

    suite.ports = {s: free_port() for s in services}
    suite.start()
    try:
        await suite.wait_healthy(timeout=60)
        yield suite
    finally:
        suite.stop()


async def import_households(suite: Suite, records: list[dict[str, Any]]) -> dict[str, int]:
    outcomes: dict[str, int] = {}

    async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
        for n, record in enumerate(records, start=1):
            yield intake_pb2.HouseholdRecord(line=n, json=json.dumps(record, ensure_ascii=False))

    async with channel(suite.address("intake")) as ch:
        async for outcome in intake_pb2_grpc.IntakeServiceStub(ch).ImportHouseholds(requests()):
            assert outcome.status != "rejected", outcome.error
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    return outcomes


def store_rows(suite: Suite, service: str, sql: str) -> list[tuple[Any, ...]]:
    """Read a service's own SQLite store directly (what it really holds, not what it says)."""
    path = suite.var_dir / f"{service}.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def store_count(suite: Suite, service: str, table: str, where: str = "1=1") -> int:
    return int(store_rows(suite, service, f"SELECT count(*) FROM {table} WHERE {where}")[0][0])
