"""Case queues and the register page by page over gRPC: every row once, in order, on every store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from approval_integration import START, TOWN, VILLAGE, committed, decision

from fangpin.v1 import approval_pb2 as pb
from fangpin.v1.approval_pb2_grpc import ApprovalServiceStub
from fangpin_approval.adapters.repository import CASES, REGISTER
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_kit.db import Database
from fangpin_kit.testing_paging import flat, walk

OPENED = START.astimezone(dt.UTC)
OTHER_TOWN_VILLAGE = "652827200301"


async def seed_cases(db: Database, ctx: ApprovalContext, numbers: range, village: str) -> None:
    """Cases cloned from one opened through the handler: case `n` opened at OPENED + n // 3
    seconds (three per instant, so the case id breaks ties), household `H<n>`."""
    event = decision(f"HT{numbers.start}", f"D-T{numbers.start}")
    template, _ = await committed(db, lambda uow: handlers.on_screening_decided(uow, ctx, event))
    async with db.engine.begin() as conn:
        row = (await conn.execute(sa.select(CASES).where(CASES.c.case_id == template.id))).one()
        await conn.execute(CASES.delete().where(CASES.c.case_id == template.id))
        base = dict(row._mapping)
        await conn.execute(
            CASES.insert(),
            [
                base
                | {
                    "case_id": f"C-{n:05d}",
                    "household_id": f"H{n:05d}",
                    "village": village,
                    "town": village[:9],
                    "opened_at": OPENED + dt.timedelta(seconds=n // 3),
                }
                for n in numbers
            ],
        )


async def seed_register(db: Database, numbers: range, village: str = VILLAGE) -> None:
    """Register entries; entry `n` last changed at OPENED + n // 4 seconds."""
    async with db.engine.begin() as conn:
        await conn.execute(
            REGISTER.insert(),
            [
                {
                    "household_id": f"H{n:05d}",
                    "county": village[:6],
                    "town": village[:9],
                    "village": village,
                    "status": "monitored",
                    "category": "marginal",
                    "risk_types": ["illness"],
                    "identified_on": dt.date(2024, 3, 4),
                    "green_channel": False,
                    "household": None,
                    "version": 1,
                    "updated_at": OPENED + dt.timedelta(seconds=n // 4),
                }
                for n in numbers
            ],
        )


def ids(numbers: range | list[int], prefix: str) -> list[str]:
    return [f"{prefix}{n:05d}" for n in numbers]


def newest_first(numbers: range, per_instant: int) -> list[int]:
    return sorted(numbers, key=lambda n: (n // per_instant, n), reverse=True)


async def test_a_queue_of_2500_cases_comes_page_by_page_newest_first_each_case_once(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    await seed_cases(db, ctx, range(2500), VILLAGE)

    async def more_cases(pages_seen: int) -> None:  # opened while the cadre pages
        await seed_cases(
            db, ctx, range(9000 + pages_seen * 10, 9000 + pages_seen * 10 + 3), VILLAGE
        )

    pages = await walk(
        lambda token: stub.ListCases(
            pb.ListCasesRequest(region=VILLAGE, limit=1000, page_token=token)
        ),
        "cases",
        "case_id",
        between=more_cases,
    )
    assert [len(p) for p in pages] == [1000, 1000, 500]
    # the newer cases sort before the cursor: not in this walk, and nothing shifted or repeated
    assert flat(pages) == ids(newest_first(range(2500), 3), "C-")


async def test_oldest_first_a_walk_reaches_cases_opened_while_it_pages(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    await seed_cases(db, ctx, range(2500), VILLAGE)
    added: list[int] = []

    async def more_cases(pages_seen: int) -> None:
        numbers = range(9000 + pages_seen * 10, 9000 + pages_seen * 10 + 4)
        await seed_cases(db, ctx, numbers, VILLAGE)
        added.extend(numbers)

    pages = await walk(
        lambda token: stub.ListCases(
            pb.ListCasesRequest(region=VILLAGE, oldest_first=True, limit=1000, page_token=token)
        ),
        "cases",
        "case_id",
        between=more_cases,
    )
    assert [len(p) for p in pages] == [1000, 1000, 508]
    assert flat(pages) == ids(range(2500), "C-") + ids(added, "C-")


async def test_filters_hold_on_every_page_of_a_queue(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    await seed_cases(db, ctx, range(0, 60), VILLAGE)
    await seed_cases(db, ctx, range(60, 100), OTHER_TOWN_VILLAGE)
    pages = await walk(
        lambda token: stub.ListCases(pb.ListCasesRequest(region=TOWN, limit=7, page_token=token)),
        "cases",
        "case_id",
    )
    assert [len(p) for p in pages] == [7] * 8 + [4]
    assert flat(pages) == ids(newest_first(range(60), 3), "C-")


async def test_the_register_of_2500_households_pages_both_ways_each_entry_once(
    db: Database, stub: ApprovalServiceStub
) -> None:
    await seed_register(db, range(2500))
    added: list[int] = []

    def registering(base: int) -> Callable[[int], Awaitable[None]]:
        async def meanwhile(pages_seen: int) -> None:  # households registered while paging
            numbers = range(base + pages_seen * 10, base + pages_seen * 10 + 2)
            await seed_register(db, numbers)
            added.extend(numbers)

        return meanwhile

    newest = await walk(
        lambda token: stub.ListRegister(pb.ListRegisterRequest(limit=1000, page_token=token)),
        "entries",
        "household_id",
        between=registering(5000),
    )
    assert [len(p) for p in newest] == [1000, 1000, 500]
    assert flat(newest) == ids(newest_first(range(2500), 4), "H")
    assert added == [5010, 5011, 5020, 5021]

    oldest = await walk(
        lambda token: stub.ListRegister(
            pb.ListRegisterRequest(
                region=VILLAGE, status="monitored", oldest_first=True, limit=1000, page_token=token
            )
        ),
        "entries",
        "household_id",
        between=registering(6000),
    )
    # oldest first (the order to follow changes in): every entry, then each one added meanwhile
    assert [len(p) for p in oldest] == [1000, 1000, 508]
    assert flat(oldest) == ids(range(2500), "H") + ids(added, "H")


async def refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def test_bad_page_sizes_and_tokens_are_invalid_argument_naming_the_field(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    await seed_cases(db, ctx, range(5), VILLAGE)
    first = await stub.ListCases(pb.ListCasesRequest(region=VILLAGE, limit=2))
    register_token = (await stub.ListRegister(pb.ListRegisterRequest(limit=1))).next_page_token
    assert first.next_page_token and register_token == ""
    for request, field in [
        (pb.ListCasesRequest(limit=-1), "limit: "),
        (pb.ListCasesRequest(limit=1001), "limit: "),
        (pb.ListCasesRequest(page_token="not-a-token"), "page_token: malformed"),
        (pb.ListCasesRequest(page_token=first.next_page_token), "page_token: issued for other"),
        (
            pb.ListCasesRequest(
                region=VILLAGE, oldest_first=True, page_token=first.next_page_token
            ),
            "page_token: issued for other",
        ),
    ]:
        err = await refused(stub.ListCases(request))
        assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.details() or "").startswith(field), err.details()
    for request, field in [
        (pb.ListRegisterRequest(limit=-5), "limit: "),
        (pb.ListRegisterRequest(page_token=first.next_page_token), "page_token: not a token"),
    ]:
        err = await refused(stub.ListRegister(request))
        assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.details() or "").startswith(field), err.details()
    # the token is good with the request it came from, at another page size too
    rest = await stub.ListCases(
        pb.ListCasesRequest(region=VILLAGE, limit=10, page_token=first.next_page_token)
    )
    assert [c.case_id for c in [*first.cases, *rest.cases]] == ids([4, 3, 2, 1, 0], "C-")
    assert rest.next_page_token == ""
