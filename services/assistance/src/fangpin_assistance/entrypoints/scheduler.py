"""The periodic sweep: reply time-outs (re-dispatch, escalation) and follow-up tasks falling due."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm.exc import StaleDataError

from fangpin_assistance.adapters.repository import plans_for_followup, plans_to_tick
from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext
from fangpin_kit.clock import china_date
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.logging import get_logger

log = get_logger("fangpin.assistance.sweep")

FOLLOWUP_BATCH = 500
"""Plans whose follow-up tasks are generated per sweep; the rest wait for the next one."""


@dataclass
class SweepReport:
    """What one sweep did."""

    ticked: int = 0
    followed_up: int = 0
    conflicts: int = 0
    failures: int = 0


async def sweep(database: Database, ctx: AssistanceContext) -> SweepReport:
    """One pass; each plan in its own unit of work, so one failure or conflict stays local."""
    report = SweepReport()
    now = ctx.clock()
    today = china_date(now)
    async with database.sessions() as session:
        to_tick = await plans_to_tick(session, now, today)
        to_follow = await plans_for_followup(session, today, FOLLOWUP_BATCH)
    for plan_id in to_tick:
        if await _one(database, ctx, report, handlers.tick_plan, plan_id):
            report.ticked += 1
    for plan_id in to_follow:
        if await _one(database, ctx, report, handlers.generate_followup_tasks, plan_id):
            report.followed_up += 1
    return report


PlanUseCase = Callable[[UnitOfWork, AssistanceContext, str], Awaitable[object]]


async def _one(
    database: Database,
    ctx: AssistanceContext,
    report: SweepReport,
    use_case: PlanUseCase,
    plan_id: str,
) -> bool:
    try:
        async with database.uow() as uow:
            await use_case(uow, ctx, plan_id)
            await uow.commit()
        return True
    except StaleDataError:
        report.conflicts += 1  # a reply or a cadre changed the plan meanwhile: next sweep
    except Exception as err:  # one plan's trouble must not stop the others
        report.failures += 1
        log.error("sweep of a plan failed", plan_id=plan_id, error=f"{type(err).__name__}: {err}")
    return False


async def sweep_forever(database: Database, ctx: AssistanceContext, every: float) -> None:
    """Run `sweep` every `every` seconds until cancelled."""
    while True:
        try:
            report = await sweep(database, ctx)
            if report.ticked or report.followed_up or report.failures:
                log.info(
                    "sweep done",
                    ticked=report.ticked,
                    followed_up=report.followed_up,
                    conflicts=report.conflicts,
                    failures=report.failures,
                )
        except Exception as err:  # the store may be briefly unavailable: try again later
            log.error("sweep failed", error=f"{type(err).__name__}: {err}")
        await asyncio.sleep(every)
