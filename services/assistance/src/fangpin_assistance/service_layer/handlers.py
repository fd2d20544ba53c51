"""Assistance's use cases: plan on a decision, department replies, cadre commands, follow-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fangpin_assistance.adapters.household import (
    FactsError,
    normalized_record,
    summary_from_decision,
)
from fangpin_assistance.adapters.orm import (
    HistoryRow,
    IncomeRow,
    PlanRow,
    ReplacementRow,
    ReplyRow,
    TaskRow,
    VisitRow,
)
from fangpin_assistance.adapters.repository import (
    FollowUpRepository,
    PlanRepository,
    RosterRepository,
    decision_kind,
)
from fangpin_assistance.domain import events as domain
from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import HouseholdSituation, ReplyKind
from fangpin_assistance.domain.followup import (
    CollectionMethod,
    FollowUpError,
    FollowUpSubject,
    IncomeFigures,
    IncomePeriod,
    VisitMode,
    income_collection_tasks,
    income_period,
    record_income,
    record_visit,
    visit_tasks,
)
from fangpin_assistance.domain.measure import DepartmentReply, Measure, dispatch_id_for
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import MeasureSpec, Plan, PlanStatus
from fangpin_assistance.domain.planner import propose_measures
from fangpin_assistance.domain.replacement import propose_replacement
from fangpin_assistance.service_layer import messages
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.events import CaseEvent, MeasureReply
from fangpin_kit.bus import PermanentError
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.db import UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_kit.masking import mask_text

log = get_logger("fangpin.assistance")

APPROVED = "approved"
GREEN_CHANNEL_OPENED = frozenset({"green_channel", "green_channel_entered"})
GREEN_CHANNEL_CLOSED = frozenset({"green_channel_expired", "green_channel_exited"})
REFUSED = frozenset({"rejected", "withdrawn"})
"""Outcomes of `case.decided` (approval): a refusal stops a green-channel plan."""

REPLACEMENT_TASK = "measure_replacement"
OPEN, DONE, CANCELLED = "open", "done", "cancelled"
_HISTORY = "fangpin.assistance.history"
_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_.\[\]]*): ")


@dataclass(frozen=True)
class AssistanceContext:
    """What the use cases need from outside: county, parameters, catalog, clock, settings."""

    county: str
    params_on: Callable[[date], AssistanceParameters]
    catalog: Catalog
    clock: Clock
    task_lookahead_days: int = 30
    auto_confirm_by: str = "system:auto-confirm"
    escalate_to: str = "county"
    """Who a measure no department answers is escalated to: the county's rural revitalization
    bureau (县乡村振兴部门), which coordinates the lead departments."""

    def today(self) -> date:
        return china_date(self.clock())


class InvalidInput(ValueError):
    """A command with a bad field; the message names the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    @classmethod
    def from_error(cls, err: Exception, default_path: str) -> InvalidInput:
        """Keep the field a domain message already names, else use `default_path`."""
        text = str(err)
        match = _FIELD_PREFIX.match(text)
        if match:
            return cls(match.group(1), text[match.end() :])
        return cls(default_path, text)


class NotFound(LookupError):
    """No such household plan, measure or task."""


# -- case decisions (bus) --------------------------------------------------------------------


async def decide_case(uow: UnitOfWork, ctx: AssistanceContext, event: CloudEvent) -> Plan | None:
    """`case.decided`: plan an identified or green-channel household, stop a plan whose green
    channel closed or was refused, continue termed measures after risk elimination."""
    case = CaseEvent.model_validate(event.data)
    outcome = (case.outcome or "").strip().lower()
    if case.region.county != ctx.county:
        raise PermanentError(
            f"region.county: case of county {case.region.county}, not {ctx.county}"
        )
    plans = PlanRepository(uow.session)
    if await plans.decision_seen(case.case_id, outcome):
        log.info("case decision already applied", case_id=case.case_id, outcome=outcome)
        return None
    decided_on = china_date(event.time)
    if case.kind == "elimination":
        if outcome != APPROVED:
            return None
        return await _eliminate(uow, ctx, plans, case, outcome, decided_on)
    if outcome in GREEN_CHANNEL_CLOSED or (outcome in REFUSED and case.green_channel):
        reason = case.reason or outcome
        return await _stop(uow, ctx, plans, case, outcome, reason)
    if outcome == APPROVED or outcome in GREEN_CHANNEL_OPENED:
        return await _plan(uow, ctx, plans, case, outcome, decided_on)
    return None


