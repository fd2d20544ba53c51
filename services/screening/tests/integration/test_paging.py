"""Decision histories and scale-risk alerts page by page over gRPC: every row once, in order."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from screening_integration import NOW, FakeRegistry, clue_event, committed, household

from fangpin.v1 import screening_pb2 as pb
from fangpin.v1 import screening_pb2_grpc
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.testing_paging import flat, serving, walk
from fangpin_screening.adapters.orm import DecisionRow, ScaleAlertRow
from fangpin_screening.entrypoints.grpc import ScreeningServicer
from fangpin_screening.service_layer import handlers
from fangpin_screening.service_layer.handlers import ScreeningContext
from fangpin_screening.service_layer.rescreen import Rescreener

DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
ALERTS = ScaleAlertRow.__table__  # type: ignore[attr-defined]
Stub = screening_pb2_grpc.ScreeningServiceStub
DECIDED = NOW.astimezone(dt.UTC)


@pytest.fixture
async def stub(db: Database, ctx: ScreeningContext) -> AsyncIterator[Stub]:
    name = pb.DESCRIPTOR.services_by_name["ScreeningService"].full_name
    servicer = ScreeningServicer(db, ctx, Rescreener(db, ctx, FakeRegistry()))
    add = screening_pb2_grpc.add_ScreeningServiceServicer_to_server
    async with serving(servicer, add, name) as target, channel(target) as ch:
        yield Stub(ch)


async def decision_template(db: Database, ctx: ScreeningContext) -> dict[str, Any]:
    """The columns of a real decision of household H0000001 (its trace included)."""
    event = clue_event("CL-T", household("H0000001"))
    await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, event))
    async with db.engine.begin() as conn:
        row = (await conn.execute(sa.select(DECISIONS))).one()
        await conn.execute(DECISIONS.delete())
    return dict(row._mapping)


async def seed_decisions(
    db: Database, template: dict[str, Any], numbers: range | list[int]
) -> None:
    """Decision `n` at DECIDED + n // 3 seconds (three per instant: the id breaks ties)."""
    rows = [
        template
        | {
            "decision_id": f"D-{n:05d}",
            "clue_id": f"CL-{n:05d}",
            "decided_at": DECIDED + dt.timedelta(seconds=n // 3),
        }
        for n in numbers
    ]
    async with db.engine.begin() as conn:
        await conn.execute(DECISIONS.insert(), rows)


def decision_ids(numbers: range | list[int], *, newest_first: bool = False) -> list[str]:
    ordered = sorted(numbers, key=lambda n: (n // 3, n), reverse=newest_first)
    return [f"D-{n:05d}" for n in ordered]


async def test_a_history_of_2500_decisions_comes_page_by_page_each_once_both_ways(
    db: Database, ctx: ScreeningContext, stub: Stub
) -> None:
    template = await decision_template(db, ctx)
    await seed_decisions(db, template, range(2500))
    added: list[int] = []

    def deciding(base: int) -> Any:
        async def meanwhile(pages_seen: int) -> None:  # re-screens decide while one pages
            numbers = list(range(base + pages_seen * 10, base + pages_seen * 10 + 3))
            await seed_decisions(db, template, numbers)
            added.extend(numbers)

        return meanwhile

    def history(oldest_first: bool) -> Any:
        return lambda token: stub.ListDecisions(
            pb.ListDecisionsRequest(
                household_id="H0000001", oldest_first=oldest_first, limit=1000, page_token=token
            )
        )

    newest = await walk(history(False), "decisions", "decision_id", between=deciding(5000))
    assert [len(p) for p in newest] == [1000, 1000, 500]
    assert flat(newest) == decision_ids(range(2500), newest_first=True)

    oldest = await walk(history(True), "decisions", "decision_id", between=deciding(6000))
    assert [len(p) for p in oldest] == [1000, 1000, 512]
    assert flat(oldest) == decision_ids(range(2500)) + decision_ids(added)

    default = await stub.ListDecisions(pb.ListDecisionsRequest(household_id="H0000001"))
    assert len(default.decisions) == 20 and default.next_page_token


async def test_scale_risk_alerts_page_newest_first_within_a_town(db: Database, stub: Stub) -> None:
    def alert(n: int, town: int) -> dict[str, Any]:
        return {
            "alert_id": f"A-{n:03d}",
            "village": f"652827{town:03d}{n % 9 + 1:03d}",
            "indicator": "warning_cluster",
            "warning_kind": f"kind-{n}",
            "window_start": dt.date(2024, 7, 1),
            "opened_on": dt.date(2024, 7, 15),
            "value": 12.0,
            "limit": 10.0,
            "ruleset": "cn@2024-01-01",
            "details": {},
            "sent_at": DECIDED + dt.timedelta(minutes=n // 2),
        }

    async with db.engine.begin() as conn:
        await conn.execute(ALERTS.insert(), [alert(n, 100 if n % 4 else 200) for n in range(80)])
    pages = await walk(
        lambda token: stub.ListScaleRiskAlerts(
            pb.ListScaleRiskAlertsRequest(village="652827100", limit=16, page_token=token)
        ),
        "alerts",
        "alert_id",
    )
    in_town = [n for n in range(80) if n % 4]
    assert [len(p) for p in pages] == [16, 16, 16, 12]
    assert flat(pages) == [f"A-{n:03d}" for n in sorted(in_town, key=lambda n: (n // 2, n))][::-1]


async def test_bad_page_sizes_and_tokens_are_invalid_argument_naming_the_field(
    db: Database, ctx: ScreeningContext, stub: Stub
) -> None:
    template = await decision_template(db, ctx)
    await seed_decisions(db, template, range(3))
    first = await stub.ListDecisions(pb.ListDecisionsRequest(household_id="H0000001", limit=1))
    assert first.next_page_token
    calls: list[tuple[Awaitable[Any], str]] = [
        (stub.ListDecisions(pb.ListDecisionsRequest(household_id="H1", limit=-1)), "limit: "),
        (stub.ListScaleRiskAlerts(pb.ListScaleRiskAlertsRequest(limit=1001)), "limit: "),
        (
            stub.ListDecisions(pb.ListDecisionsRequest(household_id="H1", page_token="#")),
            "page_token: malformed",
        ),
        (
            stub.ListDecisions(
                pb.ListDecisionsRequest(household_id="H2", page_token=first.next_page_token)
            ),
            "page_token: issued for other filters",
        ),
        (
            stub.ListScaleRiskAlerts(
                pb.ListScaleRiskAlertsRequest(page_token=first.next_page_token)
            ),
            "page_token: not a token of this listing",
        ),
    ]
    for call, expected in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.value.details() or "").startswith(expected), err.value.details()
