"""Loading and saving screening's records through the unit of work's session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_kit.db import Database
from fangpin_kit.paging import Keyset, Page, PageRequest
from fangpin_screening.adapters.orm import (
    ClueRecordRow,
    DecisionRow,
    HouseholdSnapshotRow,
    IncomeRow,
    LeaseRow,
    MeasureRow,
    MonitoringRow,
    RescreenRunRow,
    ScaleAlertRow,
)
from fangpin_screening.domain.income import CollectedIncome
from fangpin_screening.domain.monitoring import UNRESOLVED, Monitoring
from fangpin_screening.domain.scale_risk import VillageHousehold, WarningRecord

IN_CLAUSE: Final = 500
"""Ids per `IN (...)` query (well below every driver's bound-parameter limit)."""


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), IN_CLAUSE):
        yield ids[start : start + IN_CLAUSE]


# Decisions and alerts by time, newest first unless asked otherwise; the id breaks ties.
DECISION_KEYSET = Keyset("screening.decisions", DecisionRow.decided_at, DecisionRow.decision_id)
ALERT_KEYSET = Keyset("screening.scale_risk_alerts", ScaleAlertRow.sent_at, ScaleAlertRow.alert_id)


class DecisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, decision_id: str) -> DecisionRow | None:
        return await self.session.get(DecisionRow, decision_id)

    def add(self, row: DecisionRow) -> None:
        self.session.add(row)

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert decisions given as column values (a re-screen's batch)."""
        if rows:
            await self.session.execute(sa.insert(DecisionRow), list(rows))

    async def latest_keys(self, household_ids: Sequence[str]) -> dict[str, str]:
        """household_id -> outcome key of its latest decision, for those decided before."""
        latest: dict[str, tuple[datetime, str, str]] = {}
        for chunk in _chunks(household_ids):
            rows = await self.session.execute(
                sa.select(
                    DecisionRow.household_id,
                    DecisionRow.decided_at,
                    DecisionRow.decision_id,
                    DecisionRow.outcome_key,
                ).where(DecisionRow.household_id.in_(chunk))
            )
            for hid, at, decision_id, key in rows:
                seen = latest.get(hid)
                if seen is None or (at, decision_id) > seen[:2]:
                    latest[hid] = (at, decision_id, key)
        return {hid: value[2] for hid, value in latest.items()}

    async def history(self, household_id: str, page: PageRequest) -> Page[DecisionRow]:
        """One page of a household's decisions in DECISION_KEYSET order (newest first unless
        the page asks otherwise)."""
        query = sa.select(DecisionRow).where(DecisionRow.household_id == household_id)
        rows = list((await self.session.execute(DECISION_KEYSET.apply(query, page))).scalars())
        return DECISION_KEYSET.page(rows, page)


class SnapshotRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, household_id: str) -> HouseholdSnapshotRow | None:
        return await self.session.get(HouseholdSnapshotRow, household_id)

    async def digests(self, household_ids: Sequence[str]) -> dict[str, tuple[str, float]]:
        """household_id -> (record digest, per-capita income) of the snapshots held."""
        found: dict[str, tuple[str, float]] = {}
        for chunk in _chunks(household_ids):
            query = sa.select(
                HouseholdSnapshotRow.household_id,
                HouseholdSnapshotRow.digest,
                HouseholdSnapshotRow.per_capita,
            ).where(HouseholdSnapshotRow.household_id.in_(chunk))
            for hid, digest, per_capita in await self.session.execute(query):
                found[hid] = (digest, float(per_capita))
        return found

    async def upsert_many(
        self, snapshots: Sequence[dict[str, Any]], existing: Iterable[str]
    ) -> None:
        """Store snapshots (all columns): update those in `existing`, insert the others."""
        held = set(existing)
        updates = [s for s in snapshots if s["household_id"] in held]
        inserts = [s for s in snapshots if s["household_id"] not in held]
        if updates:
            await self.session.execute(sa.update(HouseholdSnapshotRow), updates)
        if inserts:
            await self.session.execute(sa.insert(HouseholdSnapshotRow), inserts)

    def save(
        self,
        row: HouseholdSnapshotRow | None,
        *,
        household_id: str,
        village: str,
        record: dict[str, Any],
        digest: str,
        per_capita: float,
        source: str,
        now: datetime,
    ) -> None:
        """Store the record as the household's latest (unchanged records are left alone)."""
        if row is None:
            self.session.add(
                HouseholdSnapshotRow(
                    household_id=household_id,
                    village=village,
                    record=record,
                    digest=digest,
                    per_capita=per_capita,
                    source=source,
                    updated_at=now,
                )
            )
            return
        if row.digest == digest and row.per_capita == per_capita:
            return
        row.village = village
        row.record = record
        row.digest = digest
        row.per_capita = per_capita
        row.source = source
        row.updated_at = now

    async def village_households(self) -> list[VillageHousehold]:
        """Every household screening holds, with its village, income and whether unresolved."""
        query = sa.select(
            HouseholdSnapshotRow.village, HouseholdSnapshotRow.per_capita, MonitoringRow.status
        ).outerjoin(MonitoringRow, MonitoringRow.household_id == HouseholdSnapshotRow.household_id)
        return [
            VillageHousehold(village, float(per_capita), status in UNRESOLVED)
            for village, per_capita, status in await self.session.execute(query)
        ]


class MonitoringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, household_id: str) -> Monitoring | None:
        row = await self.session.get(MonitoringRow, household_id)
        return _to_monitoring(row) if row else None

    async def get_many(self, household_ids: Sequence[str]) -> dict[str, Monitoring]:
        found: dict[str, Monitoring] = {}
        for chunk in _chunks(household_ids):
            query = sa.select(MonitoringRow).where(MonitoringRow.household_id.in_(chunk))
            for row in (await self.session.execute(query)).scalars():
                found[row.household_id] = _to_monitoring(row)
        return found

    async def save(self, monitoring: Monitoring, village: str, now: datetime) -> None:
        fields = {
            "village": village,
            "status": monitoring.status,
            "since": monitoring.since,
            "case_id": monitoring.case_id,
            "category": monitoring.category,
            "risk_types": list(monitoring.risk_types),
            "green_channel": monitoring.green_channel,
            "eliminated_on": monitoring.eliminated_on,
            "elimination_mode": monitoring.elimination_mode,
            "updated_at": now,
        }
        row = await self.session.get(MonitoringRow, monitoring.household_id)
        if row is None:
            self.session.add(MonitoringRow(household_id=monitoring.household_id, **fields))
            return
        for name, value in fields.items():
            setattr(row, name, value)


def _to_monitoring(row: MonitoringRow) -> Monitoring:
    return Monitoring(
        household_id=row.household_id,
        status=row.status,  # type: ignore[arg-type]
        since=row.since,
        case_id=row.case_id,
        category=row.category,
        risk_types=tuple(row.risk_types),
        green_channel=row.green_channel,
        eliminated_on=row.eliminated_on,
        elimination_mode=row.elimination_mode,
    )


class IncomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, row: IncomeRow) -> bool:
        """Keep the period's highest revision; False when `row` is older than the one held."""
        held = await self.session.get(IncomeRow, (row.household_id, row.period_start))
        if held is None:
            self.session.add(row)
            return True
        if held.revision >= row.revision:
            return False
        for name in (
            "period_end",
            "members",
            "net",
            "per_capita",
            "revision",
            "plan_id",
            "collected_by",
            "recorded_at",
            "event_id",
        ):
            setattr(held, name, getattr(row, name))
        return True

    async def history(self, household_id: str) -> list[CollectedIncome]:
        query = (
            sa.select(IncomeRow.period_start, IncomeRow.period_end, IncomeRow.per_capita)
            .where(IncomeRow.household_id == household_id)
            .order_by(IncomeRow.period_start)
        )
        return [
            CollectedIncome(start, end, float(per_capita))
            for start, end, per_capita in await self.session.execute(query)
        ]


MEASURE_PROGRESS: Final = {"dispatched": 0, "accepted": 1, "rejected": 1, "completed": 2}
IMPLEMENTED: Final = ("accepted", "completed")
"""A measure is implemented once its department started delivering it (落实)."""


class MeasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, measure_id: str, status: str, dept: str, now: datetime, household_id: str | None
    ) -> None:
        """A dispatch or a reply, whichever comes first; a status never goes back."""
        row = await self.session.get(MeasureRow, measure_id)
        if row is None:
            self.session.add(
                MeasureRow(
                    measure_id=measure_id,
                    household_id=household_id,
                    dept=dept,
                    status=status,
                    updated_at=now,
                )
            )
            return
        if household_id:
            row.household_id = household_id
        if MEASURE_PROGRESS[status] >= MEASURE_PROGRESS[row.status]:
            row.status = status
            row.dept = dept
            row.updated_at = now

    async def implemented(self, household_id: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(MeasureRow)
            .where(MeasureRow.household_id == household_id, MeasureRow.status.in_(IMPLEMENTED))
        )
        return int((await self.session.execute(query)).scalar_one())


class ClueRecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: ClueRecordRow) -> None:
        if await self.session.get(ClueRecordRow, row.clue_id) is None:
            self.session.add(row)

    async def in_window(
        self, start: date, end: date, village: str | None = None, kind: str | None = None
    ) -> list[WarningRecord]:
        """Clues observed in [start, end], optionally of one village and kind."""
        query = sa.select(
            ClueRecordRow.village, ClueRecordRow.kind, ClueRecordRow.observed_at
        ).where(ClueRecordRow.observed_at >= start, ClueRecordRow.observed_at <= end)
        if village is not None:
            query = query.where(ClueRecordRow.village == village)
        if kind is not None:
            query = query.where(ClueRecordRow.kind == kind)
        return [WarningRecord(v, k, on) for v, k, on in await self.session.execute(query)]


class RescreenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, run_id: str) -> RescreenRunRow | None:
        return await self.session.get(RescreenRunRow, run_id)

    def add(self, row: RescreenRunRow) -> None:
        self.session.add(row)

    async def latest(self, status: str | None = None) -> RescreenRunRow | None:
        query = sa.select(RescreenRunRow).order_by(
            RescreenRunRow.started_at.desc(), RescreenRunRow.run_id.desc()
        )
        if status:
            query = query.where(RescreenRunRow.status == status)
        return (await self.session.execute(query.limit(1))).scalars().first()

    async def registry_screened(self) -> bool:
        """Whether a re-screen has gone through the whole registry (a baseline run has not)."""
        query = sa.select(RescreenRunRow.run_id).where(
            RescreenRunRow.status == "done", RescreenRunRow.trigger != "baseline"
        )
        return (await self.session.execute(query.limit(1))).first() is not None

    async def unfinished(self, ruleset: str) -> RescreenRunRow | None:
        """The latest run of `ruleset` that stopped before the end (crashed or failed)."""
        query = (
            sa.select(RescreenRunRow)
            .where(
                RescreenRunRow.ruleset == ruleset,
                RescreenRunRow.status.in_(("running", "failed")),
            )
            .order_by(RescreenRunRow.started_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalars().first()


class Leases:
    """Named leases in the store: one holder at a time, taken over once expired."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def acquire(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        async with self.database.sessions() as session:
            try:
                session.add(LeaseRow(name=name, holder=holder, expires_at=until))
                await session.commit()
                return True
            except IntegrityError:
                await session.rollback()
            result = await session.execute(
                sa.update(LeaseRow)
                .where(
                    LeaseRow.name == name,
                    sa.or_(LeaseRow.expires_at <= now, LeaseRow.holder == holder),
                )
                .values(holder=holder, expires_at=until)
            )
            await session.commit()
            return _rowcount(result) == 1

    async def holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease now (None when free or expired)."""
        async with self.database.sessions() as session:
            row = await session.get(LeaseRow, name)
        return row.holder if row is not None and row.expires_at > now else None

    async def release(self, name: str, holder: str, now: datetime) -> None:
        async with self.database.sessions() as session:
            await session.execute(
                sa.update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == holder)
                .values(expires_at=now)
            )
            await session.commit()


async def renew_lease(session: AsyncSession, name: str, holder: str, until: datetime) -> bool:
    """Extend a lease inside the caller's transaction; False when another holder took it."""
    result = await session.execute(
        sa.update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == holder)
        .values(expires_at=until)
    )
    return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class ScaleAlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, alert_id: str) -> ScaleAlertRow | None:
        return await self.session.get(ScaleAlertRow, alert_id)

    def add(self, row: ScaleAlertRow) -> None:
        self.session.add(row)

    async def active(
        self, village: str | None = None, indicator: str | None = None, warning_kind: str = ""
    ) -> list[ScaleAlertRow]:
        """Alerts whose condition still held at the last watch."""
        query = sa.select(ScaleAlertRow).where(ScaleAlertRow.cleared_on.is_(None))
        if village is not None:
            query = query.where(ScaleAlertRow.village == village)
        if indicator is not None:
            query = query.where(
                ScaleAlertRow.indicator == indicator, ScaleAlertRow.warning_kind == warning_kind
            )
        return list((await self.session.execute(query)).scalars())

    async def list(
        self, village_prefix: str, active_only: bool, page: PageRequest
    ) -> Page[ScaleAlertRow]:
        """One page of alerts in ALERT_KEYSET order."""
        query = sa.select(ScaleAlertRow)
        if village_prefix:
            query = query.where(ScaleAlertRow.village.startswith(village_prefix))
        if active_only:
            query = query.where(ScaleAlertRow.cleared_on.is_(None))
        rows = list((await self.session.execute(ALERT_KEYSET.apply(query, page))).scalars())
        return ALERT_KEYSET.page(rows, page)


async def counts(session: AsyncSession) -> dict[str, int]:
    """What screening holds, for operators (`decisions` and `in_scope` are always present)."""

    def count(table: Any, *where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(table).where(*where)

    queries = {
        "decisions": count(DecisionRow),
        "in_scope": count(DecisionRow, DecisionRow.in_scope.is_(True)),
        "households": count(HouseholdSnapshotRow),
        "monitored": count(MonitoringRow, MonitoringRow.status == "monitored"),
        "held": count(MonitoringRow, MonitoringRow.status == "held"),
        "eliminated": count(MonitoringRow, MonitoringRow.status == "eliminated"),
        "income_records": count(IncomeRow),
        "rescreen_runs": count(RescreenRunRow),
        "scale_risk_alerts": count(ScaleAlertRow),
        "scale_risk_alerts_active": count(ScaleAlertRow, ScaleAlertRow.cleared_on.is_(None)),
    }
    return {name: int((await session.execute(q)).scalar_one()) for name, q in queries.items()}