async def _plan(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    plans: PlanRepository,
    case: CaseEvent,
    outcome: str,
    decided_on: date,
) -> Plan:
    if case.household is None:
        raise PermanentError("household: the decision carries no household record to plan from")
    try:
        record = normalized_record(case.household)
        if record["household_id"] != case.household_id:
            raise FactsError("household.household_id", "differs from the case's household_id")
        summary = summary_from_decision(
            record,
            category=case.category,
            risk_types=case.risk_types,
            green_channel=outcome in GREEN_CHANNEL_OPENED,
            on=decided_on,
        )
    except (FactsError, ValueError) as err:
        raise PermanentError(str(err)) from err
    now = ctx.clock()
    params = ctx.params_on(decided_on)
    live = await plans.live_for_household(case.household_id)
    if live is not None:
        # the green-channel household completed the procedure, or risk returned after an
        # elimination (回退): the same plan continues with the decided facts
        row = plans.row(live)
        rolled_back = live.risk_eliminated_on is not None
        violations = live.reassess(summary, ctx.catalog, params)
        row.record = record
        if rolled_back:
            row.situation_since = decided_on
            row.followup_checked_on = None
        _history(
            uow,
            live,
            "plan_reassessed",
            now,
            case_id=case.case_id,
            violations=[v.name for v in violations],
            rolled_back=rolled_back,
        )
        if violations:  # the decided facts leave needs uncovered: the plan is due again
            await _add_task(
                uow,
                ctx,
                row,
                live,
                now,
                task_id=f"plan_due:{live.plan_id}:{case.case_id}"[:100],
                kind=domain.TaskKind.PLAN_DUE.value,
                due_on=decided_on + timedelta(days=params.plan_due_days),
                details={"violations": [v.name for v in violations]},
            )
        _history(uow, live, decision_kind(outcome), now, case_id=case.case_id)
        await _commit(uow, ctx, plans, live, now)
        return live
    number = await plans.plans_of_household(case.household_id) + 1
    cadres = await RosterRepository(uow.session).cadres_for(summary.village)
    plan = Plan.create(
        f"P-{case.household_id}-{number}",
        summary,
        propose_measures(summary, ctx.catalog),
        identified_on=decided_on,
        at=now,
        catalog=ctx.catalog,
        params=params,
        contact_cadres=cadres,
    )
    plans.add(plan, case_id=case.case_id, town=case.region.town, record=record, at=now)
    if not plan.open_violations(ctx.catalog, params):
        # nothing to decide for a cadre: the plan is adopted and its measures go out at once
        plan.confirm(ctx.auto_confirm_by, now, ctx.catalog, params)
    _history(uow, plan, decision_kind(outcome), now, case_id=case.case_id)
    await _commit(uow, ctx, plans, plan, now)
    log.info(
        "plan created",
        household_id=plan.household.household_id,
        plan_id=plan.plan_id,
        status=plan.status.value,
        measures=len(plan.measures),
    )
    return plan


async def _stop(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    plans: PlanRepository,
    case: CaseEvent,
    outcome: str,
    reason: str,
) -> Plan | None:
    plan = await plans.live_for_household(case.household_id)
    if plan is None:
        log.info("no plan to stop", household_id=case.household_id, outcome=outcome)
        return None
    now = ctx.clock()
    plan.stop(now, mask_text(reason)[:200])
    follow = FollowUpRepository(uow.session)
    for task in await follow.open_tasks(plan.plan_id):
        _close_task(uow, ctx, plans.row(plan), task, CANCELLED, now, "assistance_stopped")
    for proposal in await follow.replacements(plan.plan_id):
        if proposal.status == OPEN:
            proposal.status, proposal.resolved_at = CANCELLED, now
    _history(uow, plan, decision_kind(outcome), now, case_id=case.case_id, reason=reason)
    await _commit(uow, ctx, plans, plan, now)
    return plan


