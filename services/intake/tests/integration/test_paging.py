"""Clues page by page over gRPC: every clue once, in order, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import grpc
import pytest

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_intake.adapters.orm import MIGRATIONS, ClueRow, metadata
from fangpin_intake.domain.clues import ClueRules
from fangpin_intake.entrypoints.grpc import IntakeServicer
from fangpin_intake.service_layer.handlers import IntakeContext
from fangpin_kit import migrations
from fangpin_kit.clock import ManualClock
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.testing_paging import flat, serving, walk
from fangpin_kit.workdays import default_calendar
from intake_factories import START

CLUES = ClueRow.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
async def stub(db: Database) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    ctx = IntakeContext(
        county="652827",
        clue_rules=lambda _: ClueRules(verification_working_days=5),
        add_working_days=default_calendar().add_working_days,
        clock=ManualClock(START),
    )
    name = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name
    servicer = IntakeServicer(db, ctx)
    async with (
        serving(servicer, intake_pb2_grpc.add_IntakeServiceServicer_to_server, name) as target,
        channel(target) as ch,
    ):
        yield intake_pb2_grpc.IntakeServiceStub(ch)


async def seed_clues(db: Database, numbers: range | list[int], status: str = "open") -> None:
    """Clue `n` of household `H<n>`, registered at START + n // 3 seconds (ties on the time)."""
    async with db.engine.begin() as conn:
        await conn.execute(
            CLUES.insert(),
            [
                {
                    "clue_id": f"CL-{n:05d}",
                    "household_id": f"H{n:05d}",
                    "kind": "high_medical_expense",
                    "source": "department",
                    "dept": "medical_insurance",
                    "status": status,
                    "observed_at": date(2024, 6, 1),
                    "registered_at": START + timedelta(seconds=n // 3),
                    "verification_due": date(2024, 6, 10),
                    "warnings": 1,
                    "warning_ids": [f"W-{n}"],
                }
                for n in numbers
            ],
        )


def ids(numbers: range | list[int]) -> list[str]:
    return [f"CL-{n:05d}" for n in numbers]


async def test_2500_clues_come_page_by_page_each_once_newest_first_and_oldest_first(
    db: Database, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await seed_clues(db, range(2500))
    added: list[int] = []

    def registering(base: int) -> Any:
        async def meanwhile(pages_seen: int) -> None:  # warnings keep arriving while one pages
            numbers = list(range(base + pages_seen * 10, base + pages_seen * 10 + 3))
            await seed_clues(db, numbers)
            added.extend(numbers)

        return meanwhile

    newest = await walk(
        lambda token: stub.ListClues(intake_pb2.ListCluesRequest(limit=1000, page_token=token)),
        "clues",
        "clue_id",
        between=registering(5000),
    )
    assert [len(p) for p in newest] == [1000, 1000, 500]
    assert flat(newest) == ids(sorted(range(2500), key=lambda n: (n // 3, n), reverse=True))

    oldest = await walk(
        lambda token: stub.ListClues(
            intake_pb2.ListCluesRequest(
                status="open", oldest_first=True, limit=1000, page_token=token
            )
        ),
        "clues",
        "clue_id",
        between=registering(6000),
    )
    assert [len(p) for p in oldest] == [1000, 1000, 512]
    assert flat(oldest) == ids(range(2500)) + ids(added)


async def test_filters_hold_on_every_page(
    db: Database, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await seed_clues(db, range(30))
    await seed_clues(db, range(30, 45), status="closed")
    pages = await walk(
        lambda token: stub.ListClues(
            intake_pb2.ListCluesRequest(status="closed", limit=4, page_token=token)
        ),
        "clues",
        "clue_id",
    )
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert flat(pages) == ids(sorted(range(30, 45), key=lambda n: (n // 3, n), reverse=True))


async def test_bad_page_sizes_and_tokens_are_invalid_argument_naming_the_field(
    db: Database, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await seed_clues(db, range(3))
    first = await stub.ListClues(intake_pb2.ListCluesRequest(limit=1))
    assert first.next_page_token
    for request, expected in [
        (intake_pb2.ListCluesRequest(limit=-1), "limit: "),
        (intake_pb2.ListCluesRequest(limit=1001), "limit: "),
        (intake_pb2.ListCluesRequest(page_token="x!"), "page_token: malformed"),
        (
            intake_pb2.ListCluesRequest(status="open", page_token=first.next_page_token),
            "page_token: issued for other filters",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListClues(request)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.value.details() or "").startswith(expected), err.value.details()
