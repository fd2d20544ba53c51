"""Notify's use cases: events become notices and deadlines; subscriptions are kept."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.events import (
    CaseEvent,
    ClueAccepted,
    IncomeRecorded,
    MeasureDispatched,
    MeasureOverdue,
    PlanCreated,
    ScaleRiskAlert,
    ScreeningDecided,
    TaskDue,
)
from fangpin_kit.bus import PermanentError
from fangpin_kit.clock import china_date
from fangpin_kit.db import UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_notify.adapters.orm import (
    CaseProgressRow,
    DeadlineRow,
    MeasureDispatchRow,
    SubscriptionRow,
)
from fangpin_notify.adapters.repository import (
    CaseProgressRepository,
    DeadlineRepository,
    DispatchRepository,
    SubscriptionRepository,
    close_deadline,
)
from fangpin_notify.domain.kinds import ChannelKind, EventKind, Phase, Role
from fangpin_notify.domain.notices import event_dedupe_key
from fangpin_notify.domain.reminders import Deadline, InvalidDeadline
from fangpin_notify.domain.subscriptions import Endpoint, InvalidSubscription, Subscription
from fangpin_notify.domain.templates import TemplateError, render
from fangpin_notify.service_layer.context import NotifyContext, role_for
from fangpin_notify.service_layer.notifications import (
    Audience,
    Draft,
    Placement,
    decode_context,
    draft,
    encode_context,
    household_fields,
    place,
    recipients_for,
)

log = get_logger("fangpin.notify")

REMINDERS = "reminders"
ON_EXPIRY = "on_expiry"
EXPIRED_SUFFIX = "expired"

# Whose signature each step of the procedure awaits (approval's flow definitions).
STEP_ROLE: Mapping[str, Role] = {
    "application": Role.VILLAGE_CADRE,
    "nomination": Role.VILLAGE_CADRE,
    "verification": Role.VILLAGE_CADRE,
    "village_appraisal": Role.VILLAGE_CADRE,
    "town_review": Role.TOWN_REVIEWER,
    "county_approval": Role.COUNTY_BUREAU,
    "system_entry": Role.COUNTY_BUREAU,  # 录入全国系统 after approval (a deadline, not a step)
}
# Which of the case's due dates the awaited step must meet: the household visit is due
# within N working days of the clue, every later step by the clue-to-approval limit.
STEP_DUE: Mapping[str, str] = {
    "application": "verification",
    "nomination": "verification",
    "verification": "verification",
    "village_appraisal": "approval",
    "town_review": "approval",
    "county_approval": "approval",
}
NOTICE_STEP = "village_appraisal"
NOTICE_ROLES = frozenset({Role.VILLAGE_CADRE, Role.TOWN_REVIEWER})
DECISION_ROLES = frozenset({Role.VILLAGE_CADRE, Role.TOWN_REVIEWER})
ALERT_ROLES = frozenset({Role.COUNTY_BUREAU, Role.TOWN_REVIEWER})
# A task re-emitted with one of these `details.status` values is settled: no more reminders.
CLOSED_TASK_STATES = frozenset({"done", "completed", "cancelled", "canceled", "closed"})
_OVERDUE_REASON = re.compile(r"^(?P<deadline>[a-z_]+) (?:was )?due (?P<due>\d{4}-\d{2}-\d{2})")


def _event_name(event: CloudEvent) -> str:
    """`opened` for `cn.fangpin.case.opened.v1`."""
    parts = event.type.split(".")
    return parts[3] if len(parts) > 4 else ""


async def _notify(
    uow: UnitOfWork,
    ctx: NotifyContext,
    kind: EventKind,
    context: Mapping[str, Any],
    audience: Audience,
    event: CloudEvent,
    *,
    household_id: str | None,
    urgent: bool = False,
    key: str | None = None,
    phase: Phase | None = None,
    suffix: str = "",
    deadline_key: str | None = None,
) -> Placement:
    """One notice per recipient the audience reaches, once per event; or once per
    `<key>|<recipient>|<phase or suffix>` when the same fact may arrive in several events."""
    drafts: list[Draft] = []
    for recipient in await recipients_for(uow, ctx, kind, audience):
        dedupe = (
            f"{key}|{recipient.recipient_id}|{phase.value if phase else suffix}"
            if key
            else event_dedupe_key(event.id, recipient.recipient_id)
        )
        try:
            drafts.append(
                draft(
                    ctx,
                    kind,
                    context,
                    recipient,
                    dedupe,
                    phase=phase,
                    urgent=urgent,
                    household_id=household_id,
                    source_event=event.id,
                    deadline_key=deadline_key,
                )
            )
        except TemplateError as err:
            raise PermanentError(str(err)) from err
    return await place(uow, ctx, drafts)


def _check_renders(
    ctx: NotifyContext,
    kind: EventKind,
    escalation_kind: EventKind | None,
    context: Mapping[str, Any],
    roles: Collection[Role],
) -> None:
    """Fail at the event, not in a later sweep, when the reminders could not be rendered."""
    sample = {**context, "days_left": 1, "days_overdue": 1}
    try:
        render(ctx.catalog, kind, sample, roles=roles, phase=Phase.BEFORE)
        render(ctx.catalog, escalation_kind or kind, sample, roles=roles, phase=Phase.ESCALATION)
    except TemplateError as err:
        raise PermanentError(str(err)) from err


async def open_deadline(
    uow: UnitOfWork,
    ctx: NotifyContext,
    *,
    key: str,
    ref: str,
    kind: EventKind,
    due: date,
    region: str,
    roles: Collection[Role],
    escalation_roles: Collection[Role] = (),
    escalation_kind: EventKind | None = None,
    mode: str = REMINDERS,
    household_id: str | None = None,
    dept: str | None = None,
    contact_cadres: Sequence[str] = (),
    context: Mapping[str, Any],
    source_event: str,
    reopen: bool = False,
) -> DeadlineRow:
    """Record a deadline to sweep, once: the same key again leaves the first one as it is,
    except that `reopen` opens it again when it was closed (a case returned to a step)."""
    try:
        Deadline(key=key, kind=kind, due=due, recipients=(), escalation_kind=escalation_kind)
    except InvalidDeadline as err:
        raise PermanentError(str(err)) from err
    deadlines = DeadlineRepository(uow.session)
    row = await deadlines.get(key)
    if row is not None:
        if reopen and row.status != "open":
            row.status, row.closed_reason, row.closed_at = "open", None, None
            row.source_event, row.updated_at = source_event, ctx.clock()
        return row
    if mode == REMINDERS:
        _check_renders(ctx, kind, escalation_kind, {**context, "due_date": due}, roles)
    now = ctx.clock()
    row = DeadlineRow(
        key=key,
        ref=ref,
        mode=mode,
        kind=kind.value,
        escalation_kind=escalation_kind.value if escalation_kind else None,
        due=due,
        region=region,
        household_id=household_id,
        dept=dept,
        roles=sorted(r.value for r in roles),
        escalation_roles=sorted(r.value for r in escalation_roles),
        contact_cadres=list(dict.fromkeys(contact_cadres)),
        context=encode_context(context),
        status="open",
        source_event=source_event,
        created_at=now,
        updated_at=now,
    )
    deadlines.add(row)
    await uow.session.flush()
    return row


async def close_deadlines(
    uow: UnitOfWork,
    ctx: NotifyContext,
    reason: str,
    *,
    ref: str = "",
    household_id: str = "",
    ref_prefix: str = "",
    keep: Collection[str] = (),
) -> list[str]:
    """Close the open deadlines the event settles; returns their keys."""
    now = ctx.clock()
    closed = []
    rows = await DeadlineRepository(uow.session).open_for(
        ref, household_id=household_id, ref_prefix=ref_prefix
    )
    for row in rows:
        if row.key in keep:
            continue
        close_deadline(row, reason, now)
        closed.append(row.key)
    return closed


# --------------------------------------------------------------------------- clues


async def on_clue_accepted(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """A risk clue (风险线索): the village cadres must visit the household by the due date."""
    clue = ClueAccepted.model_validate(event.data)
    village = clue.region.village
    context = {
        "household_id": clue.household_id,
        "due_date": clue.verification_due,
        "source": clue.source,
        "village": village,
        **household_fields(clue.household),
    }
    audience = Audience(village, frozenset({Role.VILLAGE_CADRE}))
    await _notify(
        uow,
        ctx,
        EventKind.CLUE_VERIFICATION_DUE,
        context,
        audience,
        event,
        household_id=clue.household_id,
    )
    day = china_date(ctx.clock())
    await open_deadline(
        uow,
        ctx,
        key=f"clue:{clue.clue_id}:{clue.verification_due.isoformat()}",
        ref=f"clue:{clue.clue_id}",
        kind=EventKind.CLUE_VERIFICATION_DUE,
        due=clue.verification_due,
        region=village,
        roles=[Role.VILLAGE_CADRE],
        escalation_roles=[ctx.escalate(Role.VILLAGE_CADRE, day)],
        household_id=clue.household_id,
        context=context,
        source_event=event.id,
    )


async def on_screening_decided(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """A clue found not in scope needs no visit any more (in scope, the case takes over)."""
    decided = ScreeningDecided.model_validate(event.data)
    if decided.clue_id and decided.decision.get("in_scope") is False:
        await close_deadlines(uow, ctx, "screening: not in scope", ref=f"clue:{decided.clue_id}")


# --------------------------------------------------------------------------- cases


def _case_context(case: CaseEvent) -> dict[str, Any]:
    context: dict[str, Any] = {
        "case_id": case.case_id,
        "step": case.step,
        "procedure": case.kind,
        "household_id": case.household_id,
        "village": case.region.village,
        "category": case.category,
        "risk_types": list(case.risk_types),
        **household_fields(case.household),
    }
    return {k: v for k, v in context.items() if v not in (None, [], "")}


def _step_due(case: CaseEvent) -> date:
    name = STEP_DUE.get(case.step, "approval")
    due = case.due.get(name) or case.due.get("approval") or case.due.get("verification")
    if due is None:
        raise PermanentError(f"due: the {case.step} step of case {case.case_id} has no due date")
    return due


def _case_deadline_key(case_id: str, step: str, due: date) -> str:
    return f"case:{case_id}:{step}:{due.isoformat()}"


async def _track_case(
    uow: UnitOfWork, case: CaseEvent, event: CloudEvent, *, decided: bool
) -> bool:
    """Remember the case's latest step; False when this event is older than one already seen,
    or would reopen a decided case."""
    progress = CaseProgressRepository(uow.session)
    row = await progress.get(case.case_id)
    if row is not None and (row.last_event_at > event.time or (row.decided and not decided)):
        return False
    if row is None:
        row = CaseProgressRow(
            case_id=case.case_id,
            household_id=case.household_id,
            step=case.step,
            status=case.status,
            decided=decided,
            last_event_at=event.time,
            last_event_id=event.id,
        )
        progress.add(row)
    else:
        row.step = case.step
        row.status = case.status
        row.decided = row.decided or decided
        row.last_event_at = event.time
        row.last_event_id = event.id
    return True


async def _is_stale(uow: UnitOfWork, case: CaseEvent, event: CloudEvent) -> bool:
    """An overdue report older than the case's latest step change is about a settled step."""
    row = await CaseProgressRepository(uow.session).get(case.case_id)
    return row is not None and row.last_event_at > event.time