async def _eliminate(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    plans: PlanRepository,
    case: CaseEvent,
    outcome: str,
    decided_on: date,
) -> Plan | None:
    plan = await plans.live_for_household(case.household_id)
    if plan is None:
        log.warning("elimination of a household without plan", household_id=case.household_id)
        return None
    now = ctx.clock()
    if plan.risk_eliminated_on is None:
        decisions = plan.risk_eliminated(decided_on, now)
        row = plans.row(plan)
        row.situation_since = decided_on
        row.followup_checked_on = None
        follow = FollowUpRepository(uow.session)
        for task in await follow.open_tasks(plan.plan_id, "visit"):
            _close_task(uow, ctx, row, task, CANCELLED, now, "risk_eliminated")
        _history(
            uow,
            plan,
            "risk_eliminated",
            now,
            case_id=case.case_id,
            mode=case.elimination_mode,
            decisions={d.measure_id: d.continuation.value for d in decisions},
        )
    _history(uow, plan, decision_kind(outcome), now, case_id=case.case_id)
    await _commit(uow, ctx, plans, plan, now)
    return plan


# -- department replies (bus) ----------------------------------------------------------------


async def receive_reply(uow: UnitOfWork, ctx: AssistanceContext, event: CloudEvent) -> str | None:
    """`measure.accepted|completed|rejected`: apply once; unknown, stale and repeated replies
    are recorded in the reply log and change nothing. Returns the outcome (None: not a reply)."""
    parts = event.type.split(".")
    kind = parts[3] if len(parts) == 5 else ""
    if kind not in {k.value for k in ReplyKind}:
        return None  # our own measure.overdue shares the subject space
    reply = MeasureReply.model_validate(event.data)
    now = ctx.clock()
    domain_reply = DepartmentReply(
        reply_id=event.id,
        measure_id=reply.measure_id,
        department=reply.dept,
        kind=ReplyKind(kind),
        sent_at=event.time,
        reason=reply.reason,
        started_on=reply.started_on,
        term_end=reply.term_end,
    )
    plans = PlanRepository(uow.session)
    follow = FollowUpRepository(uow.session)
    plan_id = await plans.plan_id_of_measure(reply.measure_id)
    plan = await plans.get(plan_id) if plan_id else None
    if plan is None:
        _log_reply(follow, event, reply, kind, "ignored", "unknown_measure", now)
        log.warning("reply for an unknown measure ignored", dept=reply.dept[:32])
        return "ignored"
    if reply.dispatch_id and reply.dispatch_id != dispatch_id_for(reply.measure_id):
        _log_reply(follow, event, reply, kind, "ignored", "dispatch_id_mismatch", now, plan)
        return "ignored"
    outcome = plan.apply_reply(domain_reply, now)
    _log_reply(follow, event, reply, kind, outcome.kind.value, outcome.reason, now, plan)
    if outcome.reason:
        log.info("reply ignored", measure_id=reply.measure_id, reason=outcome.reason)
    await _commit(uow, ctx, plans, plan, now)
    return outcome.kind.value


def _log_reply(
    follow: FollowUpRepository,
    event: CloudEvent,
    reply: MeasureReply,
    kind: str,
    outcome: str,
    reason: str | None,
    at: datetime,
    plan: Plan | None = None,
) -> None:
    follow.log_reply(
        ReplyRow(
            reply_id=event.id[:100],
            measure_id=reply.measure_id[:100],
            dispatch_id=reply.dispatch_id[:100] if reply.dispatch_id else None,
            plan_id=plan.plan_id if plan else None,
            household_id=plan.household.household_id if plan else None,
            department=reply.dept[:32],
            kind=kind,
            outcome=outcome,
            ignored_because=reason[:100] if reason else None,
            reason=mask_text(reply.reason) if reply.reason else None,
            note=mask_text(reply.note) if reply.note else None,
            sent_at=event.time,
            received_at=at,
        )
    )


