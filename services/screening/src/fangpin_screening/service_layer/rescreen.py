"""County re-screen (全县重新研判): the registry decided again in batches when a new ruleset
takes effect; only decisions that changed are stored and announced."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from fangpin_contracts.household import decode_lines, household_id_of, household_to_dict
from fangpin_kit.clock import CHINA, china_date
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_kit.masking import mask_text
from fangpin_screening.adapters.orm import RescreenRunRow
from fangpin_screening.adapters.registry import HouseholdRegistry
from fangpin_screening.adapters.repository import (
    DecisionRepository,
    Leases,
    MonitoringRepository,
    RescreenRepository,
    SnapshotRepository,
    renew_lease,
)
from fangpin_screening.domain.engine import decide_batch
from fangpin_screening.domain.rescreen import changed, outcome_keys
from fangpin_screening.service_layer.handlers import (
    InvalidInput,
    ScreeningContext,
    announce_decision,
    decision_id_for,
    record_digest,
    rollback_of,
    ruleset_on,
)

log = get_logger("fangpin.screening.rescreen")

LEASE: Final = "rescreen"
Trigger = Literal["schedule", "request"]
ScheduleOutcome = Literal["baseline", "started", "resumed", "current", "busy"]


class LeaseLost(Exception):
    """Another replica took the re-screen over (this one was silent past the lease)."""


class Busy(Exception):
    """A re-screen is being set up by another replica this very moment."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch of the registry did to the run's counters."""

    done: int
    changed: int
    rejected: int
    last_household_id: str


def new_run_id(as_of: date) -> str:
    return f"R{as_of:%Y%m%d}-{uuid.uuid4().hex[:10]}"


async def rescreen_batch(
    uow: UnitOfWork, ctx: ScreeningContext, run: RescreenRunRow, records: Sequence[str]
) -> BatchOutcome:
    """Decide registry records (v1 JSON text, in household_id order) under the run's ruleset.

    Every household's snapshot is refreshed; a decision is stored and announced
    (screening.decided, reason `rescreen`) only when it differs from the household's latest
    (domain.rescreen.changed). A record that cannot be decided is counted as rejected.
    """
    ruleset = ctx.rules.on(run.as_of)
    households, _, errors = decode_lines([r.encode() for r in records])
    for index, error in errors.items():
        log.warning(
            "registry record not decided",
            run_id=run.run_id,
            household_id=household_id_of(records[index]),
            reason=mask_text(str(error)),
        )
    foreign = [h for h in households if h.region.county != ctx.county]
    for h in foreign:
        log.warning("registry record of another county", household_id=h.household_id)
    households = [h for h in households if h.region.county == ctx.county]
    rejected = len(errors) + len(foreign)
    last = household_id_of(records[-1]) if records else None
    if not households:
        return BatchOutcome(len(records), 0, rejected, last or run.last_household_id)
    batch = decide_batch(households, ruleset)
    ids = [h.household_id for h in households]
    keys = outcome_keys(batch)
    latest = await DecisionRepository(uow.session).latest_keys(ids)
    snapshots = SnapshotRepository(uow.session)
    held = await snapshots.digests(ids)
    monitoring = await MonitoringRepository(uow.session).get_many(ids)
    now = ctx.clock()
    stored: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    for i, household in enumerate(households):
        if batch.error(i) is not None:
            rejected += 1
            log.warning("registry record not decided", household_id=household.household_id)
            continue
        hid = household.household_id
        record = household_to_dict(household)
        digest = record_digest(record)
        per_capita = float(batch.per_capita[i])
        if held.get(hid) != (digest, per_capita):
            refreshed.append(
                {
                    "household_id": hid,
                    "village": household.region.village,
                    "record": record,
                    "digest": digest,
                    "per_capita": per_capita,
                    "source": "rescreen",
                    "updated_at": now,
                }
            )
        in_scope, referred = bool(batch.in_scope[i]), bool(batch.referred[i].any())
        if not changed(latest.get(hid), keys[i], in_scope, referred):
            continue
        decision = batch.decision(i)
        rollback = await rollback_of(uow, household, monitoring.get(hid), decision, ruleset)
        stored.append(
            announce_decision(
                uow,
                ctx,
                decision=decision,
                household=household,
                record=record,
                reason="rescreen",
                decision_id=decision_id_for(f"rescreen:{run.run_id}:{hid}"),
                event_id=f"rescreen.{run.run_id}.{hid}",
                run_id=run.run_id,
                rollback=rollback,
                now=now,
            )
        )
    await DecisionRepository(uow.session).insert_many(stored)
    await snapshots.upsert_many(refreshed, existing=held.keys())
    return BatchOutcome(len(records), len(stored), rejected, last or ids[-1])


