"""Loading and saving assistance's aggregates and follow-up records through the session."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from fangpin_assistance.adapters.orm import (
    ContactCadreRow,
    HistoryRow,
    IncomeRow,
    MeasureRow,
    PlanRow,
    ReplacementRow,
    ReplyRow,
    RosterRow,
    TaskRow,
    VisitRow,
)
from fangpin_assistance.domain.catalog import Beneficiary, SubMeasure, Term
from fangpin_assistance.domain.codes import (
    Category,
    Department,
    LaborCapacity,
    MeasureStatus,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
    TermKind,
)
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.measure import Measure
from fangpin_assistance.domain.plan import Plan, PlanStatus, Waiver
from fangpin_kit.paging import Keyset, Page, PageRequest


class PlanRepository:
    """Plans with their measures and contact cadres; remembers the rows it loaded so `save`
    writes back to them (the plan row's version makes a concurrent writer fail)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._plans: dict[str, PlanRow] = {}
        self._measures: dict[str, MeasureRow] = {}
        self._cadres: dict[str, dict[str, ContactCadreRow]] = {}

    # -- loading ---------------------------------------------------------------------------

    async def get(self, plan_id: str) -> Plan | None:
        row = await self.session.get(PlanRow, plan_id)
        return await self._load(row) if row else None

    async def live_for_household(self, household_id: str) -> Plan | None:
        """The household's plan that is not stopped (there is at most one)."""
        row = (
            await self.session.execute(
                sa.select(PlanRow).where(PlanRow.live_household_id == household_id)
            )
        ).scalar_one_or_none()
        return await self._load(row) if row else None

    async def latest_for_household(self, household_id: str) -> Plan | None:
        """The live plan, else the most recent stopped one."""
        row = (
            await self.session.execute(
                sa.select(PlanRow)
                .where(PlanRow.household_id == household_id)
                .order_by(PlanRow.live_household_id.is_(None), PlanRow.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return await self._load(row) if row else None

    async def decision_seen(self, case_id: str, outcome: str) -> bool:
        """Whether this decision (case and outcome) was already applied to a plan."""
        found = await self.session.execute(
            sa.select(HistoryRow.id)
            .where(HistoryRow.case_id == case_id, HistoryRow.kind == decision_kind(outcome))
            .limit(1)
        )
        return found.first() is not None

    async def plan_id_of_measure(self, measure_id: str) -> str | None:
        found = await self.session.execute(
            sa.select(MeasureRow.plan_id).where(MeasureRow.measure_id == measure_id)
        )
        return found.scalar_one_or_none()

    async def plans_of_household(self, household_id: str) -> int:
        found = await self.session.execute(
            sa.select(sa.func.count())
            .select_from(PlanRow)
            .where(PlanRow.household_id == household_id)
        )
        return int(found.scalar_one())

    def row(self, plan: Plan) -> PlanRow:
        """The stored row of a plan loaded or added through this repository."""
        return self._plans[plan.plan_id]

    async def _load(self, row: PlanRow) -> Plan:
        self._plans[row.plan_id] = row
        plan = Plan(
            row.plan_id,
            summary_from_dict(row.household),
            identified_on=row.identified_on,
            created_at=row.created_at,
            due_on=row.due_on,
        )
        plan.status = PlanStatus(row.status)
        plan.confirmed_at, plan.confirmed_by = row.confirmed_at, row.confirmed_by
        plan.risk_eliminated_on = row.risk_eliminated_on
        plan.stopped_at, plan.stop_reason = row.stopped_at, row.stop_reason
        plan.measure_sequence = row.measure_sequence
        plan.waivers = {name: waiver_from_dict(name, w) for name, w in row.waivers.items()}
        measures = (
            await self.session.execute(
                sa.select(MeasureRow)
                .where(MeasureRow.plan_id == row.plan_id)
                .order_by(MeasureRow.position)
            )
        ).scalars()
        for measure_row in measures:
            self._measures[measure_row.measure_id] = measure_row
            plan.measures.append(measure_from_row(measure_row))
        cadres = (
            await self.session.execute(
                sa.select(ContactCadreRow)
                .where(ContactCadreRow.plan_id == row.plan_id)
                .order_by(ContactCadreRow.position)
            )
        ).scalars()
        self._cadres[row.plan_id] = {}
        for cadre in cadres:
            self._cadres[row.plan_id][cadre.cadre_id] = cadre
            plan.contact_cadres.append(cadre.cadre_id)
        return plan

    # -- saving ----------------------------------------------------------------------------

    def add(
        self,
        plan: Plan,
        *,
        case_id: str | None,
        town: str | None,
        record: dict[str, Any],
        at: datetime,
    ) -> PlanRow:
        """A new plan; `save` writes its measures and cadres."""
        row = PlanRow(
            plan_id=plan.plan_id,
            household_id=plan.household.household_id,
            case_id=case_id,
            county=plan.household.county,
            town=town,
            village=plan.household.village,
            status=plan.status.value,
            household=summary_to_dict(plan.household),
            record=record,
            identified_on=plan.identified_on,
            due_on=plan.due_on,
            created_at=plan.created_at,
            updated_at=at,
            situation_since=plan.identified_on,
        )
        self.session.add(row)
        self._plans[plan.plan_id] = row
        self._cadres[plan.plan_id] = {}
        return row

    async def save(self, plan: Plan, at: datetime) -> None:
        """Write the plan back; raises StaleDataError on flush when another writer won."""
        row = self._plans[plan.plan_id]
        live = plan.status is not PlanStatus.STOPPED
        row.live_household_id = plan.household.household_id if live else None
        row.status = plan.status.value
        row.green_channel = plan.household.green_channel
        row.household = summary_to_dict(plan.household)
        row.confirmed_at, row.confirmed_by = plan.confirmed_at, plan.confirmed_by
        row.waivers = {name: waiver_to_dict(w) for name, w in plan.waivers.items()}
        row.risk_eliminated_on = plan.risk_eliminated_on
        row.stopped_at = plan.stopped_at
        row.stop_reason = plan.stop_reason[:200] if plan.stop_reason else None
        row.measure_sequence = plan.measure_sequence
        row.updated_at = at
        flag_modified(row, "updated_at")  # always written, so every save moves the version
        for position, measure in enumerate(plan.measures):
            measure_row = self._measures.get(measure.measure_id)
            if measure_row is None:
                measure_row = MeasureRow(
                    measure_id=measure.measure_id,
                    plan_id=plan.plan_id,
                    household_id=measure.household_id,
                    position=position,
                    measure_key=measure.key,
                    department=measure.sub_measure.department.value,
                    status=measure.status.value,
                    sub_measure=sub_measure_to_dict(measure.sub_measure),
                )
                self.session.add(measure_row)
                self._measures[measure.measure_id] = measure_row
            _measure_to_row(measure, measure_row, position)
        cadres = self._cadres.setdefault(plan.plan_id, {})
        for cadre_id in [c for c in cadres if c not in plan.contact_cadres]:
            await self.session.delete(cadres.pop(cadre_id))
        for position, cadre_id in enumerate(plan.contact_cadres):
            cadre = cadres.get(cadre_id)
            if cadre is None:
                cadre = ContactCadreRow(
                    plan_id=plan.plan_id,
                    cadre_id=cadre_id,
                    household_id=plan.household.household_id,
                    position=position,
                    assigned_at=at,
                )
                self.session.add(cadre)
                cadres[cadre_id] = cadre
            cadre.position = position
        await self.session.flush()


class RosterRepository:
    """Cadres on duty per region, for the contact cadres of new plans."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cadres_for(self, village: str) -> list[str]:
        """The cadres of the most specific region holding the village that has any."""
        regions = [village, village[:9], village[:6]]
        rows = (
            await self.session.execute(
                sa.select(RosterRow)
                .where(RosterRow.region.in_(regions))
                .order_by(RosterRow.assigned_at, RosterRow.cadre_id)
            )
        ).scalars()
        by_region: dict[str, list[str]] = {}
        for row in rows:
            by_region.setdefault(row.region, []).append(row.cadre_id)
        for region in regions:
            if by_region.get(region):
                return by_region[region]
        return []

    async def assign(self, region: str, cadre_id: str, at: datetime, by: str | None) -> bool:
        """Put a cadre on a region's roster; False when already there."""
        if await self.session.get(RosterRow, (region, cadre_id)) is not None:
            return False
        self.session.add(
            RosterRow(region=region, cadre_id=cadre_id, assigned_at=at, assigned_by=by)
        )
        await self.session.flush()
        return True

    async def of_region(self, region: str) -> list[str]:
        rows = await self.session.execute(
            sa.select(RosterRow.cadre_id)
            .where(RosterRow.region == region)
            .order_by(RosterRow.assigned_at, RosterRow.cadre_id)
        )
        return list(rows.scalars())


class FollowUpRepository:
    """Visits, incomes, tasks, replacement proposals, replies and history of plans."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def visit_days(self, household_id: str) -> list[date]:
        rows = await self.session.execute(
            sa.select(VisitRow.visited_on).where(VisitRow.household_id == household_id)
        )
        return list(rows.scalars())

    def add_visit(self, row: VisitRow) -> None:
        self.session.add(row)

    async def collected_periods(self, household_id: str) -> list[tuple[date, date]]:
        rows = await self.session.execute(
            sa.select(IncomeRow.period_start, IncomeRow.period_end).where(
                IncomeRow.household_id == household_id
            )
        )
        return [(r.period_start, r.period_end) for r in rows]

    async def income(self, household_id: str, period_start: date) -> IncomeRow | None:
        return await self.session.get(IncomeRow, (household_id, period_start))

    def add_income(self, row: IncomeRow) -> None:
        self.session.add(row)

    async def task(self, task_id: str) -> TaskRow | None:
        return await self.session.get(TaskRow, task_id)

    def add_task(self, row: TaskRow) -> None:
        self.session.add(row)

    async def open_tasks(self, plan_id: str, kind: str | None = None) -> list[TaskRow]:
        query = (
            sa.select(TaskRow)
            .where(TaskRow.plan_id == plan_id, TaskRow.status == "open")
            .order_by(TaskRow.due_on, TaskRow.task_id)
        )
        if kind:
            query = query.where(TaskRow.kind == kind)
        return list((await self.session.execute(query)).scalars())

    async def replacement(self, measure_id: str) -> ReplacementRow | None:
        return await self.session.get(ReplacementRow, measure_id)

    def add_replacement(self, row: ReplacementRow) -> None:
        self.session.add(row)

    async def replacements(self, plan_id: str) -> list[ReplacementRow]:
        rows = await self.session.execute(
            sa.select(ReplacementRow)
            .where(ReplacementRow.plan_id == plan_id)
            .order_by(ReplacementRow.proposed_at)
        )
        return list(rows.scalars())

    def log_reply(self, row: ReplyRow) -> None:
        self.session.add(row)

    def record(self, row: HistoryRow) -> None:
        self.session.add(row)


# -- read side (gRPC queries, the sweep) -----------------------------------------------------


# Measures by id; tasks earliest due first, the id breaking ties.
MEASURE_KEYSET = Keyset("assistance.measures", MeasureRow.measure_id)
TASK_KEYSET = Keyset("assistance.tasks", TaskRow.due_on, TaskRow.task_id)
_TASK_SCAN_CHUNK = 1000


async def list_measures(
    session: AsyncSession,
    *,
    page: PageRequest,
    dept: str = "",
    status: str = "",
    household_id: str = "",
    overdue: bool = False,
) -> Page[MeasureRow]:
    """One page of measures in MEASURE_KEYSET order."""
    query = sa.select(MeasureRow)
    if dept:
        query = query.where(MeasureRow.department == dept)
    if status:
        query = query.where(MeasureRow.status == status)
    if household_id:
        query = query.where(MeasureRow.household_id == household_id)
    if overdue:
        query = query.where(
            MeasureRow.status == MeasureStatus.DISPATCHED.value,
            MeasureRow.escalated_at.is_not(None),
        )
    rows = list((await session.execute(MEASURE_KEYSET.apply(query, page))).scalars())
    return MEASURE_KEYSET.page(rows, page)


async def list_tasks(
    session: AsyncSession,
    *,
    page: PageRequest,
    today: date,
    household_id: str = "",
    kind: str = "",
    status: str = "",
    cadre_id: str = "",
    overdue: bool = False,
) -> Page[TaskRow]:
    """One page of tasks in TASK_KEYSET order."""
    query = sa.select(TaskRow)
    if household_id:
        query = query.where(TaskRow.household_id == household_id)
    if kind:
        query = query.where(TaskRow.kind == kind)
    if status:
        query = query.where(TaskRow.status == status)
    if overdue:
        query = query.where(TaskRow.status == "open", TaskRow.due_on < today)
    if not cadre_id:
        rows = list((await session.execute(TASK_KEYSET.apply(query, page))).scalars())
        return TASK_KEYSET.page(rows, page)
    # assignees is a JSON list: filtered here (portable across stores), scanning in key order
    # chunk by chunk until the page and one more row are found
    matched: list[TaskRow] = []
    scan = page
    while len(matched) <= page.size:
        chunk = list(
            (
                await session.execute(TASK_KEYSET.apply(query, scan, limit=_TASK_SCAN_CHUNK))
            ).scalars()
        )
        matched.extend(row for row in chunk if cadre_id in row.assignees)
        if len(chunk) < _TASK_SCAN_CHUNK:
            break
        scan = scan.starting_after(TASK_KEYSET.key_of(chunk[-1]))
    return TASK_KEYSET.page(matched, page)


async def plans_to_tick(session: AsyncSession, now: datetime, today: date) -> list[str]:
    """Plans with a measure whose reply is overdue, whose start came or whose term ran out."""
    query = (
        sa.select(MeasureRow.plan_id)
        .where(
            sa.or_(
                sa.and_(
                    MeasureRow.status == MeasureStatus.DISPATCHED.value,
                    MeasureRow.escalated_at.is_(None),
                    MeasureRow.reply_due_at <= now,
                ),
                sa.and_(
                    MeasureRow.status == MeasureStatus.ACCEPTED.value,
                    MeasureRow.started_on <= today,
                ),
                sa.and_(
                    MeasureRow.status == MeasureStatus.IN_PROGRESS.value,
                    MeasureRow.ends_on < today,
                ),
            )
        )
        .distinct()
        .order_by(MeasureRow.plan_id)
    )
    return list((await session.execute(query)).scalars())


async def plans_for_followup(session: AsyncSession, today: date, limit: int) -> list[str]:
    """Plans not stopped whose follow-up tasks were not generated today."""
    query = (
        sa.select(PlanRow.plan_id)
        .where(
            PlanRow.status != PlanStatus.STOPPED.value,
            sa.or_(PlanRow.followup_checked_on.is_(None), PlanRow.followup_checked_on < today),
        )
        .order_by(PlanRow.plan_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def history(session: AsyncSession, plan_id: str) -> list[HistoryRow]:
    rows = await session.execute(
        sa.select(HistoryRow).where(HistoryRow.plan_id == plan_id).order_by(HistoryRow.id)
    )
    return list(rows.scalars())


async def counts(session: AsyncSession, today: date) -> dict[str, int]:
    """What assistance holds, for operators and `make run`'s summary."""

    def count(table: Any, *where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(table).where(*where)

    queries = {
        "plans": count(PlanRow),
        "plans_proposed": count(PlanRow, PlanRow.status == PlanStatus.PROPOSED.value),
        "plans_active": count(PlanRow, PlanRow.status == PlanStatus.ACTIVE.value),
        "plans_stopped": count(PlanRow, PlanRow.status == PlanStatus.STOPPED.value),
        "measures": count(MeasureRow),
        "measures_dispatched": count(MeasureRow, MeasureRow.first_dispatched_at.is_not(None)),
        "measures_completed": count(MeasureRow, MeasureRow.status == MeasureStatus.COMPLETED.value),
        "measures_rejected": count(MeasureRow, MeasureRow.status == MeasureStatus.REJECTED.value),
        "measures_overdue": count(
            MeasureRow,
            MeasureRow.status == MeasureStatus.DISPATCHED.value,
            MeasureRow.escalated_at.is_not(None),
        ),
        "replies": count(ReplyRow),
        "replies_ignored": count(ReplyRow, ReplyRow.outcome != "applied"),
        "tasks_open": count(TaskRow, TaskRow.status == "open"),
        "tasks_overdue": count(TaskRow, TaskRow.status == "open", TaskRow.due_on < today),
        "visits": count(VisitRow),
        "incomes": count(IncomeRow),
    }
    return {name: int((await session.execute(q)).scalar_one()) for name, q in queries.items()}


# -- mapping ----------------------------------------------------------------------------------


def decision_kind(outcome: str) -> str:
    """History kind recording that a case decision with this outcome was applied."""
    return f"case:{outcome}"[:40]


def summary_to_dict(summary: HouseholdSummary) -> dict[str, Any]:
    return {
        "household_id": summary.household_id,
        "county": summary.county,
        "village": summary.village,
        "category": summary.category.value if summary.category else None,
        "risk_types": [risk.value for risk in summary.risk_types],
        "members": [
            {
                "member_ref": m.member_ref,
                "labor_capacity": m.labor_capacity.value,
                "school_stage": m.school_stage.value,
                "school_stage_ends_on": _iso(m.school_stage_ends_on),
            }
            for m in summary.members
        ],
        "referrals": [referral.value for referral in summary.referrals],
        "safety_net": summary.safety_net.value,
        "formerly_poor": summary.formerly_poor,
        "green_channel": summary.green_channel,
    }


def summary_from_dict(data: dict[str, Any]) -> HouseholdSummary:
    return HouseholdSummary(
        household_id=data["household_id"],
        county=data["county"],
        village=data["village"],
        category=Category(data["category"]) if data.get("category") else None,
        risk_types=tuple(RiskType(r) for r in data["risk_types"]),
        members=tuple(
            MemberSummary(
                member_ref=m["member_ref"],
                labor_capacity=LaborCapacity(m["labor_capacity"]),
                school_stage=SchoolStage(m["school_stage"]),
                school_stage_ends_on=_date(m.get("school_stage_ends_on")),
            )
            for m in data["members"]
        ),
        referrals=tuple(Referral(r) for r in data.get("referrals", ())),
        safety_net=SafetyNet(data.get("safety_net", "none")),
        formerly_poor=bool(data.get("formerly_poor", False)),
        green_channel=bool(data.get("green_channel", False)),
    )


def sub_measure_to_dict(sub: SubMeasure) -> dict[str, Any]:
    return {
        "measure_type": sub.measure_type,
        "code": sub.code,
        "name_zh": sub.name_zh,
        "department": sub.department.value,
        "developmental": sub.developmental,
        "safety_net": sub.safety_net,
        "term": {"kind": sub.term.kind.value, "months": sub.term.months},
        "beneficiary": sub.beneficiary.value,
        "school_stages": sorted(stage.value for stage in sub.school_stages),
    }


def sub_measure_from_dict(data: dict[str, Any]) -> SubMeasure:
    return SubMeasure(
        measure_type=data["measure_type"],
        code=data["code"],
        name_zh=data["name_zh"],
        department=Department(data["department"]),
        developmental=bool(data["developmental"]),
        safety_net=bool(data["safety_net"]),
        term=Term(TermKind(data["term"]["kind"]), data["term"].get("months")),
        beneficiary=Beneficiary(data["beneficiary"]),
        school_stages=frozenset(SchoolStage(s) for s in data.get("school_stages", ())),
    )


def waiver_to_dict(waiver: Waiver) -> dict[str, Any]:
    return {"reason": waiver.reason, "by": waiver.by, "at": waiver.at.isoformat()}


def waiver_from_dict(name: str, data: dict[str, Any]) -> Waiver:
    return Waiver(name, data["reason"], data["by"], datetime.fromisoformat(data["at"]))


def measure_from_row(row: MeasureRow) -> Measure:
    return Measure(
        measure_id=row.measure_id,
        plan_id=row.plan_id,
        household_id=row.household_id,
        sub_measure=sub_measure_from_dict(row.sub_measure),
        beneficiary=row.beneficiary,
        basis=tuple(row.basis),
        school_stage_ends_on=row.school_stage_ends_on,
        status=MeasureStatus(row.status),
        attempts=row.attempts,
        first_dispatched_at=row.first_dispatched_at,
        last_dispatched_at=row.last_dispatched_at,
        reply_due_at=row.reply_due_at,
        escalated_at=row.escalated_at,
        started_on=row.started_on,
        implemented_on=row.implemented_on,
        closed_at=row.closed_at,
        reported_term_end=row.reported_term_end,
        continues_until=row.continues_until,
        close_reason=row.close_reason,
        replaces=row.replaces,
        replaced_by=row.replaced_by,
        seen_reply_ids=set(row.seen_reply_ids),
    )


def _measure_to_row(measure: Measure, row: MeasureRow, position: int) -> None:
    row.position = position
    row.status = measure.status.value
    row.beneficiary = measure.beneficiary
    row.basis = list(measure.basis)
    row.school_stage_ends_on = measure.school_stage_ends_on
    row.attempts = measure.attempts
    row.first_dispatched_at = measure.first_dispatched_at
    row.last_dispatched_at = measure.last_dispatched_at
    row.reply_due_at = measure.reply_due_at
    row.escalated_at = measure.escalated_at
    row.started_on = measure.started_on
    row.implemented_on = measure.implemented_on
    row.closed_at = measure.closed_at
    row.reported_term_end = measure.reported_term_end
    row.continues_until = measure.continues_until
    row.ends_on = measure.continues_until or measure.term_end
    row.close_reason = measure.close_reason
    row.replaces = measure.replaces
    row.replaced_by = measure.replaced_by
    row.seen_reply_ids = sorted(measure.seen_reply_ids)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