# -- cadre commands (gRPC) -------------------------------------------------------------------


async def live_plan(uow: UnitOfWork, household_id: str) -> tuple[PlanRepository, Plan]:
    plans = PlanRepository(uow.session)
    plan = await plans.live_for_household(household_id)
    if plan is None:
        raise NotFound(f"household {household_id} has no plan being carried out")
    return plans, plan


async def confirm_plan(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    household_id: str,
    by: str,
    waivers: Mapping[str, str],
) -> Plan:
    """A cadre adopts the proposed plan, waiving named violations with a reason."""
    _required("by", by)
    plans, plan = await live_plan(uow, household_id)
    now = ctx.clock()
    plan.confirm(by, now, ctx.catalog, ctx.params_on(china_date(now)), waivers)
    await _commit(uow, ctx, plans, plan, now)
    return plan


async def adjust_plan(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    household_id: str,
    *,
    by: str,
    reason: str,
    add: Sequence[MeasureSpec] = (),
    withdraw: Sequence[str] = (),
    waivers: Mapping[str, str] | None = None,
) -> Plan:
    """A cadre adds or withdraws measures; a change breaking a rule is refused by name."""
    _required("by", by)
    _required("reason", reason)
    plans, plan = await live_plan(uow, household_id)
    for index, spec in enumerate(add):
        _check_spec(ctx, plan, spec, f"add[{index}]")
    known = {m.measure_id for m in plan.measures}
    for index, measure_id in enumerate(withdraw):
        if measure_id not in known:
            raise InvalidInput(f"withdraw[{index}]", f"{measure_id} is not a measure of this plan")
    now = ctx.clock()
    plan.adjust(
        by,
        now,
        reason,
        ctx.catalog,
        ctx.params_on(china_date(now)),
        add=add,
        withdraw=withdraw,
        waivers=waivers,
    )
    await _commit(uow, ctx, plans, plan, now)
    return plan


async def replace_measure(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    measure_id: str,
    *,
    by: str,
    reason: str,
    spec: MeasureSpec | None = None,
    waivers: Mapping[str, str] | None = None,
) -> tuple[Plan, Measure]:
    """Replace a rejected (or escalated) measure: with `spec`, else the service's proposal."""
    _required("by", by)
    _required("reason", reason)
    plans = PlanRepository(uow.session)
    plan_id = await plans.plan_id_of_measure(measure_id)
    plan = await plans.get(plan_id) if plan_id else None
    if plan is None:
        raise NotFound(f"measure {measure_id}")
    follow = FollowUpRepository(uow.session)
    proposal = await follow.replacement(measure_id)
    if spec is None:
        if proposal is None or proposal.proposed_key is None:
            raise InvalidInput("measure_key", f"required: nothing was proposed for {measure_id}")
        spec = MeasureSpec(proposal.proposed_key, proposal.beneficiary, tuple(proposal.basis))
    _check_spec(ctx, plan, spec, "measure_key")
    now = ctx.clock()
    new = plan.replace_measure(
        measure_id, spec, by, now, reason, ctx.catalog, ctx.params_on(china_date(now)), waivers
    )
    if proposal is not None and proposal.status == OPEN:
        proposal.status, proposal.replaced_by, proposal.resolved_at = DONE, new.measure_id, now
    task = await follow.task(_replacement_task_id(measure_id))
    if task is not None and task.status == OPEN:
        _close_task(uow, ctx, plans.row(plan), task, DONE, now, f"replaced_by:{new.measure_id}")
    await _commit(uow, ctx, plans, plan, now)
    return plan, new


async def assign_contact_cadre(
    uow: UnitOfWork, ctx: AssistanceContext, household_id: str, cadre_id: str
) -> Plan:
    """Name a contact cadre (帮扶联系人) of a household; they receive its follow-up tasks."""
    _required("cadre_id", cadre_id)
    plans, plan = await live_plan(uow, household_id)
    now = ctx.clock()
    plan.assign_contact_cadre(cadre_id.strip(), now)
    for task in await FollowUpRepository(uow.session).open_tasks(plan.plan_id):
        if cadre_id not in task.assignees:
            task.assignees = [*task.assignees, cadre_id.strip()]
    await _commit(uow, ctx, plans, plan, now)
    return plan


