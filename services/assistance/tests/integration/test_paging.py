"""Measures and follow-up tasks page by page over gRPC: every row once, in order, on every store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from assistance_support import T0, FakeClock, case_decided, context, ill_household_in_unsafe_house
from fangpin.v1 import assistance_pb2 as pb
from fangpin.v1 import assistance_pb2_grpc
from fangpin_assistance.adapters.orm import MIGRATIONS, MeasureRow, TaskRow, metadata
from fangpin_assistance.entrypoints.grpc import AssistanceServicer
from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext
from fangpin_kit import migrations
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.testing_paging import flat, serving, walk

MEASURES = MeasureRow.__table__  # type: ignore[attr-defined]
TASKS = TaskRow.__table__  # type: ignore[attr-defined]
Stub = assistance_pb2_grpc.AssistanceServiceStub


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
def ctx() -> AssistanceContext:
    return context(FakeClock(T0))


@pytest.fixture
async def stub(db: Database, ctx: AssistanceContext) -> AsyncIterator[Stub]:
    name = pb.DESCRIPTOR.services_by_name["AssistanceService"].full_name
    servicer = AssistanceServicer(db, ctx)
    add = assistance_pb2_grpc.add_AssistanceServiceServicer_to_server
    async with serving(servicer, add, name) as target, channel(target) as ch:
        yield Stub(ch)


async def measure_template(db: Database, ctx: AssistanceContext) -> dict[str, Any]:
    """The columns of a measure of a real plan (the catalog snapshot included); the plan's own
    measures are removed so that only the clones are listed."""
    async with db.uow() as uow:
        await handlers.decide_case(uow, ctx, case_decided(ill_household_in_unsafe_house()))
        await uow.commit()
    async with db.engine.begin() as conn:
        row = (await conn.execute(sa.select(MEASURES).limit(1))).one()
        await conn.execute(MEASURES.delete())
    return dict(row._mapping)


async def seed_measures(
    db: Database, template: dict[str, Any], numbers: range | list[int], dept: str = ""
) -> None:
    values = [
        template | {"measure_id": f"M-{n:05d}", "department": dept or template["department"]}
        for n in numbers
    ]
    async with db.engine.begin() as conn:
        await conn.execute(MEASURES.insert(), values)


async def seed_tasks(
    db: Database, numbers: range | list[int], *, assignees: Callable[[int], list[str]]
) -> None:
    """Task `n` due on 2024-06-01 + n // 5 days (five a day: the id breaks ties)."""
    async with db.engine.begin() as conn:
        await conn.execute(
            TASKS.insert(),
            [
                {
                    "task_id": f"T-{n:05d}",
                    "kind": "visit",
                    "household_id": f"H{n:05d}",
                    "plan_id": f"P-{n:05d}",
                    "due_on": date(2024, 6, 1) + timedelta(days=n // 5),
                    "status": "open",
                    "assignees": assignees(n),
                    "details": {},
                    "created_at": T0,
                }
                for n in numbers
            ],
        )


def measure_ids(numbers: range | list[int]) -> list[str]:
    return [f"M-{n:05d}" for n in numbers]


def task_ids(numbers: range | list[int]) -> list[str]:
    return [f"T-{n:05d}" for n in sorted(numbers, key=lambda n: (n // 5, n))]


async def test_2500_measures_come_page_by_page_each_once_with_new_ones_at_the_end(
    db: Database, ctx: AssistanceContext, stub: Stub
) -> None:
    template = await measure_template(db, ctx)
    await seed_measures(db, template, range(0, 5000, 2))  # even ids; odd ones come later
    added: list[int] = []

    async def dispatched_meanwhile(pages_seen: int) -> None:
        # one id behind the cursor (listed next time), two ahead of it (listed in this walk)
        numbers = [pages_seen * 10 + 1, 9000 + pages_seen, 9100 + pages_seen]
        await seed_measures(db, template, numbers)
        added.extend(numbers)

    pages = await walk(
        lambda token: stub.ListMeasures(pb.ListMeasuresRequest(limit=1000, page_token=token)),
        "measures",
        "measure_id",
        between=dispatched_meanwhile,
    )
    assert [len(p) for p in pages] == [1000, 1000, 504]
    assert flat(pages) == measure_ids([*range(0, 5000, 2), 9001, 9002, 9101, 9102])
    # the two dispatched behind the cursor are in the next walk
    again = await stub.ListMeasures(pb.ListMeasuresRequest(limit=1000))
    assert [m.measure_id for m in again.measures[:8]] == measure_ids([0, 2, 4, 6, 8, 10, 11, 12])
    assert sorted(added) == [11, 21, 9001, 9002, 9101, 9102]


async def test_measure_filters_hold_on_every_page(
    db: Database, ctx: AssistanceContext, stub: Stub
) -> None:
    template = await measure_template(db, ctx)
    await seed_measures(db, template, range(40), dept="education")
    await seed_measures(db, template, range(40, 60), dept="water")
    pages = await walk(
        lambda token: stub.ListMeasures(
            pb.ListMeasuresRequest(dept="water", limit=6, page_token=token)
        ),
        "measures",
        "measure_id",
    )
    assert [len(p) for p in pages] == [6, 6, 6, 2]
    assert flat(pages) == measure_ids(range(40, 60))


async def test_tasks_page_earliest_due_first_also_when_filtered_by_cadre(
    db: Database, stub: Stub
) -> None:
    await seed_tasks(db, range(2500), assignees=lambda n: ["cadre-li"] if n % 3 else ["cadre-wu"])
    pages = await walk(
        lambda token: stub.ListTasks(pb.ListTasksRequest(limit=1000, page_token=token)),
        "tasks",
        "task_id",
    )
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert flat(pages) == task_ids(range(2500))
    # the cadre filter runs over the JSON list of assignees, chunk by chunk
    wu = await walk(
        lambda token: stub.ListTasks(
            pb.ListTasksRequest(cadre_id="cadre-wu", limit=300, page_token=token)
        ),
        "tasks",
        "task_id",
    )
    assert [len(p) for p in wu] == [300, 300, 234]
    assert flat(wu) == task_ids([n for n in range(2500) if n % 3 == 0])


async def test_bad_page_sizes_and_tokens_are_invalid_argument_naming_the_field(
    db: Database, stub: Stub
) -> None:
    await seed_tasks(db, range(3), assignees=lambda n: [])
    first = await stub.ListTasks(pb.ListTasksRequest(limit=1))
    assert first.next_page_token
    calls: list[tuple[Awaitable[Any], str]] = [
        (stub.ListTasks(pb.ListTasksRequest(limit=-1)), "limit: "),
        (stub.ListMeasures(pb.ListMeasuresRequest(limit=1001)), "limit: "),
        (stub.ListTasks(pb.ListTasksRequest(page_token="@@")), "page_token: malformed"),
        (
            stub.ListTasks(pb.ListTasksRequest(kind="visit", page_token=first.next_page_token)),
            "page_token: issued for other filters",
        ),
        (
            stub.ListMeasures(pb.ListMeasuresRequest(page_token=first.next_page_token)),
            "page_token: not a token of this listing",
        ),
    ]
    for call, expected in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.value.details() or "").startswith(expected), err.value.details()
