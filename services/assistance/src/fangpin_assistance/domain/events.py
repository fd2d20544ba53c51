"""Domain events of assistance: plain frozen dataclasses the service layer turns into messages."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from fangpin_assistance.domain.codes import Department, MeasureStatus, ReplyKind, TermKind


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event; `household_id` is the CloudEvents subject."""

    household_id: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class MeasureView:
    """A measure as events describe it."""

    measure_id: str
    measure_key: str
    """`<type>.<sub>`, e.g. `finance.microcredit`."""
    department: Department
    beneficiary: str | None
    developmental: bool
    status: MeasureStatus


@dataclass(frozen=True, kw_only=True)
class PlanCreated(DomainEvent):
    """一户一策 proposed for a household (`plan.created`)."""

    plan_id: str
    county: str
    village: str
    due_on: date
    green_channel: bool
    measures: tuple[MeasureView, ...]
    violations: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PlanConfirmed(DomainEvent):
    """A cadre confirmed the plan; its measures go out to the departments."""

    plan_id: str
    confirmed_by: str
    waived: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PlanAdjusted(DomainEvent):
    """A cadre changed the plan's measures."""

    plan_id: str
    adjusted_by: str
    reason: str
    added: tuple[str, ...]
    withdrawn: tuple[str, ...]
    violations: tuple[str, ...]
    """Rule violations left open after the change (all of them waived)."""


@dataclass(frozen=True, kw_only=True)
class ContactCadreAssigned(DomainEvent):
    """A contact cadre (帮扶联系人) was assigned to the household."""

    plan_id: str
    cadre_id: str


@dataclass(frozen=True, kw_only=True)
class MeasureDispatched(DomainEvent):
    """A measure sent to its lead department (`measure.dispatched.<dept>`).

    `dispatch_id` is the CloudEvents id and stays the same on every re-dispatch.
    """

    dispatch_id: str
    plan_id: str
    measure_id: str
    measure_key: str
    department: Department
    beneficiary: str | None
    term_kind: TermKind
    attempt: int
    reply_due_at: datetime


@dataclass(frozen=True, kw_only=True)
class MeasureRedispatched(MeasureDispatched):
    """No answer in time: the same dispatch sent again under the same id."""


@dataclass(frozen=True, kw_only=True)
class MeasureOverdue(DomainEvent):
    """Every dispatch went unanswered: escalated (`measure.overdue`)."""

    dispatch_id: str
    plan_id: str
    measure_id: str
    measure_key: str
    department: Department
    attempts: int
    first_dispatched_at: datetime


@dataclass(frozen=True, kw_only=True)
class MeasureStatusChanged(DomainEvent):
    """A measure moved in its lifecycle."""

    plan_id: str
    measure_id: str
    measure_key: str
    old_status: MeasureStatus
    new_status: MeasureStatus
    reason: str | None = None
    reply_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReplacementRequested(DomainEvent):
    """A department rejected a measure: the cadre must choose a replacement."""

    plan_id: str
    measure_id: str
    measure_key: str
    department: Department
    reason: str


@dataclass(frozen=True, kw_only=True)
class MeasureContinued(DomainEvent):
    """After risk elimination a measure with a running term continues (until None = unknown)."""

    plan_id: str
    measure_id: str
    measure_key: str
    term_kind: TermKind
    until: date | None


@dataclass(frozen=True, kw_only=True)
class ReplyIgnored(DomainEvent):
    """A department reply recorded but not applied, with the reason."""

    reply_id: str
    measure_id: str
    department: str
    kind: ReplyKind
    reason: str


class TaskKind(StrEnum):
    """Kinds of due task handed to notify."""

    PLAN_DUE = "plan_due"
    VISIT = "visit"
    INCOME_COLLECTION = "income_collection"


@dataclass(frozen=True, kw_only=True)
class TaskDue(DomainEvent):
    """A follow-up duty falling due; `task_id` is stable, so re-emitting it is idempotent."""

    task_id: str
    kind: TaskKind
    due_on: date
    assignees: tuple[str, ...]
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True, kw_only=True)
class VisitRecorded(DomainEvent):
    """A cadre visit (走访) took place."""

    visited_on: date
    cadre_id: str
    mode: str


@dataclass(frozen=True, kw_only=True)
class IncomeRecorded(DomainEvent):
    """Income collected for one period; screening uses it for the elimination check."""

    period_start: date
    period_end: date
    members: int
    wage: float
    business: float
    property: float
    transfer: float
    production_costs: float
    net: float
    method: str
    collected_by: str