async def assign_region_cadre(
    uow: UnitOfWork, ctx: AssistanceContext, region: str, cadre_id: str, by: str | None
) -> list[str]:
    """Put a cadre on duty for a village, town or the county: new plans there get them."""
    _required("cadre_id", cadre_id)
    if not (region.isdigit() and len(region) in (6, 9, 12)):
        raise InvalidInput("region", "a county (6), town (9) or village (12 digits) code")
    if not region.startswith(ctx.county):
        raise InvalidInput("region", f"not in county {ctx.county}")
    roster = RosterRepository(uow.session)
    await roster.assign(region, cadre_id.strip(), ctx.clock(), by or None)
    return await roster.of_region(region)


# -- follow-up (gRPC) ------------------------------------------------------------------------


async def record_household_visit(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    household_id: str,
    *,
    visited_on: date,
    cadre_id: str,
    mode: str,
    note: str | None = None,
) -> tuple[VisitRow, list[str]]:
    """A cadre visited (走访): recorded, the open visit tasks are done, the next one is due."""
    _required("cadre_id", cadre_id)
    try:
        visit_mode = VisitMode(mode or VisitMode.IN_PERSON)
    except ValueError:
        raise InvalidInput("mode", f"one of {', '.join(m.value for m in VisitMode)}") from None
    plans, plan = await live_plan(uow, household_id)
    now = ctx.clock()
    try:
        record_visit(household_id, visited_on, cadre_id, visit_mode, now)
    except FollowUpError as err:
        raise InvalidInput.from_error(err, "visited_on") from err
    follow = FollowUpRepository(uow.session)
    row = VisitRow(
        household_id=household_id,
        plan_id=plan.plan_id,
        visited_on=visited_on,
        cadre_id=cadre_id.strip(),
        mode=visit_mode.value,
        note=mask_text(note) if note else None,
        recorded_at=now,
    )
    follow.add_visit(row)
    closed = []
    for task in await follow.open_tasks(plan.plan_id, domain.TaskKind.VISIT.value):
        _close_task(uow, ctx, plans.row(plan), task, DONE, now, f"visited:{visited_on}")
        closed.append(task.task_id)
    await uow.session.flush()
    _history(uow, plan, "visit_recorded", now, visited_on=visited_on.isoformat(), closed=closed)
    await _generate_tasks(uow, ctx, plans, plan, now)
    plans.row(plan).followup_checked_on = china_date(now)
    await _commit(uow, ctx, plans, plan, now)
    return row, closed


async def record_household_income(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    household_id: str,
    *,
    period_start: date,
    figures: Mapping[str, float],
    members: int,
    method: str,
    collected_by: str,
) -> IncomeRow:
    """One period's income (收入采集): stored, announced to screening, its task done."""
    _required("collected_by", collected_by)
    try:
        collection = CollectionMethod(method or CollectionMethod.IN_PERSON)
    except ValueError:
        allowed = ", ".join(m.value for m in CollectionMethod)
        raise InvalidInput("method", f"one of {allowed}") from None
    plans, plan = await live_plan(uow, household_id)
    now = ctx.clock()
    params = ctx.params_on(china_date(now))
    period = income_period(period_start, params)
    if period.start != period_start:
        raise InvalidInput(
            "period_start", f"not the first day of a collection period (that is {period.start})"
        )
    try:
        amounts = IncomeFigures(**{k: float(v) for k, v in figures.items()})
        recorded = record_income(
            household_id, period, amounts, members, collection, collected_by, now, params
        )
    except FollowUpError as err:
        raise InvalidInput.from_error(err, "period_start") from err
    follow = FollowUpRepository(uow.session)
    row = await follow.income(household_id, period.start)
    if row is None:
        row = IncomeRow(household_id=household_id, period_start=period.start, revision=0)
        follow.add_income(row)
    row.period_end = period.end
    row.plan_id = plan.plan_id
    row.members = recorded.members
    row.wage, row.business, row.property = recorded.wage, recorded.business, recorded.property
    row.transfer, row.production_costs = recorded.transfer, recorded.production_costs
    row.net = recorded.net
    row.method, row.collected_by = recorded.method, collected_by.strip()
    row.revision += 1
    row.recorded_at = now
    await uow.session.flush()
    uow.emit(*messages.income_recorded(ctx.county, plans.row(plan), row))
    task = await follow.task(f"income:{household_id}:{period.start.isoformat()}")
    if task is not None and task.status == OPEN:
        _close_task(uow, ctx, plans.row(plan), task, DONE, now, f"income_recorded:r{row.revision}")
    _history(uow, plan, "income_recorded", now, period=period.label, revision=row.revision)
    await _commit(uow, ctx, plans, plan, now)
    return row


