"""Contract messages assistance emits: domain events and stored rows turned into CloudEvents."""

from __future__ import annotations

from datetime import datetime

from fangpin_assistance.adapters.orm import IncomeRow, PlanRow, TaskRow
from fangpin_assistance.domain import events as domain
from fangpin_assistance.domain.plan import Plan
from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import (
    IncomeRecorded,
    MeasureDispatched,
    MeasureOverdue,
    PlanCreated,
    PlanMeasure,
    Region,
    TaskDue,
)
from fangpin_contracts.subjects import subject

SOURCE = "fangpin/assistance"


def region_of(row: PlanRow) -> Region:
    return Region(county=row.county, town=row.town, village=row.village)


def dispatch_event_id(dispatch_id: str, attempt: int) -> str:
    """CloudEvents id of one dispatch attempt.

    Departments key on the payload's `dispatch_id`, the same on every attempt. The envelope id
    of a re-dispatch must differ, though: JetStream drops a repeated `Nats-Msg-Id` within the
    stream's duplicate window (and the outbox keeps ids unique), so a re-dispatch under the
    first id would never reach a department that lost the first one.
    """
    return dispatch_id if attempt <= 1 else f"{dispatch_id}.attempt-{attempt}"


def plan_created(
    county: str, plan: Plan, row: PlanRow, violations: tuple[str, ...], at: datetime
) -> tuple[str, CloudEvent]:
    """`plan.created` with the plan as it stands after creation (and confirmation, if any)."""
    payload = PlanCreated(
        plan_id=plan.plan_id,
        household_id=plan.household.household_id,
        region=region_of(row),
        case_id=row.case_id,
        due=plan.due_on,
        measures=[
            PlanMeasure(
                measure_id=m.measure_id,
                type=m.sub_measure.measure_type,
                sub_measure=m.sub_measure.code,
                dept=m.sub_measure.department.value,
                developmental=m.sub_measure.developmental,
                status=m.status.value,
                beneficiary=m.beneficiary,
            )
            for m in plan.measures
        ],
        violations=list(violations),
        status=plan.status.value,
        green_channel=plan.household.green_channel,
        contact_cadres=list(plan.contact_cadres),
    )
    return _envelope(county, "plan", "created", payload, plan, f"{plan.plan_id}.created", at)


def measure_dispatched(
    county: str, plan: Plan, row: PlanRow, event: domain.MeasureDispatched
) -> tuple[str, CloudEvent]:
    """`measure.dispatched.<dept>`: the measure, the household record and when to answer."""
    measure = plan.measure(event.measure_id)
    payload = MeasureDispatched(
        measure_id=event.measure_id,
        dispatch_id=event.dispatch_id,
        plan_id=plan.plan_id,
        household_id=plan.household.household_id,
        region=region_of(row),
        type=measure.sub_measure.measure_type,
        sub_measure=measure.sub_measure.code,
        dept=event.department.value,
        attempt=event.attempt,
        reply_due=event.reply_due_at,
        household=row.record,
        name_zh=measure.sub_measure.name_zh,
        beneficiary=event.beneficiary,
        term_kind=event.term_kind.value,
        case_id=row.case_id,
    )
    ev = new_event(
        domain="measure",
        event="dispatched",
        county=county,
        source=SOURCE,
        data=payload,
        subject=plan.household.household_id,
        event_id=dispatch_event_id(event.dispatch_id, event.attempt),
        time=event.occurred_at,
    )
    return subject(county, "measure", "dispatched", event.department.value), ev


def measure_overdue(
    county: str, plan: Plan, row: PlanRow, event: domain.MeasureOverdue, escalate_to: str
) -> tuple[str, CloudEvent]:
    """`measure.overdue`: every dispatch went unanswered; escalated."""
    measure = plan.measure(event.measure_id)
    payload = MeasureOverdue(
        measure_id=event.measure_id,
        dispatch_id=event.dispatch_id,
        household_id=plan.household.household_id,
        region=region_of(row),
        dept=event.department.value,
        attempts=event.attempts,
        escalate_to=escalate_to,
        plan_id=plan.plan_id,
        type=measure.sub_measure.measure_type,
        sub_measure=measure.sub_measure.code,
        first_dispatched_at=event.first_dispatched_at,
    )
    return _envelope(
        county,
        "measure",
        "overdue",
        payload,
        plan,
        f"{event.dispatch_id}.overdue",
        event.occurred_at,
    )


def task_due(county: str, row: PlanRow, task: TaskRow, at: datetime) -> tuple[str, CloudEvent]:
    """`task.due`: a follow-up duty for the household's contact cadres; id = task id.

    A settled task is announced again with `details.status` (`done` or `cancelled`) and the
    id `<task id>.<status>`, so notify stops its reminders.
    """
    details = {"plan_id": task.plan_id, "assignees": list(task.assignees), **task.details}
    if task.period_start and task.period_end:
        details["period_start"] = task.period_start.isoformat()
        details["period_end"] = task.period_end.isoformat()
    event_id = task.task_id
    if task.status != "open":
        details["status"] = task.status
        details["close_reason"] = task.close_reason
        event_id = f"{task.task_id}.{task.status}"
    payload = TaskDue(
        task_id=task.task_id,
        kind=task.kind,
        household_id=task.household_id,
        region=region_of(row),
        due=task.due_on,
        recipient_role="contact_cadre" if task.assignees else "township",
        details=details,
    )
    ev = new_event(
        domain="task",
        event="due",
        county=county,
        source=SOURCE,
        data=payload,
        subject=task.household_id,
        event_id=event_id,
        time=at,
    )
    return subject(county, "task", "due"), ev


def income_recorded(county: str, row: PlanRow, income: IncomeRow) -> tuple[str, CloudEvent]:
    """`followup.income_recorded`: one period's income, for screening's elimination check."""
    payload = IncomeRecorded(
        household_id=income.household_id,
        region=region_of(row),
        plan_id=income.plan_id,
        period_start=income.period_start,
        period_end=income.period_end,
        members=income.members,
        wage=income.wage,
        business=income.business,
        property=income.property,
        transfer=income.transfer,
        production_costs=income.production_costs,
        net=income.net,
        per_capita=round(income.net / income.members, 2),
        method=income.method,
        collected_by=income.collected_by,
        revision=income.revision,
        recorded_at=income.recorded_at,
    )
    event_id = f"income:{income.household_id}:{income.period_start.isoformat()}:r{income.revision}"
    ev = new_event(
        domain="followup",
        event="income_recorded",
        county=county,
        source=SOURCE,
        data=payload,
        subject=income.household_id,
        event_id=event_id,
        time=income.recorded_at,
    )
    return subject(county, "followup", "income_recorded"), ev


def _envelope(
    county: str,
    domain_name: str,
    event: str,
    payload: PlanCreated | MeasureOverdue,
    plan: Plan,
    event_id: str,
    at: datetime,
) -> tuple[str, CloudEvent]:
    ev = new_event(
        domain=domain_name,
        event=event,
        county=county,
        source=SOURCE,
        data=payload,
        subject=plan.household.household_id,
        event_id=event_id,
        time=at,
    )
    return subject(county, domain_name, event), ev
