"""Notices, subscriptions and deadlines page by page over gRPC: every row once, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import date, timedelta
from typing import Any

import grpc
import pytest

from fangpin.v1 import notify_pb2 as pb
from fangpin.v1 import notify_pb2_grpc
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.testing_paging import flat, serving, walk
from fangpin_notify.adapters.orm import DeadlineRow, NoticeRow, SubscriptionRow
from fangpin_notify.entrypoints.grpc import NotifyServicer
from notify_support import START, MovableClock, make_context

NOTICES = NoticeRow.__table__  # type: ignore[attr-defined]
SUBSCRIPTIONS = SubscriptionRow.__table__  # type: ignore[attr-defined]
DEADLINES = DeadlineRow.__table__  # type: ignore[attr-defined]
Stub = notify_pb2_grpc.NotifyServiceStub


@pytest.fixture
async def stub(db: Database) -> AsyncIterator[Stub]:
    name = pb.DESCRIPTOR.services_by_name["NotifyService"].full_name
    servicer = NotifyServicer(db, make_context(MovableClock()))
    add = notify_pb2_grpc.add_NotifyServiceServicer_to_server
    async with serving(servicer, add, name) as target, channel(target) as ch:
        yield Stub(ch)


async def insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(table.insert(), rows)


def notice(n: int, recipient: str = "cadre-li") -> dict[str, Any]:
    """Notice `n`, created at START + n // 4 seconds (four per instant: the id breaks ties)."""
    created = START + timedelta(seconds=n // 4)
    return {
        "notice_id": f"N-{n:05d}",
        "dedupe_key": f"event-{n}|{recipient}",
        "kind": "signature_awaited",
        "recipient_id": recipient,
        "channel": "log",
        "subject": "待签字",
        "body": "案件待签字",
        "locale": "zh-CN",
        "household_id": f"H{n:05d}",
        "day": created.date(),
        "status": "delivered",
        "history": [],
        "created_at": created,
        "updated_at": created,
    }


def notice_ids(numbers: list[int] | range, *, newest_first: bool = False) -> list[str]:
    ordered = sorted(numbers, key=lambda n: (n // 4, n), reverse=newest_first)
    return [f"N-{n:05d}" for n in ordered]


async def test_2500_notices_come_page_by_page_newest_first_and_oldest_first(
    db: Database, stub: Stub
) -> None:
    await insert(db, NOTICES, [notice(n) for n in range(2500)])
    added: list[int] = []

    def sending(base: int) -> Any:
        async def meanwhile(pages_seen: int) -> None:  # notices keep going out while one pages
            numbers = list(range(base + pages_seen * 10, base + pages_seen * 10 + 3))
            await insert(db, NOTICES, [notice(n) for n in numbers])
            added.extend(numbers)

        return meanwhile

    newest = await walk(
        lambda token: stub.ListNotices(pb.ListNoticesRequest(limit=1000, page_token=token)),
        "notices",
        "notice_id",
        between=sending(5000),
    )
    assert [len(p) for p in newest] == [1000, 1000, 500]
    assert flat(newest) == notice_ids(range(2500), newest_first=True)

    oldest = await walk(
        lambda token: stub.ListNotices(
            pb.ListNoticesRequest(
                recipient="cadre-li", oldest_first=True, limit=1000, page_token=token
            )
        ),
        "notices",
        "notice_id",
        between=sending(6000),
    )
    assert [len(p) for p in oldest] == [1000, 1000, 512]
    assert flat(oldest) == notice_ids(range(2500)) + notice_ids(added)


async def test_subscriptions_page_by_recipient_area_and_channel(db: Database, stub: Stub) -> None:
    rows = [
        {
            "subscription_id": f"S-{n:03d}",
            "recipient_id": f"cadre-{n % 7}",
            "role": "village_cadre",
            "region": "652827100201",
            "channel": ("log", "webhook")[n % 2],
            "address": "" if n % 2 == 0 else f"https://oa.example.cn/{n}",
            "event_kinds": [],
            "locale": "zh-CN",
            "active": True,
            "created_at": START,
            "updated_at": START,
        }
        for n in range(45)
    ]
    await insert(db, SUBSCRIPTIONS, rows)
    pages = await walk(
        lambda token: stub.ListSubscriptions(
            pb.ListSubscriptionsRequest(limit=10, page_token=token)
        ),
        "subscriptions",
        "subscription_id",
    )
    assert [len(p) for p in pages] == [10, 10, 10, 10, 5]
    expected = sorted(rows, key=lambda r: (r["recipient_id"], r["channel"], r["subscription_id"]))
    assert flat(pages) == [r["subscription_id"] for r in expected]


async def test_deadlines_page_earliest_due_first(db: Database, stub: Stub) -> None:
    rows = [
        {
            "key": f"case:C-{n:03d}:approval",
            "ref": f"case:C-{n:03d}",
            "mode": "reminders",
            "kind": "approval_due",
            "due": date(2024, 6, 10) + timedelta(days=n // 3),
            "region": "652827100201",
            "roles": ["county_bureau"],
            "escalation_roles": [],
            "contact_cadres": [],
            "context": {},
            "status": "open",
            "source_event": f"C-{n:03d}.opened",
            "created_at": START,
            "updated_at": START,
        }
        for n in range(30)
    ]
    await insert(db, DEADLINES, list(reversed(rows)))
    pages = await walk(
        lambda token: stub.ListDeadlines(
            pb.ListDeadlinesRequest(status="open", limit=7, page_token=token)
        ),
        "deadlines",
        "key",
    )
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert flat(pages) == [r["key"] for r in rows]


async def test_bad_page_sizes_and_tokens_are_invalid_argument_naming_the_field(
    db: Database, stub: Stub
) -> None:
    await insert(db, NOTICES, [notice(n) for n in range(3)])
    first = await stub.ListNotices(pb.ListNoticesRequest(limit=1))
    assert first.next_page_token
    calls: list[tuple[Awaitable[Any], str]] = [
        (stub.ListNotices(pb.ListNoticesRequest(limit=-1)), "limit: "),
        (stub.ListSubscriptions(pb.ListSubscriptionsRequest(limit=1001)), "limit: "),
        (stub.ListDeadlines(pb.ListDeadlinesRequest(page_token="~~")), "page_token: malformed"),
        (
            stub.ListNotices(
                pb.ListNoticesRequest(oldest_first=True, page_token=first.next_page_token)
            ),
            "page_token: issued for other filters",
        ),
        (
            stub.ListDeadlines(pb.ListDeadlinesRequest(page_token=first.next_page_token)),
            "page_token: not a token of this listing",
        ),
    ]
    for call, expected in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.value.details() or "").startswith(expected), err.value.details()