# -- time passing (background sweep) ---------------------------------------------------------


async def tick_plan(uow: UnitOfWork, ctx: AssistanceContext, plan_id: str) -> Plan | None:
    """Let time pass for a plan: re-dispatch or escalate unanswered measures, starts, terms."""
    plans = PlanRepository(uow.session)
    plan = await plans.get(plan_id)
    if plan is None or plan.status is PlanStatus.STOPPED:
        return None
    now = ctx.clock()
    plan.tick(now, ctx.params_on(china_date(now)))
    await _commit(uow, ctx, plans, plan, now)
    return plan


async def generate_followup_tasks(
    uow: UnitOfWork, ctx: AssistanceContext, plan_id: str
) -> list[str]:
    """Announce the visit and income-collection tasks falling due up to the look-ahead."""
    plans = PlanRepository(uow.session)
    plan = await plans.get(plan_id)
    if plan is None or plan.status is PlanStatus.STOPPED:
        return []
    now = ctx.clock()
    created = await _generate_tasks(uow, ctx, plans, plan, now)
    # the plan itself is unchanged: mark the day without moving its version, so the daily
    # sweep never makes a cadre's command or a department reply retry
    plans_table = PlanRow.__table__
    await uow.session.execute(
        sa.update(plans_table)
        .where(plans_table.c.plan_id == plan.plan_id)
        .values(followup_checked_on=china_date(now))
    )
    return created


async def _generate_tasks(
    uow: UnitOfWork, ctx: AssistanceContext, plans: PlanRepository, plan: Plan, now: datetime
) -> list[str]:
    row = plans.row(plan)
    today = china_date(now)
    params = ctx.params_on(today)
    eliminated = plan.risk_eliminated_on
    subject = FollowUpSubject(
        household_id=plan.household.household_id,
        situation=HouseholdSituation.ELIMINATED if eliminated else HouseholdSituation.UNRESOLVED,
        situation_since=row.situation_since,
        contact_cadres=tuple(plan.contact_cadres),
        monitored_since=plan.identified_on,
        monitored_until=eliminated,
    )
    horizon = today + timedelta(days=ctx.task_lookahead_days)
    follow = FollowUpRepository(uow.session)
    visits = await follow.visit_days(subject.household_id)
    collected = [
        IncomePeriod(s, e) for s, e in await follow.collected_periods(subject.household_id)
    ]
    due = [
        *visit_tasks(subject, visits, row.situation_since, horizon, now, params),
        *income_collection_tasks(subject, collected, plan.identified_on, horizon, now, params),
    ]
    created = []
    for task in due:
        if await _add_task(
            uow,
            ctx,
            row,
            plan,
            now,
            task_id=task.task_id,
            kind=task.kind.value,
            due_on=task.due_on,
            period=(task.period_start, task.period_end),
        ):
            created.append(task.task_id)
    return created


# -- staging what happened -------------------------------------------------------------------


