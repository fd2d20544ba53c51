"""Notify's background jobs: deliver due notices, and sweep deadlines for reminders."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError

from fangpin_kit.db import Database
from fangpin_kit.logging import get_logger
from fangpin_notify.adapters.channels import ChannelSet
from fangpin_notify.adapters.settings import NotifySettings
from fangpin_notify.service_layer.context import NotifyContext
from fangpin_notify.service_layer.delivery import deliver_due, recover_interrupted
from fangpin_notify.service_layer.reminders import SweepReport, sweep

log = get_logger("fangpin.notify.jobs")


async def run_deliveries(
    database: Database, ctx: NotifyContext, channels: ChannelSet, settings: NotifySettings
) -> None:
    """Recover attempts a crash interrupted, then deliver what is due until cancelled."""
    await recover_interrupted(database, ctx)
    while True:
        try:
            attempted = await deliver_due(
                database,
                ctx,
                channels,
                limit=settings.delivery_batch,
                concurrency=settings.delivery_concurrency,
            )
        except Exception as err:  # keep delivering; the notices stay due for the next round
            log.error("delivery round failed", error=repr(err))
            attempted = 0
        if attempted < settings.delivery_batch:
            await asyncio.sleep(settings.delivery_poll_seconds)


async def sweep_once(database: Database, ctx: NotifyContext) -> SweepReport:
    async with database.uow() as uow:
        report = await sweep(uow, ctx)
        await uow.commit()
    if report.notifications or report.closed:
        log.info(
            "reminders recorded",
            notifications=report.notifications,
            held=report.held,
            digests=report.digests,
            closed=report.closed,
        )
    return report


async def run_sweeps(database: Database, ctx: NotifyContext, settings: NotifySettings) -> None:
    """Sweep the open deadlines every `sweep_interval_seconds` until cancelled."""
    while True:
        try:
            await sweep_once(database, ctx)
        except IntegrityError as err:  # another replica recorded the same reminders first
            log.info("sweep lost a race, next round", error=str(err.orig))
        except Exception as err:
            log.error("sweep failed", error=repr(err))
        await asyncio.sleep(settings.sweep_interval_seconds)