class Rescreener:
    """Runs county re-screens: one at a time county-wide (a lease in the store, so replicas
    never run two), committed batch by batch with its progress, resumable after a crash."""

    def __init__(
        self,
        database: Database,
        ctx: ScreeningContext,
        registry: HouseholdRegistry,
        *,
        batch: int = 500,
        lease_seconds: float = 300.0,
    ) -> None:
        self.database = database
        self.ctx = ctx
        self.registry = registry
        self.batch = batch
        self.lease = timedelta(seconds=lease_seconds)
        self.leases = Leases(database)
        self.instance = uuid.uuid4().hex[:8]
        self._task: asyncio.Task[None] | None = None

    def _holder(self, run_id: str) -> str:
        return f"{run_id}/{self.instance}"

    async def start(
        self, as_of: date | None = None, trigger: Trigger = "request"
    ) -> tuple[RescreenRunRow, bool]:
        """Start a run as of `as_of` (default today); (run, started). When a run is already
        going, that run is returned with started = False."""
        now = self.ctx.clock()
        today = china_date(now)
        day = as_of or today
        if day > today:
            raise InvalidInput("as_of", f"{day} is after today ({today})")
        ruleset = ruleset_on(self.ctx, day)
        run_id = new_run_id(day)
        if not await self.leases.acquire(LEASE, self._holder(run_id), now, now + self.lease):
            return await self._current(), False
        row = RescreenRunRow(
            run_id=run_id,
            ruleset=ruleset.ruleset_id,
            as_of=day,
            trigger=trigger,
            status="running",
            started_at=now,
            heartbeat_at=now,
        )
        async with self.database.sessions() as session:
            session.add(row)
            await session.commit()
        log.info("re-screen started", run_id=run_id, ruleset=row.ruleset, trigger=trigger)
        self._launch(run_id)
        return row, True

    async def _current(self) -> RescreenRunRow:
        holder = await self.leases.holder(LEASE, self.ctx.clock())
        async with self.database.sessions() as session:
            runs = RescreenRepository(session)
            row = await runs.get(holder.split("/")[0]) if holder else None
            row = row or await runs.latest("running")
        if row is None:  # the lease is taken, its run row not written yet
            raise Busy("a re-screen is starting; ask again in a moment")
        return row

    @property
    def running_here(self) -> bool:
        """Whether this process is running a re-screen now."""
        return self._task is not None and not self._task.done()

    def _launch(self, run_id: str) -> None:
        self._task = asyncio.create_task(self._run(run_id), name=f"rescreen-{run_id}")

    async def wait(self) -> None:
        """Until the run started by this process (if any) has ended."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop a run of this process (service shutdown); it resumes on the next start."""
        if self._task is not None and self.running_here:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def status(self, run_id: str = "") -> RescreenRunRow | None:
        async with self.database.sessions() as session:
            runs = RescreenRepository(session)
            return await runs.get(run_id) if run_id else await runs.latest()

    async def scheduled(self) -> ScheduleOutcome:
        """The daily check: resume an unfinished run of the ruleset in force today, else start
        one when that ruleset differs from the last completed run's.

        The very first check only records the ruleset in force as the baseline (a `baseline`
        run of no households): starting the service is not a change of rules, and a county's
        first screening of its whole registry is an operator's decision (`StartRescreen`).
        """
        if self.running_here:
            return "busy"
        now = self.ctx.clock()
        today = china_date(now)
        ruleset = self.ctx.rules.ruleset_id(today)
        async with self.database.sessions() as session:
            runs = RescreenRepository(session)
            unfinished = await runs.unfinished(ruleset)
            last_done = await runs.latest("done")
        if unfinished is not None:
            holder = self._holder(unfinished.run_id)
            if not await self.leases.acquire(LEASE, holder, now, now + self.lease):
                return "busy"
            async with self.database.sessions() as session:
                row = await RescreenRepository(session).get(unfinished.run_id)
                assert row is not None
                row.status, row.error, row.heartbeat_at = "running", None, now
                await session.commit()
            log.info("re-screen resumed", run_id=unfinished.run_id, after=row.last_household_id)
            self._launch(unfinished.run_id)
            return "resumed"
        if last_done is None:
            async with self.database.sessions() as session:
                session.add(
                    RescreenRunRow(
                        run_id=new_run_id(today),
                        ruleset=ruleset,
                        as_of=today,
                        trigger="baseline",
                        status="done",
                        started_at=now,
                        heartbeat_at=now,
                        finished_at=now,
                    )
                )
                await session.commit()
            log.info("re-screen baseline recorded", ruleset=ruleset)
            return "baseline"
        if last_done.ruleset == ruleset:
            return "current"
        _, started = await self.start(today, "schedule")
        return "started" if started else "busy"

    async def _run(self, run_id: str) -> None:
        holder = self._holder(run_id)
        try:
            async with self.database.sessions() as session:
                row = await RescreenRepository(session).get(run_id)
                assert row is not None
                after = row.last_household_id
                row.total = max(await self.registry.count(), row.done)
                await session.commit()
            pending: list[str] = []
            async for record in self.registry.export(after):
                pending.append(record)
                if len(pending) >= self.batch:
                    await self._commit_batch(run_id, holder, pending)
                    pending = []
            if pending:
                await self._commit_batch(run_id, holder, pending)
            await self._finish(run_id, "done", None)
        except LeaseLost:
            log.warning("re-screen taken over by another replica", run_id=run_id)
        except asyncio.CancelledError:
            log.info("re-screen interrupted; it resumes on the next start", run_id=run_id)
            raise
        except Exception as err:
            reason = mask_text(f"{type(err).__name__}: {err}")[:500]
            log.error("re-screen failed", run_id=run_id, error=reason)
            await self._finish(run_id, "failed", reason)
        finally:
            with contextlib.suppress(Exception):
                await self.leases.release(LEASE, holder, self.ctx.clock())

    async def _commit_batch(self, run_id: str, holder: str, records: list[str]) -> None:
        async with self.database.uow() as uow:
            run = await RescreenRepository(uow.session).get(run_id)
            assert run is not None
            outcome = await rescreen_batch(uow, self.ctx, run, records)
            now = self.ctx.clock()
            run.done += outcome.done
            run.changed += outcome.changed
            run.rejected += outcome.rejected
            run.total = max(run.total, run.done)
            run.last_household_id = outcome.last_household_id
            run.heartbeat_at = now
            if not await renew_lease(uow.session, LEASE, holder, now + self.lease):
                raise LeaseLost(run_id)
            await uow.commit()

    async def _finish(self, run_id: str, status: str, error: str | None) -> None:
        async with self.database.sessions() as session:
            row = await RescreenRepository(session).get(run_id)
            assert row is not None
            now = self.ctx.clock()
            row.status, row.error, row.finished_at, row.heartbeat_at = status, error, now, now
            if status == "done":
                row.total = row.done
            await session.commit()
        log.info(
            "re-screen ended",
            run_id=run_id,
            status=status,
            done=row.done,
            changed=row.changed,
            rejected=row.rejected,
        )


def seconds_until_next_day(now: datetime, after_midnight: float = 60.0) -> float:
    """Seconds from `now` to shortly after the next midnight in China (the daily checks)."""
    local = now.astimezone(CHINA)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds() + after_midnight