async def _commit(
    uow: UnitOfWork, ctx: AssistanceContext, plans: PlanRepository, plan: Plan, now: datetime
) -> None:
    """Turn the plan's domain events into outgoing messages and records, then save it."""
    row = plans.row(plan)
    follow = FollowUpRepository(uow.session)
    for event in plan.collect_events():
        match event:
            case domain.PlanCreated():
                uow.emit(*messages.plan_created(ctx.county, plan, row, event.violations, now))
                _history(uow, plan, "plan_created", now, violations=list(event.violations))
            case domain.TaskDue():  # plan_due: moot once the plan was confirmed at once
                if plan.status is PlanStatus.PROPOSED:
                    open_rules = plan.open_violations(
                        ctx.catalog, ctx.params_on(plan.identified_on)
                    )
                    await _add_task(
                        uow,
                        ctx,
                        row,
                        plan,
                        now,
                        task_id=event.task_id,
                        kind=event.kind.value,
                        due_on=event.due_on,
                        details={"violations": [v.name for v in open_rules]},
                    )
            case domain.PlanConfirmed():
                for task in await follow.open_tasks(plan.plan_id, domain.TaskKind.PLAN_DUE.value):
                    _close_task(uow, ctx, row, task, DONE, now, "plan_confirmed")
                _history(
                    uow, plan, "plan_confirmed", now, by=event.confirmed_by, waived=event.waived
                )
            case domain.MeasureDispatched():  # first dispatches and re-dispatches
                uow.emit(*messages.measure_dispatched(ctx.county, plan, row, event))
                _history(
                    uow, plan, "measure_dispatched", now, event.measure_id, attempt=event.attempt
                )
            case domain.MeasureOverdue():
                uow.emit(*messages.measure_overdue(ctx.county, plan, row, event, ctx.escalate_to))
                _history(
                    uow, plan, "measure_overdue", now, event.measure_id, attempts=event.attempts
                )
            case domain.MeasureStatusChanged():
                _history(
                    uow,
                    plan,
                    "measure_status_changed",
                    now,
                    event.measure_id,
                    reply_id=event.reply_id,
                    old=event.old_status.value,
                    new=event.new_status.value,
                    reason=event.reason,
                )
            case domain.ReplacementRequested():
                await _ask_replacement(uow, ctx, row, plan, event, now)
            case domain.ReplyIgnored():
                _history(
                    uow,
                    plan,
                    "reply_ignored",
                    now,
                    event.measure_id,
                    reply_id=event.reply_id,
                    reason=event.reason,
                )
            case domain.PlanAdjusted():
                params = ctx.params_on(china_date(now))
                if plan.status is PlanStatus.ACTIVE and not plan.open_violations(
                    ctx.catalog, params
                ):
                    for task in await follow.open_tasks(
                        plan.plan_id, domain.TaskKind.PLAN_DUE.value
                    ):
                        _close_task(uow, ctx, row, task, DONE, now, "plan_adjusted")
                _history(
                    uow,
                    plan,
                    "plan_adjusted",
                    now,
                    by=event.adjusted_by,
                    reason=event.reason,
                    added=list(event.added),
                    withdrawn=list(event.withdrawn),
                    violations=list(event.violations),
                )
            case domain.ContactCadreAssigned():
                _history(uow, plan, "contact_cadre_assigned", now, cadre_id=event.cadre_id)
            case domain.MeasureContinued():
                _history(
                    uow,
                    plan,
                    "measure_continued",
                    now,
                    event.measure_id,
                    until=event.until.isoformat() if event.until else None,
                )
            case _:
                _history(uow, plan, type(event).__name__, now)
    await _write_history(uow)
    await plans.save(plan, now)


async def _add_task(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    row: PlanRow,
    plan: Plan,
    now: datetime,
    *,
    task_id: str,
    kind: str,
    due_on: date,
    period: tuple[date | None, date | None] = (None, None),
    details: dict[str, Any] | None = None,
) -> bool:
    """Store a task for the plan's contact cadres and announce it once; False if known."""
    follow = FollowUpRepository(uow.session)
    if await follow.task(task_id) is not None:
        return False
    task = TaskRow(
        task_id=task_id,
        kind=kind,
        household_id=plan.household.household_id,
        plan_id=plan.plan_id,
        due_on=due_on,
        status=OPEN,
        assignees=list(plan.contact_cadres),
        period_start=period[0],
        period_end=period[1],
        details=details or {},
        created_at=now,
    )
    follow.add_task(task)
    await uow.session.flush()
    uow.emit(*messages.task_due(ctx.county, row, task, now))
    return True


