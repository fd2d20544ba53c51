"""Delivering recorded notices: one attempt at a time, retried with backoff, then dead-lettered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from fangpin_contracts.cloudevents import new_event
from fangpin_contracts.events import DeadLetter, NoticeSent
from fangpin_contracts.subjects import dlq_subject, subject
from fangpin_kit.clock import china_date
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_kit.masking import mask_text
from fangpin_notify.adapters.channels import ChannelSet, attempt_delivery
from fangpin_notify.adapters.channels.webhook import notice_payload
from fangpin_notify.adapters.repository import NoticeRepository, to_delivery, to_notice
from fangpin_notify.domain.delivery import Delivery, DeliveryResult, DeliveryStatus
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.service_layer.context import NotifyContext

log = get_logger("fangpin.notify.delivery")

DLQ_CONSUMER = "delivery"


class UnconfiguredChannel:
    """Stands in for a channel this instance has no settings for: fails for good at once."""

    def __init__(self, kind: ChannelKind) -> None:
        self.kind = kind

    async def send(self, notice: Notice) -> DeliveryResult:
        return DeliveryResult.permanent(f"no {self.kind} channel configured")


def _settle(uow: UnitOfWork, ctx: NotifyContext, notice: Notice, delivery: Delivery) -> None:
    """Announce a delivery, dead-letter a failure (both via the outbox); the caller saves."""
    now = ctx.clock()
    if delivery.status is DeliveryStatus.DELIVERED:
        uow.emit(
            subject(ctx.county, "notice", "sent"),
            new_event(
                domain="notice",
                event="sent",
                county=ctx.county,
                source=ctx.source,
                data=NoticeSent(
                    notice_id=notice.notice_id,
                    kind=notice.kind,
                    recipient=notice.recipient_id,
                    channel=notice.channel.value,
                    household_id=notice.household_id,
                    source_event=notice.source_event,
                ),
                subject=notice.household_id,
                event_id=f"{notice.notice_id}.sent",
                correlation_id=notice.source_event,
                time=now,
            ),
        )
    elif delivery.status is DeliveryStatus.FAILED:
        letter = DeadLetter(
            service="notify",
            consumer=f"{DLQ_CONSUMER}.{notice.channel.value}",
            original_subject=subject(ctx.county, "notice", "sent"),
            original_headers={"x-notice-id": notice.notice_id, "x-dedupe-key": notice.dedupe_key},
            original_data=json.dumps(notice_payload(notice), ensure_ascii=False),
            reason=mask_text(delivery.failure_reason),
            deliveries=delivery.attempts,
            failed_at=now,
        )
        uow.emit(
            dlq_subject(ctx.county, "notify"),
            new_event(
                domain="dlq",
                event="notify",
                county=ctx.county,
                source=ctx.source,
                data=letter,
                subject=notice.household_id,
                event_id=f"dlq:notify:{DLQ_CONSUMER}:{notice.notice_id}",
                correlation_id=notice.source_event,
                time=now,
            ),
        )
        delivery.mark_dead_lettered()
        log.warning(
            "notice dead-lettered",
            notice_id=notice.notice_id,
            channel=notice.channel.value,
            attempts=delivery.attempts,
            reason=letter.reason,
        )


async def claim_due(
    database: Database, ctx: NotifyContext, limit: int
) -> list[tuple[Notice, Delivery]]:
    """Take the notices due now for one attempt each: marked `sending` and committed before
    any channel is called, so a crash mid-send leaves a trace `recover_interrupted` finds."""
    now = ctx.clock()
    async with database.uow() as uow:
        notices = NoticeRepository(uow.session)
        rows = [r for r in await notices.due(now, limit) if to_delivery(r).is_due(now)]
        taken = [(to_notice(r), to_delivery(r)) for r in rows]
        claimed = await notices.claim(rows, now)
        await uow.commit()
    return [(n, d) for n, d in taken if n.notice_id in claimed]


async def attempt(
    ctx: NotifyContext, channels: ChannelSet, notice: Notice, delivery: Delivery
) -> None:
    """One attempt through the notice's channel (the delivery records the outcome)."""
    channel = channels.get(notice.channel) or UnconfiguredChannel(notice.channel)
    params = ctx.parameters(china_date(ctx.clock()))
    await attempt_delivery(channel, notice, delivery, params, clock=ctx.clock)


async def settle(
    database: Database, ctx: NotifyContext, outcomes: Sequence[tuple[Notice, Delivery]]
) -> None:
    """Save attempted deliveries and stage their announcements, in one transaction."""
    async with database.uow() as uow:
        notices = NoticeRepository(uow.session)
        for notice, delivery in outcomes:
            _settle(uow, ctx, notice, delivery)
            await notices.record(notice.notice_id, delivery, ctx.clock())
        await uow.commit()


async def deliver_due(
    database: Database,
    ctx: NotifyContext,
    channels: ChannelSet,
    *,
    limit: int = 100,
    concurrency: int = 8,
) -> int:
    """Attempt every notice due now (at most `limit`); returns how many were attempted.

    Channels are called concurrently; outcomes are saved as they come in, batched into one
    transaction per group, so a slow endpoint delays only its own notices.
    """
    claimed = await claim_due(database, ctx, limit)
    if not claimed:
        return 0
    gate = asyncio.Semaphore(concurrency)
    outcomes: asyncio.Queue[tuple[Notice, Delivery]] = asyncio.Queue()

    async def send(notice: Notice, delivery: Delivery) -> None:
        async with gate:
            await attempt(ctx, channels, notice, delivery)
        outcomes.put_nowait((notice, delivery))

    async def save_as_they_come() -> None:
        saved = 0
        while saved < len(claimed):
            batch = [await outcomes.get()]
            while not outcomes.empty():
                batch.append(outcomes.get_nowait())
            await settle(database, ctx, batch)
            saved += len(batch)

    await asyncio.gather(save_as_they_come(), *(send(n, d) for n, d in claimed))
    return len(claimed)


async def recover_interrupted(database: Database, ctx: NotifyContext) -> int:
    """Attempts left `sending` by a crash are retried (receivers dedupe on the notice id),
    or dead-lettered when their attempts are used up; returns how many were recovered."""
    async with database.uow() as uow:
        notices = NoticeRepository(uow.session)
        rows = await notices.interrupted()
        for row in rows:
            delivery = to_delivery(row)
            now = ctx.clock()
            delivery.recover_interrupted(now, ctx.parameters(china_date(now)))
            _settle(uow, ctx, to_notice(row), delivery)
            await notices.record(row.notice_id, delivery, now)
        await uow.commit()
    if rows:
        log.warning("interrupted deliveries recovered", count=len(rows))
    return len(rows)
