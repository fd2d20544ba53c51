"""Payloads (`data`) of the bus events, one pydantic model per event type (CONTRACT section 4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WarningKind = Literal[
    "high_medical_expense",
    "new_dibao",
    "new_tekun",
    "temporary_relief",
    "dropout",
    "unsafe_housing",
    "water_outage",
    "unemployment",
    "new_disability",
    "disaster",
    "accident",
    "crop_failure",
    "price_collapse",
    "other",
]

Department = Literal[
    "civil_affairs",
    "medical_insurance",
    "health",
    "education",
    "housing",
    "water",
    "hrss",
    "disabled_persons",
    "emergency",
    "agriculture",
    "public_security",
    "finance",
    "commerce_federation",
    "development_reform",
    "transport",
    "other",
]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Region(Payload):
    county: str = Field(pattern=r"^[0-9]{6}$")
    town: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    village: str = Field(pattern=r"^[0-9]{12}$")


class Warning(Payload):
    """`fp.<county>.warning.<dept>`: a department's risk warning (部门筛查预警)."""

    model_config = ConfigDict(extra="allow")

    dept: Department
    kind: WarningKind
    household_id: str = Field(pattern=r"^[0-9A-Za-z-]{6,32}$")
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9X]$")
    observed_at: date
    amount: float | None = Field(default=None, ge=0)
    household: dict[str, Any] | None = None


class ClueAccepted(Payload):
    """`fp.<county>.clue.accepted`: a risk clue registered (风险线索), verification due set."""

    clue_id: str
    household_id: str
    region: Region
    source: str
    dept: str | None = None
    kind: str
    observed_at: date
    registered_at: datetime
    verification_due: date
    household: dict[str, Any]


class ScreeningDecided(Payload):
    """`fp.<county>.screening.decided`: a decision as in CONTRACT section 3."""

    decision_id: str
    clue_id: str | None = None
    household_id: str
    region: Region
    reason: Literal["clue", "rescreen", "request"] = "clue"
    decision: dict[str, Any]
    household: dict[str, Any]
    # Added by screening (optional, backward compatible): the household's risk elimination was
    # approved and this in-scope decision shows the risk returned (风险消除回退): approval
    # re-identifies it. `rollback_reasons` are the roll-back check's codes.
    rollback: bool = False
    rollback_reasons: list[str] = Field(default_factory=list)


class CaseEvent(Payload):
    """`fp.<county>.case.opened|advanced|decided|overdue`: identification or elimination case."""

    case_id: str
    kind: Literal["identification", "elimination"]
    household_id: str
    region: Region
    step: str
    status: str
    flow_version: str
    category: str | None = None
    risk_types: list[str] = Field(default_factory=list)
    excluded_by: list[str] = Field(default_factory=list)
    due: dict[str, date] = Field(default_factory=dict)
    outcome: str | None = None
    green_channel: bool = False
    reason: str | None = None
    actor: dict[str, Any] | None = None
    escalate_to: str | None = None
    household: dict[str, Any] | None = None
    # Added by approval (optional, backward compatible): what moved the case (`sign`,
    # `publish_notice`, `object`, `return`) and from which step, the elimination mode of an
    # elimination decision, the breached deadline of `case.overdue`, and the case version.
    action: str | None = None
    from_step: str | None = None
    elimination_mode: str | None = None
    deadline: str | None = None
    version: int | None = None


class PlanMeasure(Payload):
    measure_id: str
    type: str
    sub_measure: str | None = None
    dept: str
    developmental: bool = False
    status: str
    beneficiary: str | None = None  # member reference `m<n>` (n-th member of the record)


class PlanCreated(Payload):
    """`fp.<county>.plan.created`: household plan (一户一策)."""

    plan_id: str
    household_id: str
    region: Region
    case_id: str | None = None
    due: date
    measures: list[PlanMeasure]
    violations: list[str] = Field(default_factory=list)
    status: str = "proposed"  # `active` when confirmed at once (no rule violation)
    green_channel: bool = False
    contact_cadres: list[str] = Field(default_factory=list)


class MeasureDispatched(Payload):
    """`fp.<county>.measure.dispatched.<dept>`: a measure sent to its lead department."""

    measure_id: str
    dispatch_id: str
    plan_id: str
    household_id: str
    region: Region
    type: str
    sub_measure: str | None = None
    dept: str
    attempt: int = 1
    reply_due: datetime
    household: dict[str, Any] | None = None
    # additions (assistance): what a department system needs to act without a lookup
    name_zh: str | None = None
    beneficiary: str | None = None  # member reference `m<n>`: the n-th member of `household`
    term_kind: str | None = None  # none | contract_end | agreement_end | school_stage_end | ...
    case_id: str | None = None


class MeasureReply(Payload):
    """`fp.<county>.measure.accepted|completed|rejected`: a department's answer."""

    measure_id: str
    dispatch_id: str | None = None
    dept: str
    reason: str | None = None
    note: str | None = None
    started_on: date | None = None  # accepted: when delivery starts (default: on receipt)
    term_end: date | None = None  # accepted: contract or agreement end (合同/协议到期日)


class MeasureOverdue(Payload):
    """`fp.<county>.measure.overdue`: a department did not answer; escalated."""

    measure_id: str
    dispatch_id: str
    household_id: str
    region: Region
    dept: str
    attempts: int
    escalate_to: str
    plan_id: str | None = None
    type: str | None = None
    sub_measure: str | None = None
    first_dispatched_at: datetime | None = None


class TaskDue(Payload):
    """`fp.<county>.task.due`: a follow-up or deadline someone must act on."""

    task_id: str
    kind: str
    household_id: str | None = None
    region: Region | None = None
    due: date
    recipient_role: str | None = None
    dept: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class IncomeRecorded(Payload):
    """`fp.<county>.followup.income_recorded`: income of one collection period (收入采集).

    A correction of the same period comes with a higher `revision` (and a new event id).
    """

    household_id: str
    region: Region
    plan_id: str
    period_start: date
    period_end: date
    members: int = Field(ge=1)
    wage: float = Field(ge=0)
    business: float = Field(ge=0)
    property: float = Field(ge=0)
    transfer: float = Field(ge=0)
    production_costs: float = Field(ge=0)
    net: float
    per_capita: float
    method: str
    collected_by: str
    revision: int = Field(default=1, ge=1)
    recorded_at: datetime


class NoticeSent(Payload):
    """`fp.<county>.notice.sent`: a notification delivered."""

    notice_id: str
    kind: str
    recipient: str
    channel: str
    household_id: str | None = None
    source_event: str | None = None


class ScaleRiskAlert(Payload):
    """`fp.<county>.screening.scale_risk`: 规模性返贫 risk for a village."""

    alert_id: str
    village: str
    indicator: str
    value: float
    limit: float
    details: dict[str, Any] = Field(default_factory=dict)


class DeadLetter(Payload):
    """`fp.<county>.dlq.<service>`: a message a service could not process, with the reason."""

    service: str
    consumer: str
    original_subject: str
    original_headers: dict[str, str]
    original_data: str
    reason: str
    deliveries: int
    failed_at: datetime
