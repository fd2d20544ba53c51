"""Scale-risk watch against a real store (SQLite and PostgreSQL): each village, indicator and
window alerts once; village aggregates wait for a county re-screen."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from screening_integration import (
    CHINA,
    Clock,
    FakeRegistry,
    case_decided,
    clue_event,
    committed,
    household,
    rows,
    village,
)

from fangpin_kit.clock import china_date
from fangpin_kit.db import Database
from fangpin_screening.adapters.orm import ScaleAlertRow
from fangpin_screening.service_layer import handlers, scale_watch
from fangpin_screening.service_layer.handlers import ScreeningContext
from fangpin_screening.service_layer.rescreen import Rescreener


async def scale_events(db: Database) -> list[dict[str, object]]:
    outbox = db.tables.outbox
    async with db.sessions() as session:
        result = await session.execute(
            sa.select(outbox.c.payload)
            .where(outbox.c.subject.endswith(".screening.scale_risk"))
            .order_by(outbox.c.seq)
        )
        return [json.loads(payload) for (payload,) in result]


async def clues_of_one_kind(
    db: Database, ctx: ScreeningContext, clock: Clock, count: int, start: int = 0
) -> None:
    for n in range(start, start + count):
        record = household(f"H00001{n:02d}", per_capita=9000.0)
        event = clue_event(f"CL-D{n}", record, kind="disaster", registered_at=clock.now)
        await committed(db, lambda uow, e=event: handlers.on_clue_accepted(uow, ctx, e))


async def test_a_cluster_of_warnings_of_one_kind_in_a_village_alerts_once(
    db: Database, ctx: ScreeningContext, clock: Clock
) -> None:
    await clues_of_one_kind(db, ctx, clock, 4)
    assert await scale_events(db) == []  # four disaster clues: below the five of a cluster
    await clues_of_one_kind(db, ctx, clock, 3, start=4)
    [alert] = await scale_events(db)
    assert alert["type"] == "cn.fangpin.screening.scale_risk.v1"
    data = alert["data"]
    assert (data["village"], data["indicator"], data["value"], data["limit"]) == (
        village(),
        "warning_cluster",
        5.0,
        5.0,
    )
    assert data["details"]["warning_kind"] == "disaster"
    assert data["details"]["window_start"] == "2024-07-09"  # 7 days up to 2024-07-15

    await scale_watch.watch(db, ctx, china_date(clock.now))  # the daily watch: still one
    assert len(await scale_events(db)) == 1

    clock.advance(days=10)  # the cluster is over: the alert closes, a new cluster alerts anew
    await scale_watch.watch(db, ctx, china_date(clock.now))
    [closed] = await rows(db, ScaleAlertRow)
    assert closed.cleared_on == dt.date(2024, 7, 25)
    await clues_of_one_kind(db, ctx, clock, 5, start=20)
    assert [e["data"]["details"]["window_start"] for e in await scale_events(db)] == [
        "2024-07-09",
        "2024-07-19",
    ]


async def test_village_aggregates_alert_once_the_registry_was_rescreened(
    db: Database, ctx: ScreeningContext, clock: Clock
) -> None:
    # ten households in village 11, two of them monitored: 20% unresolved (above 2%), and a
    # mean income of 9200 (below 1.5 x 7300 = 10950)
    records = [household(f"H00002{n:02d}", per_capita=9200.0) for n in range(10)]
    for record in records[:2]:
        event = case_decided(record, case_id=f"I-{record['household_id']}")
        await committed(db, lambda uow, e=event: handlers.on_case_decided(uow, ctx, e))
    today = china_date(clock.now)
    assert await scale_watch.watch(db, ctx, today) == []  # screening knows two households

    rescreener = Rescreener(db, ctx, FakeRegistry(records))
    await rescreener.start()
    await rescreener.wait()
    sent = await scale_watch.watch(db, ctx, today)
    assert sorted((a.indicator, a.value, a.limit) for a in sent) == [
        ("low_mean_income", 9200.0, 10950.0),
        ("unresolved_share", 0.2, 0.02),
    ]
    assert await scale_watch.watch(db, ctx, today + dt.timedelta(days=1)) == []
    assert len(await scale_events(db)) == 2

    # income recovers: the low-income alert closes; the unresolved share still holds
    clock.now = dt.datetime(2024, 7, 20, 9, tzinfo=CHINA)
    rescreener.registry = FakeRegistry(
        [household(r["household_id"], per_capita=15000.0) for r in records]
    )
    await rescreener.start()
    await rescreener.wait()
    assert await scale_watch.watch(db, ctx, china_date(clock.now)) == []
    active = {(r.indicator, r.cleared_on) for r in await rows(db, ScaleAlertRow)}
    assert active == {("low_mean_income", dt.date(2024, 7, 20)), ("unresolved_share", None)}
