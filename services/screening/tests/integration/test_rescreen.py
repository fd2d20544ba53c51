"""County re-screens against a real store (SQLite and PostgreSQL): only changed decisions are
announced, progress is kept, a failed run resumes, one run at a time county-wide."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from screening_integration import (
    CHINA,
    COUNTY,
    Clock,
    FakeRegistry,
    clue_event,
    committed,
    household,
    make_context,
    rows,
    rulesets_with_threshold,
)

from fangpin_kit.db import Database
from fangpin_kit.natsserver import free_port
from fangpin_screening.adapters.orm import DecisionRow, HouseholdSnapshotRow, RescreenRunRow
from fangpin_screening.adapters.registry import IntakeRegistry
from fangpin_screening.service_layer import handlers
from fangpin_screening.service_layer.handlers import InvalidInput, ScreeningContext
from fangpin_screening.service_layer.rescreen import Rescreener

NEW_THRESHOLD_FROM = dt.date(2024, 10, 1)


@pytest.fixture
def rctx(tmp_path: Path, clock: Clock) -> ScreeningContext:
    """A county whose monitoring threshold rises from 7300 to 9000 on 2024-10-01."""
    return make_context(clock, rulesets=rulesets_with_threshold(tmp_path, NEW_THRESHOLD_FROM, 9000))


async def announced(db: Database) -> list[dict[str, object]]:
    """Events in the outbox, in order."""
    outbox = db.tables.outbox
    async with db.sessions() as session:
        result = await session.execute(sa.select(outbox.c.payload).order_by(outbox.c.seq))
        return [json.loads(payload) for (payload,) in result]


async def run_to_end(rescreener: Rescreener, as_of: dt.date | None = None) -> RescreenRunRow:
    run, started = await rescreener.start(as_of)
    assert started
    await rescreener.wait()
    final = await rescreener.status(run.run_id)
    assert final is not None
    return final


async def test_a_rescreen_under_a_new_threshold_announces_only_the_changed_decisions(
    db: Database, rctx: ScreeningContext, clock: Clock
) -> None:
    poor, near, well_off = (
        household("H0000001", per_capita=5000.0),
        household("H0000002", per_capita=8000.0),
        household("H0000003", per_capita=20000.0),
    )
    registry = FakeRegistry([poor, near, well_off])
    rescreener = Rescreener(db, rctx, registry, batch=2)

    first = await run_to_end(rescreener)
    assert (first.status, first.ruleset, first.total, first.done) == ("done", "cn@2024-01-01", 3, 3)
    assert (first.changed, first.rejected) == (1, 0)  # never screened: only the one in scope
    assert [e["subject"] for e in await announced(db)] == ["H0000001"]

    clock.now = dt.datetime(2024, 10, 8, 10, tzinfo=CHINA)  # the 9000 threshold is in force
    second = await run_to_end(rescreener)
    assert (second.ruleset, second.done, second.changed) == ("cn@2024-10-01", 3, 2)
    events = (await announced(db))[1:]
    assert [e["subject"] for e in events] == ["H0000001", "H0000002"]
    assert all(e["data"]["reason"] == "rescreen" for e in events)
    assert events[1]["id"] == f"rescreen.{second.run_id}.H0000002"
    assert events[1]["data"]["decision"]["in_scope"] is True
    assert events[1]["data"]["decision"]["threshold"] == 9000
    assert events[0]["data"]["decision"]["trace"]  # the decision goes out with its trace

    clock.advance(days=1)  # same ruleset, nothing new: nothing announced
    third = await run_to_end(rescreener)
    assert (third.done, third.changed) == (3, 0)
    assert len(await announced(db)) == 3
    assert len(await rows(db, DecisionRow)) == 3
    assert {s.source for s in await rows(db, HouseholdSnapshotRow)} == {"rescreen"}


async def test_a_household_decided_on_a_clue_is_announced_again_only_if_its_decision_changes(
    db: Database, rctx: ScreeningContext, clock: Clock
) -> None:
    record = household("H0000004", per_capita=5000.0)
    await committed(
        db, lambda uow: handlers.on_clue_accepted(uow, rctx, clue_event("CL-4", record))
    )
    registry = FakeRegistry([record])
    same = await run_to_end(Rescreener(db, rctx, registry))
    assert same.changed == 0
    registry.put(household("H0000004", per_capita=30000.0))  # the registry was corrected
    corrected = await run_to_end(Rescreener(db, rctx, registry))
    assert corrected.changed == 1
    latest = (await announced(db))[-1]["data"]
    assert latest["decision"]["in_scope"] is False and latest["clue_id"] is None


async def test_a_failed_rescreen_keeps_its_progress_and_resumes_after_the_last_household(
    db: Database, rctx: ScreeningContext
) -> None:
    bad = household("H0000005")
    digit = bad["members"][0]["id_number"]
    bad["members"][0]["id_number"] = digit[:-1] + ("0" if digit[-1] != "0" else "1")
    records = [household(f"H000001{n}", per_capita=4000.0 + n) for n in range(5)]
    registry = FakeRegistry([bad, *records])
    registry.fail_after = 3
    rescreener = Rescreener(db, rctx, registry, batch=2)

    failed = await run_to_end(rescreener)
    assert failed.status == "failed"
    assert failed.error == "ConnectionError: registry connection lost"
    assert (failed.done, failed.rejected, failed.last_household_id) == (2, 1, "H0000010")

    registry.fail_after = None
    assert await rescreener.scheduled() == "resumed"
    await rescreener.wait()
    resumed = await rescreener.status(failed.run_id)
    assert resumed is not None
    assert (resumed.status, resumed.done, resumed.changed, resumed.rejected) == ("done", 6, 5, 1)
    assert len(await rows(db, DecisionRow)) == 5
    assert await rescreener.scheduled() == "current"


async def test_the_first_check_records_a_baseline_and_a_new_ruleset_starts_a_rescreen(
    db: Database, rctx: ScreeningContext, clock: Clock
) -> None:
    registry = FakeRegistry([household("H0000020", per_capita=8500.0)])
    replica = Rescreener(db, rctx, registry)
    assert await replica.scheduled() == "baseline"  # starting up is not a change of rules
    baseline = await replica.status()
    assert baseline is not None
    assert (baseline.trigger, baseline.status, baseline.ruleset, baseline.done) == (
        "baseline",
        "done",
        "cn@2024-01-01",
        0,
    )
    assert await replica.scheduled() == "current"

    clock.now = dt.datetime(2024, 10, 2, 9, tzinfo=CHINA)  # the 9000 threshold takes effect
    assert await replica.scheduled() == "started"
    await replica.wait()
    run = await replica.status()
    assert run is not None
    assert (run.trigger, run.ruleset, run.done, run.changed) == ("schedule", "cn@2024-10-01", 1, 1)
    assert await replica.scheduled() == "current"


async def test_one_rescreen_runs_at_a_time_across_replicas(
    db: Database, rctx: ScreeningContext
) -> None:
    registry = FakeRegistry([household("H0000021")])
    registry.gate = asyncio.Event()  # the export waits: the run stays in progress
    replica_a = Rescreener(db, rctx, registry)
    replica_b = Rescreener(db, rctx, registry)

    running, started = await replica_a.start()
    assert started
    again, started_again = await replica_b.start()
    assert not started_again and again.run_id == running.run_id
    assert (await replica_a.start())[1] is False
    assert await replica_a.scheduled() == "busy"
    assert await replica_b.scheduled() == "busy"
    registry.gate.set()
    await replica_a.wait()
    assert await replica_b.scheduled() == "current"
    done = await replica_b.status(running.run_id)
    assert done is not None and (done.status, done.done) == ("done", 1)


async def test_a_rescreen_as_of_a_future_day_is_refused(
    db: Database, rctx: ScreeningContext
) -> None:
    rescreener = Rescreener(db, rctx, FakeRegistry())
    with pytest.raises(InvalidInput, match=r"^as_of: 2024-07-16 is after today \(2024-07-15\)"):
        await rescreener.start(dt.date(2024, 7, 16))
    assert await rows(db, RescreenRunRow) == []


async def test_an_unreachable_registry_fails_the_run_with_a_readable_reason(
    db: Database, rctx: ScreeningContext
) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    failed = await run_to_end(Rescreener(db, rctx, IntakeRegistry(address, COUNTY)))
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith(f"RegistryUnavailable: intake at {address}: UNAVAILABLE")
