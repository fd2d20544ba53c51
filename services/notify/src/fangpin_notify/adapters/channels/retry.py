"""Driving a delivery through a channel: one attempt, or retries with backoff to dead-letter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fangpin_kit.masking import mask_text
from fangpin_notify.adapters.channels.base import Channel
from fangpin_notify.domain.delivery import Delivery, DeliveryResult, DeliveryStatus
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.parameters import NotifyParameters

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
DeadLetter = Callable[[Notice, Delivery], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def attempt_delivery(
    channel: Channel,
    notice: Notice,
    delivery: Delivery,
    params: NotifyParameters,
    *,
    clock: Clock = utc_now,
) -> DeliveryResult:
    """One attempt now (for a scheduler that persists `delivery` between attempts).

    A channel that raises despite its contract counts as a transient failure, so the state
    machine stays consistent.
    """
    delivery.begin_attempt(clock())
    try:
        result = await channel.send(notice)
    except Exception as exc:
        result = DeliveryResult.transient(mask_text(f"{type(exc).__name__}: {exc}"))
    delivery.record(result, clock(), params)
    return result


async def deliver_with_retries(
    channel: Channel,
    notice: Notice,
    delivery: Delivery,
    params: NotifyParameters,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = asyncio.sleep,
    dead_letter: DeadLetter | None = None,
) -> Delivery:
    """Attempt until delivered or failed, waiting out each backoff.

    A failed delivery is handed to `dead_letter` (which publishes on `fp.<county>.dlq.notify`)
    and then marked dead-lettered; without `dead_letter` it is returned `failed` for the
    caller to dead-letter.
    """
    while delivery.status in {DeliveryStatus.PENDING, DeliveryStatus.RETRYING}:
        now = clock()
        if not delivery.is_due(now) and delivery.next_attempt_at is not None:
            await sleep((delivery.next_attempt_at - now).total_seconds())
            continue
        await attempt_delivery(channel, notice, delivery, params, clock=clock)
    if delivery.status is DeliveryStatus.FAILED and dead_letter is not None:
        await dead_letter(notice, delivery)
        delivery.mark_dead_lettered()
    return delivery