async def on_case_event(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """`case.opened|advanced|decided|overdue` of the identification or elimination procedure."""
    case = CaseEvent.model_validate(event.data)
    name = _event_name(event)
    if name == "overdue":
        await on_case_overdue(uow, ctx, case, event)
        return
    if name not in {"opened", "advanced", "decided"}:
        raise PermanentError(f"type: {event.type} is not a case event notify handles")
    decided = name == "decided"
    if not await _track_case(uow, case, event, decided=decided):
        log.info("stale case event ignored", case_id=case.case_id, event_type=event.type)
        return
    if decided:
        await on_case_decided(uow, ctx, case, event)
    elif case.status != "open":
        await close_deadlines(uow, ctx, f"case {case.status}", ref=f"case:{case.case_id}")
    else:
        await on_step_awaited(uow, ctx, case, event)


async def on_step_awaited(
    uow: UnitOfWork, ctx: NotifyContext, case: CaseEvent, event: CloudEvent
) -> None:
    """The step now awaited needs its signer (待签批), by the step's due date; the village
    public notice (公示) is announced when it starts and again when it has run."""
    role = STEP_ROLE.get(case.step)
    if role is None:
        raise PermanentError(f"step: {case.step!r} is not a step of the procedure")
    due = _step_due(case)
    key = _case_deadline_key(case.case_id, case.step, due)
    village = case.region.village
    context = {**_case_context(case), "due_date": due}
    known = await DeadlineRepository(uow.session).get(key)
    announced = known is not None and known.status == "open"
    keep = {key}
    notice_end = case.due.get("notice_last_day") if case.step == NOTICE_STEP else None
    if notice_end is not None:
        keep.add(f"notice:{case.case_id}:{notice_end.isoformat()}")
    await close_deadlines(uow, ctx, f"case at {case.step}", ref=f"case:{case.case_id}", keep=keep)
    await close_deadlines(
        uow,
        ctx,
        f"case {case.case_id} opened",
        ref_prefix="clue:",
        household_id=case.household_id,
    )
    if not announced:  # e.g. the public notice published at the same step: said already
        audience = Audience(village, frozenset({role}))
        await _notify(
            uow,
            ctx,
            EventKind.SIGNATURE_AWAITED,
            context,
            audience,
            event,
            household_id=case.household_id,
        )
    day = china_date(ctx.clock())
    await open_deadline(
        uow,
        ctx,
        key=key,
        ref=f"case:{case.case_id}",
        kind=EventKind.SIGNATURE_AWAITED,
        escalation_kind=EventKind.CASE_OVERDUE,
        due=due,
        region=village,
        roles=[role],
        escalation_roles=[ctx.escalate(role, day)],
        household_id=case.household_id,
        context=context,
        source_event=event.id,
        reopen=True,
    )
    if notice_end is not None:
        await _notice_started(uow, ctx, case, event, notice_end)


async def _notice_started(
    uow: UnitOfWork, ctx: NotifyContext, case: CaseEvent, event: CloudEvent, notice_end: date
) -> None:
    notice_start = case.due.get("notice_start") or china_date(event.time)
    key = f"notice:{case.case_id}:{notice_end.isoformat()}"
    context = {
        **_case_context(case),
        "notice_start": notice_start,
        "notice_end": notice_end,
        "next_step": "town_review",
    }
    audience = Audience(case.region.village, NOTICE_ROLES)
    await _notify(
        uow,
        ctx,
        EventKind.NOTICE_PERIOD_STARTED,
        context,
        audience,
        event,
        household_id=case.household_id,
        key=key,
        suffix="started",
    )
    await open_deadline(
        uow,
        ctx,
        key=key,
        ref=f"case:{case.case_id}",
        kind=EventKind.NOTICE_PERIOD_ENDED,
        mode=ON_EXPIRY,
        due=notice_end,
        region=case.region.village,
        roles=NOTICE_ROLES,
        household_id=case.household_id,
        context=context,
        source_event=event.id,
    )


async def on_case_decided(
    uow: UnitOfWork, ctx: NotifyContext, case: CaseEvent, event: CloudEvent
) -> None:
    """The decision reaches the village and the town; the case's deadlines are settled."""
    outcome = case.outcome or case.status
    await close_deadlines(uow, ctx, f"case decided: {outcome}", ref=f"case:{case.case_id}")
    context: dict[str, Any] = {**_case_context(case), "outcome": outcome}
    if case.reason:
        context["reason"] = case.reason
    if case.due.get("plan"):
        context["plan_due"] = case.due["plan"]
    audience = Audience(case.region.village, DECISION_ROLES)
    await _notify(
        uow,
        ctx,
        EventKind.CASE_DECIDED,
        context,
        audience,
        event,
        household_id=case.household_id,
    )


def _breach(case: CaseEvent) -> tuple[str, date]:
    """The matter late and its due date: system entry is its own matter, a step's time limit
    belongs to the step awaited. From `deadline` and `due`, else the reason's words."""
    deadline = case.deadline
    due = case.due.get(deadline) if deadline else None
    if due is None:
        match = _OVERDUE_REASON.match(case.reason or "")
        if match:
            deadline, due = match["deadline"], date.fromisoformat(match["due"])
    if due is None:
        due = _step_due(case)
    return ("system_entry" if deadline == "system_entry" else case.step), due


async def on_case_overdue(
    uow: UnitOfWork, ctx: NotifyContext, case: CaseEvent, event: CloudEvent
) -> None:
    """逾期督办: approval found a time limit breached. The escalation goes to the step's signer
    and the level above under the deadline's own reminder keys, so the sweep never repeats it."""
    if await _is_stale(uow, case, event):
        log.info("stale overdue event ignored", case_id=case.case_id)
        return
    if not case.escalate_to:
        raise PermanentError("escalate_to: required on case.overdue")
    try:
        above = role_for(case.escalate_to)
    except ValueError as err:
        raise PermanentError(f"escalate_to: {case.escalate_to!r} is not a level or role") from err
    step, due = _breach(case)
    key = _case_deadline_key(case.case_id, step, due)
    signer = STEP_ROLE.get(step)
    roles = frozenset({above} | ({signer} if signer else set()))
    context = {**_case_context(case), "step": step, "due_date": due}
    row = await open_deadline(
        uow,
        ctx,
        key=key,
        ref=f"case:{case.case_id}",
        kind=EventKind.SIGNATURE_AWAITED,
        escalation_kind=EventKind.CASE_OVERDUE,
        due=due,
        region=case.region.village,
        roles=[signer] if signer else [above],
        escalation_roles=[above],
        household_id=case.household_id,
        context=context,
        source_event=event.id,
    )
    if above.value not in row.escalation_roles:
        row.escalation_roles = sorted({*row.escalation_roles, above.value})
    progress = await CaseProgressRepository(uow.session).get(case.case_id)
    if progress is not None and progress.decided and row.status == "open":
        # after the decision (system entry) no event settles it: the escalation is the last word
        close_deadline(row, "escalated after the decision", ctx.clock())
    today = china_date(ctx.clock())
    context["days_overdue"] = max((today - due).days, 0)
    audience = Audience(case.region.village, roles, escalation=True)
    await _notify(
        uow,
        ctx,
        EventKind.CASE_OVERDUE,
        context,
        audience,
        event,
        household_id=case.household_id,
        urgent=True,
        key=key,
        phase=Phase.ESCALATION,
        deadline_key=key,
    )


# --------------------------------------------------------------------------- assistance


async def on_plan_created(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """一户一策: the village cadres confirm the plan with the household and carry it out."""
    plan = PlanCreated.model_validate(event.data)
    cadres = tuple(plan.contact_cadres)
    context: dict[str, Any] = {
        "plan_id": plan.plan_id,
        "household_id": plan.household_id,
        "due_date": plan.due,
        "village": plan.region.village,
        "measure_types": list(dict.fromkeys(m.type for m in plan.measures)),
        "violations": list(plan.violations),
    }
    roles = {Role.VILLAGE_CADRE} | ({Role.CONTACT_CADRE} if cadres else set())
    audience = Audience(plan.region.village, frozenset(roles), contact_cadres=cadres)
    await _notify(
        uow,
        ctx,
        EventKind.PLAN_CREATED,
        context,
        audience,
        event,
        household_id=plan.household_id,
    )


async def on_measure_dispatched(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """A measure sent to its lead department: that department's duty contact must answer."""
    measure = MeasureDispatched.model_validate(event.data)
    reply_due = china_date(measure.reply_due)
    context: dict[str, Any] = {
        "measure_id": measure.measure_id,
        "measure_type": measure.type,
        "dept": measure.dept,
        "due_date": reply_due,
        "household_id": measure.household_id,
        "village": measure.region.village,
        "attempt": measure.attempt,
        **household_fields(measure.household),
    }
    if measure.sub_measure:
        context["measure_summary"] = measure.sub_measure
    await DispatchRepository(uow.session).save(
        MeasureDispatchRow(
            dispatch_id=measure.dispatch_id,
            measure_id=measure.measure_id,
            plan_id=measure.plan_id,
            household_id=measure.household_id,
            region=measure.region.village,
            type=measure.type,
            sub_measure=measure.sub_measure,
            dept=measure.dept,
            attempt=measure.attempt,
            reply_due=measure.reply_due,
            context=encode_context(context),
            updated_at=ctx.clock(),
        )
    )
    audience = Audience(measure.region.village, frozenset({Role.DEPT_DUTY}), dept=measure.dept)
    await _notify(
        uow,
        ctx,
        EventKind.MEASURE_DISPATCHED,
        context,
        audience,
        event,
        household_id=measure.household_id,
    )


async def on_measure_overdue(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """A department left a measure unanswered: its duty contact and the level above hear."""
    overdue = MeasureOverdue.model_validate(event.data)
    try:
        above = role_for(overdue.escalate_to)
    except ValueError as err:
        raise PermanentError(
            f"escalate_to: {overdue.escalate_to!r} is not a level or role"
        ) from err
    dispatches = DispatchRepository(uow.session)
    dispatch = await dispatches.get(overdue.dispatch_id) or await dispatches.latest_for_measure(
        overdue.measure_id
    )
    today = china_date(ctx.clock())
    due = china_date(dispatch.reply_due) if dispatch else china_date(event.time)
    context: dict[str, Any] = {
        **(decode_context(dispatch.context) if dispatch else {}),
        "measure_id": overdue.measure_id,
        "measure_type": overdue.type or (dispatch.type if dispatch else overdue.measure_id),
        "dept": overdue.dept,
        "due_date": due,
        "attempts": overdue.attempts,
        "days_overdue": max((today - due).days, 0),
        "household_id": overdue.household_id,
        "village": overdue.region.village,
    }
    context.pop("attempt", None)
    roles = frozenset({Role.DEPT_DUTY, above})
    audience = Audience(overdue.region.village, roles, dept=overdue.dept, escalation=True)
    await _notify(
        uow,
        ctx,
        EventKind.MEASURE_OVERDUE,
        context,
        audience,
        event,
        household_id=overdue.household_id,
        urgent=True,
    )


def _assignees(details: Mapping[str, Any]) -> tuple[str, ...]:
    raw = details.get("assignees") or details.get("contact_cadres") or ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise PermanentError("details.assignees: expected a list of cadre ids")
    return tuple(str(a) for a in raw if str(a).strip())


def _quarter(details: Mapping[str, Any]) -> str | None:
    """`2024Q2` for a period that is a calendar quarter, else `start..end`."""
    if details.get("quarter"):
        return str(details["quarter"])
    start, end = details.get("period_start"), details.get("period_end")
    if not start:
        return None
    try:
        first = date.fromisoformat(str(start))
        last = date.fromisoformat(str(end)) if end else None
    except ValueError as err:
        raise PermanentError(f"details.period_start: not YYYY-MM-DD ({err})") from err
    if (
        first.day == 1
        and first.month in (1, 4, 7, 10)
        and (last is None or last.month == first.month + 2)
    ):
        return f"{first.year}Q{(first.month - 1) // 3 + 1}"
    return f"{first.isoformat()}..{last.isoformat() if last else ''}"


def _task_route(task: TaskDue, cadres: tuple[str, ...]) -> tuple[EventKind, frozenset[Role]]:
    """The template and the roles a due task is for (the task's own `recipient_role` wins)."""
    explicit: Role | None = None
    if task.recipient_role:
        try:
            explicit = role_for(task.recipient_role)
        except ValueError as err:
            raise PermanentError(
                f"recipient_role: {task.recipient_role!r} is not a role or level"
            ) from err
    if task.kind == "visit":
        return EventKind.VISIT_DUE, frozenset({explicit or Role.CONTACT_CADRE})
    if task.kind == "income_collection":
        if explicit:
            return EventKind.INCOME_COLLECTION_DUE, frozenset({explicit})
        roles = {Role.VILLAGE_CADRE} | ({Role.CONTACT_CADRE} if cadres else set())
        return EventKind.INCOME_COLLECTION_DUE, frozenset(roles)
    if explicit:
        return EventKind.TASK_DUE, frozenset({explicit})
    if task.dept:
        return EventKind.TASK_DUE, frozenset({Role.DEPT_DUTY})
    if cadres:
        return EventKind.TASK_DUE, frozenset({Role.CONTACT_CADRE})
    if task.region is not None:
        return EventKind.TASK_DUE, frozenset({Role.VILLAGE_CADRE})
    return EventKind.TASK_DUE, frozenset({Role.COUNTY_BUREAU})


async def on_task_due(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """A follow-up or deadline someone must act on becomes reminders and an escalation.

    The same task re-emitted with another due date replaces the first; with
    `details.status` done/cancelled it is settled and its reminders stop.
    """
    task = TaskDue.model_validate(event.data)
    if "|" in task.task_id:
        raise PermanentError("task_id: must not contain '|'")
    ref = f"task:{task.task_id}"
    status = str(task.details.get("status", "")).lower()
    if status in CLOSED_TASK_STATES:
        await close_deadlines(uow, ctx, f"task {status}", ref=ref)
        return
    cadres = _assignees(task.details)
    kind, roles = _task_route(task, cadres)
    region = task.region.village if task.region else ctx.county
    context: dict[str, Any] = {
        "task": task.kind,
        "due_date": task.due,
        "household_id": task.household_id,
        "village": task.region.village if task.region else None,
        "dept": task.dept,
        "remark": task.details.get("remark") or task.details.get("note"),
        "quarter": _quarter(task.details),
        "household_count": task.details.get("household_count"),
        "visit_cycle": task.details.get("visit_cycle"),
        "period_start": task.details.get("period_start"),
    }
    context = {k: v for k, v in context.items() if v not in (None, "")}
    if kind is EventKind.INCOME_COLLECTION_DUE and "quarter" not in context:
        raise PermanentError("details.period_start: an income collection names its period")
    key = f"{ref}:{task.due.isoformat()}"
    await close_deadlines(uow, ctx, "task due date moved", ref=ref, keep={key})
    day = china_date(ctx.clock())
    await open_deadline(
        uow,
        ctx,
        key=key,
        ref=ref,
        kind=kind,
        due=task.due,
        region=region,
        roles=roles,
        escalation_roles={ctx.escalate(role, day) for role in roles},
        household_id=task.household_id,
        dept=task.dept,
        contact_cadres=cadres,
        context=context,
        source_event=event.id,
    )


async def on_income_recorded(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """Income collected for a period: that period's collection task is done."""
    income = IncomeRecorded.model_validate(event.data)
    rows = await DeadlineRepository(uow.session).open_for(
        household_id=income.household_id, ref_prefix="task:"
    )
    now = ctx.clock()
    for row in rows:
        if (
            row.kind == EventKind.INCOME_COLLECTION_DUE.value
            and row.context.get("period_start") == income.period_start.isoformat()
        ):
            close_deadline(row, "income recorded", now)


# --------------------------------------------------------------------------- screening


async def on_scale_risk(uow: UnitOfWork, ctx: NotifyContext, event: CloudEvent) -> None:
    """规模性返贫风险: the county bureau and the town must assess and respond at once."""
    alert = ScaleRiskAlert.model_validate(event.data)
    region = alert.village
    if not region.isdigit() or len(region) not in {6, 9, 12}:
        raise PermanentError(f"village: {region!r} is not a 6, 9 or 12 digit region code")
    roles = ALERT_ROLES if len(region) >= 9 else frozenset({Role.COUNTY_BUREAU})
    context = {
        "region_name": alert.details.get("region_name") or region,
        "indicator": alert.indicator,
        "value": alert.value,
        "limit": alert.limit,
        "alert_summary": alert.details.get("summary"),
    }
    await _notify(
        uow,
        ctx,
        EventKind.SCALE_RISK_ALERT,
        context,
        Audience(region, roles),
        event,
        household_id=None,
        urgent=True,
    )


# --------------------------------------------------------------------------- subscriptions


async def subscribe(
    uow: UnitOfWork,
    ctx: NotifyContext,
    *,
    recipient_id: str,
    role: str,
    region: str,
    channel: str = ChannelKind.LOG.value,
    address: str = "",
    dept: str = "",
    event_kinds: Sequence[str] = (),
    locale: str = "",
) -> SubscriptionRow:
    """Keep (or update) a subscription; InvalidSubscription names the field otherwise."""
    try:
        role_value = Role(role)
    except ValueError:
        raise InvalidSubscription(
            f"role: {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    try:
        channel_value = ChannelKind(channel or ChannelKind.LOG.value)
    except ValueError:
        raise InvalidSubscription(
            f"channel: {channel!r} is not one of {', '.join(c.value for c in ChannelKind)}"
        ) from None
    if channel_value not in ctx.enabled_channels:
        enabled = ", ".join(sorted(c.value for c in ctx.enabled_channels))
        raise InvalidSubscription(
            f"channel: {channel_value} is not configured on this notify (enabled: {enabled})"
        )
    kinds = set()
    for kind in event_kinds:
        try:
            kinds.add(EventKind(kind))
        except ValueError:
            raise InvalidSubscription(f"event_kinds: {kind!r} is not a notice kind") from None
    sub = Subscription(
        recipient_id=recipient_id.strip(),
        role=role_value,
        region=region,
        endpoint=Endpoint(channel_value, address.strip()),
        event_kinds=frozenset(kinds),
        dept=dept or None,
        locale=locale or ctx.default_locale,
    )
    return await SubscriptionRepository(uow.session).save(sub, ctx.clock())


async def unsubscribe(
    uow: UnitOfWork, ctx: NotifyContext, *, subscription_id: str = "", recipient_id: str = ""
) -> int:
    """Deactivate one subscription, or every subscription of a recipient; returns how many."""
    if not subscription_id and not recipient_id:
        raise InvalidSubscription("subscription_id: give it or recipient_id")
    return await SubscriptionRepository(uow.session).deactivate(
        ctx.clock(), subscription_id=subscription_id, recipient_id=recipient_id
    )
