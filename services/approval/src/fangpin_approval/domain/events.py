"""Domain events of the approval service; the service layer maps them to contract events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from fangpin_approval.domain.actors import Level
from fangpin_approval.domain.codes import Category, EliminationMode, RegisterStatus, RiskType
from fangpin_approval.domain.deadlines import Deadline, DueDates
from fangpin_approval.domain.procedure import FlowKind, Step


class Outcome(StrEnum):
    """What a `CaseDecided` decided."""

    APPROVED = "approved"  # county approval signed: registered or eliminated
    REJECTED = "rejected"  # refused at a step
    WITHDRAWN = "withdrawn"  # withdrawn by the household or the nominating village
    GREEN_CHANNEL_ENTERED = "green_channel_entered"  # 绿色通道: registered, assistance starts now
    GREEN_CHANNEL_EXITED = "green_channel_exited"  # month over: channel left, assistance stops


@dataclass(frozen=True)
class CaseOpened:
    """A case opened (case.opened)."""

    case_id: str
    household_id: str
    kind: FlowKind
    region: str
    flow_version: str
    ruleset: str
    step: Step
    clue_on: dt.date
    opened_at: dt.datetime
    due: DueDates


@dataclass(frozen=True)
class CaseAdvanced:
    """A case moved between steps: signed forward, sent back by an objection, or returned."""

    case_id: str
    household_id: str
    kind: FlowKind
    action: str
    from_step: Step
    to_step: Step
    actor_id: str
    actor_level: Level
    at: dt.datetime
    version: int
    due: DueDates


@dataclass(frozen=True)
class NoticePublished:
    """The village public notice (公示) of a case started."""

    case_id: str
    household_id: str
    kind: FlowKind
    village: str
    published_on: dt.date
    last_day: dt.date


@dataclass(frozen=True)
class CaseDecided:
    """A decision on a case (case.decided).

    `green_channel` is true when the household is or was assisted through the green channel
    at the time of the decision; assistance then already runs (entered, approved) or must
    stop (exited, rejected, withdrawn). `reason` says why for every outcome but approval.
    """

    case_id: str
    household_id: str
    kind: FlowKind
    region: str
    outcome: Outcome
    green_channel: bool
    reason: str | None
    decided_at: dt.datetime
    category: Category | None
    risk_types: tuple[RiskType, ...]
    elimination_mode: EliminationMode | None
    due: DueDates


@dataclass(frozen=True)
class CaseOverdue:
    """A time limit was breached (case.overdue); emitted once per `breach_key`."""

    case_id: str
    household_id: str
    kind: FlowKind
    region: str
    deadline: Deadline
    due_on: dt.date
    breach_key: str
    step: Step
    responsible_level: Level
    escalate_to: Level
    detected_at: dt.datetime


@dataclass(frozen=True)
class HouseholdStatusChanged:
    """A household's status in the register of monitored households changed."""

    household_id: str
    region: str
    from_status: RegisterStatus | None
    to_status: RegisterStatus
    on: dt.date
    case_id: str | None
    reason: str


DomainEvent = (
    CaseOpened | CaseAdvanced | NoticePublished | CaseDecided | CaseOverdue | HouseholdStatusChanged
)
