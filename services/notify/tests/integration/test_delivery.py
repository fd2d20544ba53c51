"""Delivery against the real store and real local endpoints: retry, dead-letter, recovery."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.events import DeadLetter, NoticeSent
from fangpin_kit.db import Database
from fangpin_notify.adapters.channels import ChannelSet, LogChannel, WebhookChannel
from fangpin_notify.adapters.orm import NoticeRow
from fangpin_notify.adapters.repository import NoticeRepository
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.service_layer import handlers
from fangpin_notify.service_layer.context import NotifyContext
from fangpin_notify.service_layer.delivery import deliver_due, recover_interrupted
from notify_support import COUNTY, VILLAGE, MovableClock, clue_event, make_context

if TYPE_CHECKING:
    from conftest import ScriptedHTTPServer

SECRET = "county-oa-secret"


async def outbox(db: Database) -> list[tuple[str, CloudEvent]]:
    table = db.tables.outbox
    async with db.sessions() as s:
        rows = (await s.execute(sa.select(table.c.subject, table.c.payload))).all()
    return [(r.subject, CloudEvent.model_validate_json(r.payload)) for r in rows]


async def the_notice(db: Database) -> NoticeRow:
    async with db.sessions() as s:
        (row,) = (await s.execute(sa.select(NoticeRow))).scalars()
    return row


async def record_clue_notice(
    db: Database, ctx: NotifyContext, channel: str = "log", address: str = ""
) -> None:
    async with db.uow() as uow:
        await handlers.subscribe(
            uow,
            ctx,
            recipient_id="cadre-li",
            role="village_cadre",
            region=VILLAGE,
            channel=channel,
            address=address,
        )
        await handlers.on_clue_accepted(uow, ctx, clue_event())
        await uow.commit()


async def test_logged_notice_is_delivered_and_announced_on_notice_sent(db: Database) -> None:
    ctx = make_context(MovableClock())
    await record_clue_notice(db, ctx)
    channels = ChannelSet({ChannelKind.LOG: LogChannel()})
    assert await deliver_due(db, ctx, channels) == 1
    assert await deliver_due(db, ctx, channels) == 0
    notice = await the_notice(db)
    assert (notice.status, notice.attempts, notice.provider_ref) == (
        "delivered",
        1,
        notice.notice_id,
    )
    [(subject, sent)] = await outbox(db)
    assert subject == f"fp.{COUNTY}.notice.sent"
    assert sent.id == f"{notice.notice_id}.sent"
    assert sent.correlationid == "CL-1.accepted"  # the clue's story continues
    payload = NoticeSent.model_validate(sent.data)
    assert (payload.recipient, payload.channel, payload.kind) == (
        "cadre-li",
        "log",
        "clue_verification_due",
    )


async def test_failing_webhook_is_retried_with_backoff_then_dead_lettered(
    db: Database, http_endpoint: ScriptedHTTPServer
) -> None:
    http_endpoint.always(503)
    clock = MovableClock()
    ctx = make_context(clock)  # 3 attempts, 30 s then 60 s apart
    await record_clue_notice(db, ctx, "webhook", f"{http_endpoint.url}/oa?token=abc")
    async with WebhookChannel(SECRET) as webhook:
        channels = ChannelSet({ChannelKind.LOG: LogChannel(), ChannelKind.WEBHOOK: webhook})
        assert await deliver_due(db, ctx, channels) == 1
        first = await the_notice(db)
        assert (first.status, first.attempts) == ("retrying", 1)
        assert first.next_attempt_at == clock() + timedelta(seconds=30)
        clock.now += timedelta(seconds=29)
        assert await deliver_due(db, ctx, channels) == 0  # backoff not over yet
        clock.now += timedelta(seconds=1)
        assert await deliver_due(db, ctx, channels) == 1
        assert (await the_notice(db)).next_attempt_at == clock() + timedelta(seconds=60)
        clock.now += timedelta(seconds=60)
        assert await deliver_due(db, ctx, channels) == 1
        assert await deliver_due(db, ctx, channels) == 0
    notice = await the_notice(db)
    assert (notice.status, notice.attempts) == ("dead_lettered", 3)
    assert notice.last_error == "webhook answered 503"
    assert [a["ok"] for a in notice.history] == [False, False, False]
    assert len(http_endpoint.received) == 3
    [(subject, letter_event)] = await outbox(db)
    assert subject == f"fp.{COUNTY}.dlq.notify"
    letter = DeadLetter.model_validate(letter_event.data)
    assert (letter.service, letter.consumer, letter.deliveries) == ("notify", "delivery.webhook", 3)
    assert letter.reason == "webhook delivery failed after 3 attempt(s): webhook answered 503"
    assert json.loads(letter.original_data)["notice_id"] == notice.notice_id


async def test_refused_webhook_is_dead_lettered_without_retrying(
    db: Database, http_endpoint: ScriptedHTTPServer
) -> None:
    http_endpoint.always(404)
    ctx = make_context(MovableClock())
    await record_clue_notice(db, ctx, "webhook", http_endpoint.url)
    async with WebhookChannel(SECRET) as webhook:
        await deliver_due(db, ctx, ChannelSet({ChannelKind.WEBHOOK: webhook}))
    notice = await the_notice(db)
    assert (notice.status, notice.attempts) == ("dead_lettered", 1)
    assert [s for s, _ in await outbox(db)] == [f"fp.{COUNTY}.dlq.notify"]


async def test_notice_for_a_channel_this_instance_lacks_is_dead_lettered(db: Database) -> None:
    ctx = make_context(MovableClock())
    await record_clue_notice(db, ctx, "webhook", "https://oa.example.cn/hook")
    await deliver_due(db, ctx, ChannelSet({ChannelKind.LOG: LogChannel()}))
    notice = await the_notice(db)
    assert notice.status == "dead_lettered"
    assert notice.last_error == "no webhook channel configured"


async def test_attempt_interrupted_by_a_crash_is_retried_after_the_restart(db: Database) -> None:
    clock = MovableClock()
    ctx = make_context(clock)
    await record_clue_notice(db, ctx)
    async with db.uow() as uow:  # an attempt claimed, then the process died mid-send
        notices = NoticeRepository(uow.session)
        (row,) = await notices.list()
        assert await notices.claim([row], clock()) == {row.notice_id}
        await uow.commit()
    assert await recover_interrupted(db, ctx) == 1
    notice = await the_notice(db)
    assert (notice.status, notice.attempts) == ("retrying", 1)
    assert notice.last_error == "interrupted by a restart"
    clock.now += timedelta(seconds=30)
    await deliver_due(db, ctx, ChannelSet({ChannelKind.LOG: LogChannel()}))
    notice = await the_notice(db)
    assert (notice.status, notice.attempts) == ("delivered", 2)