async def _ask_replacement(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    row: PlanRow,
    plan: Plan,
    event: domain.ReplacementRequested,
    now: datetime,
) -> None:
    """A department refused: propose a replacement and ask the contact cadres to decide."""
    follow = FollowUpRepository(uow.session)
    if await follow.replacement(event.measure_id) is not None:
        return
    proposal = propose_replacement(plan, event.measure_id, ctx.catalog)
    follow.add_replacement(
        ReplacementRow(
            measure_id=event.measure_id,
            plan_id=plan.plan_id,
            household_id=plan.household.household_id,
            reason=mask_text(event.reason),
            proposed_key=proposal.measure_key,
            beneficiary=proposal.beneficiary,
            basis=list(proposal.basis),
            status=OPEN,
            proposed_at=now,
        )
    )
    today = china_date(now)
    details = {
        "measure_id": event.measure_id,
        "measure_key": event.measure_key,
        "dept": event.department.value,
        "reason": mask_text(event.reason),
        "proposed": proposal.measure_key,
    }
    # replacing a measure is a plan adjustment: due within the plan's own time limit
    await _add_task(
        uow,
        ctx,
        row,
        plan,
        now,
        task_id=_replacement_task_id(event.measure_id),
        kind=REPLACEMENT_TASK,
        due_on=today + timedelta(days=ctx.params_on(today).plan_due_days),
        details=details,
    )
    _history(
        uow,
        plan,
        "replacement_proposed",
        now,
        event.measure_id,
        proposed=proposal.measure_key,
        reason=mask_text(event.reason),
    )


def _replacement_task_id(measure_id: str) -> str:
    return f"replace:{measure_id}"


def _close_task(
    uow: UnitOfWork,
    ctx: AssistanceContext,
    row: PlanRow,
    task: TaskRow,
    status: str,
    at: datetime,
    reason: str,
) -> None:
    """Settle an open task and say so on `task.due` (`details.status`), so reminders stop."""
    task.status, task.closed_at, task.close_reason = status, at, reason[:64]
    uow.emit(*messages.task_due(ctx.county, row, task, at))


def _history(
    uow: UnitOfWork,
    plan: Plan,
    kind: str,
    at: datetime,
    measure_id: str | None = None,
    *,
    reply_id: str | None = None,
    case_id: str | None = None,
    **details: Any,
) -> None:
    """Note what happened; `_commit` writes the unit of work's notes in one statement."""
    uow.session.info.setdefault(_HISTORY, []).append(
        {
            "plan_id": plan.plan_id,
            "household_id": plan.household.household_id,
            "measure_id": measure_id,
            "kind": kind[:40],
            "reply_id": reply_id,
            "case_id": case_id,
            "at": at,
            "details": {k: v for k, v in details.items() if v is not None},
        }
    )


async def _write_history(uow: UnitOfWork) -> None:
    notes = uow.session.info.pop(_HISTORY, [])
    if notes:
        await uow.session.execute(sa.insert(HistoryRow), notes)


def _required(path: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidInput(path, "required")


def _check_spec(ctx: AssistanceContext, plan: Plan, spec: MeasureSpec, path: str) -> None:
    key_path = path if path.endswith("measure_key") else f"{path}.measure_key"
    if not ctx.catalog.has_sub_measure(spec.measure_key):
        raise InvalidInput(key_path, f"unknown measure {spec.measure_key!r}")
    if spec.beneficiary is not None:
        refs = [m.member_ref for m in plan.household.members]
        if spec.beneficiary not in refs:
            where = "beneficiary" if path == "measure_key" else f"{path}.beneficiary"
            raise InvalidInput(
                where, f"no member {spec.beneficiary!r} (members: {', '.join(refs)})"
            )
