"""The Measure entity: dispatch to its lead department, replies, time-outs and term."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from fangpin_assistance.domain.catalog import SubMeasure
from fangpin_assistance.domain.codes import (
    CLOSED_STATUSES,
    IMPLEMENTED_STATUSES,
    MeasureStatus,
    ReplyKind,
)
from fangpin_assistance.domain.events import (
    DomainEvent,
    MeasureDispatched,
    MeasureOverdue,
    MeasureRedispatched,
    MeasureStatusChanged,
    MeasureView,
    ReplacementRequested,
    ReplyIgnored,
)
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.terms import term_end
from fangpin_kit.clock import china_date

DISPATCH_NAMESPACE = uuid.UUID("6f1d3c2e-7a4b-5c8d-9e0f-1a2b3c4d5e6f")
"""uuid5 namespace of dispatch ids: the same measure always yields the same CloudEvents id."""

_REPLY_ALLOWED_FROM = {
    ReplyKind.ACCEPTED: frozenset({MeasureStatus.DISPATCHED}),
    ReplyKind.COMPLETED: frozenset(
        {MeasureStatus.DISPATCHED, MeasureStatus.ACCEPTED, MeasureStatus.IN_PROGRESS}
    ),
    ReplyKind.REJECTED: frozenset({MeasureStatus.DISPATCHED, MeasureStatus.ACCEPTED}),
}
"""Statuses from which each reply kind is a valid transition."""

NOT_COUNTING_STATUSES = frozenset({MeasureStatus.REJECTED, MeasureStatus.WITHDRAWN})
"""Measures in these statuses do not count towards the plan rules."""


def dispatch_id_for(measure_id: str) -> str:
    """The idempotent CloudEvents id of a measure's dispatch."""
    return str(uuid.uuid5(DISPATCH_NAMESPACE, measure_id))


@dataclass(frozen=True)
class DepartmentReply:
    """A lead department's answer (`measure.accepted` / `.completed` / `.rejected`)."""

    reply_id: str
    """The reply's CloudEvents id: applying the same id twice is a no-op."""
    measure_id: str
    department: str
    kind: ReplyKind
    sent_at: datetime
    reason: str | None = None
    started_on: date | None = None
    term_end: date | None = None
    """Contract or agreement end reported by the department (合同/协议到期日)."""


class OutcomeKind(StrEnum):
    """What applying a reply did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True)
class ReplyOutcome:
    """Result of applying a reply: never an exception for unknown, stale or repeated replies."""

    kind: OutcomeKind
    measure_id: str
    status: MeasureStatus | None
    reason: str | None = None
    events: tuple[DomainEvent, ...] = ()


def ignore_reply(
    reply: DepartmentReply, household_id: str, at: datetime, reason: str
) -> ReplyOutcome:
    """Record a reply that cannot be applied (e.g. `unknown_measure`) without failing."""
    event = ReplyIgnored(
        household_id=household_id,
        occurred_at=at,
        reply_id=reply.reply_id,
        measure_id=reply.measure_id,
        department=reply.department,
        kind=reply.kind,
        reason=reason,
    )
    return ReplyOutcome(OutcomeKind.IGNORED, reply.measure_id, None, reason, (event,))


class MeasureStateError(ValueError):
    """A command that the measure's current status does not allow."""


@dataclass
class Measure:
    """One measure of a plan, dispatched to the department that delivers it."""

    measure_id: str
    plan_id: str
    household_id: str
    sub_measure: SubMeasure
    """Catalog snapshot taken when the measure was created."""
    beneficiary: str | None = None
    basis: tuple[str, ...] = ()
    school_stage_ends_on: date | None = None
    status: MeasureStatus = MeasureStatus.PROPOSED
    attempts: int = 0
    first_dispatched_at: datetime | None = None
    last_dispatched_at: datetime | None = None
    reply_due_at: datetime | None = None
    escalated_at: datetime | None = None
    started_on: date | None = None
    implemented_on: date | None = None
    closed_at: datetime | None = None
    reported_term_end: date | None = None
    continues_until: date | None = None
    close_reason: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    seen_reply_ids: set[str] = field(default_factory=set)

    @property
    def dispatch_id(self) -> str:
        """CloudEvents id of every dispatch of this measure (re-dispatches included)."""
        return dispatch_id_for(self.measure_id)

    @property
    def key(self) -> str:
        """`<type>.<sub>`."""
        return self.sub_measure.key

    @property
    def is_closed(self) -> bool:
        """Completed, rejected, expired or withdrawn."""
        return self.status in CLOSED_STATUSES

    @property
    def counts(self) -> bool:
        """Whether it counts towards the plan rules (not rejected or withdrawn)."""
        return self.status not in NOT_COUNTING_STATUSES

    @property
    def implemented(self) -> bool:
        """落实: delivered or being delivered, for the `assisted` elimination mode."""
        return self.status in IMPLEMENTED_STATUSES

    @property
    def term_end(self) -> date | None:
        """Last day of the term when known (see `terms.term_end`)."""
        return term_end(
            self.sub_measure,
            started_on=self.started_on,
            reported_end=self.reported_term_end,
            school_stage_ends_on=self.school_stage_ends_on,
        )

    def view(self) -> MeasureView:
        """The measure as events describe it."""
        return MeasureView(
            measure_id=self.measure_id,
            measure_key=self.key,
            department=self.sub_measure.department,
            beneficiary=self.beneficiary,
            developmental=self.sub_measure.developmental,
            status=self.status,
        )

    # -- dispatch protocol ---------------------------------------------------------------

    def dispatch(self, at: datetime, params: AssistanceParameters) -> list[DomainEvent]:
        """Send the proposed measure to its lead department for the first time."""
        if self.status is not MeasureStatus.PROPOSED:
            raise MeasureStateError(f"{self.measure_id}: cannot dispatch a {self.status} measure")
        self.attempts = 1
        self.first_dispatched_at = self.last_dispatched_at = at
        self.reply_due_at = at + params.dispatch_reply_timeout
        changed = self._move(MeasureStatus.DISPATCHED, at)
        return [changed, self._dispatched_event(MeasureDispatched, at)]

    def check_reply_due(self, at: datetime, params: AssistanceParameters) -> list[DomainEvent]:
        """Unanswered in time: re-dispatch under the same id, then escalate once."""
        if (
            self.status is not MeasureStatus.DISPATCHED
            or self.escalated_at is not None
            or self.reply_due_at is None
            or at < self.reply_due_at
        ):
            return []
        if self.attempts <= params.max_redispatches:
            self.attempts += 1
            self.last_dispatched_at = at
            self.reply_due_at = at + params.dispatch_reply_timeout
            return [self._dispatched_event(MeasureRedispatched, at)]
        self.escalated_at = at
        assert self.first_dispatched_at is not None
        return [
            MeasureOverdue(
                household_id=self.household_id,
                occurred_at=at,
                dispatch_id=self.dispatch_id,
                plan_id=self.plan_id,
                measure_id=self.measure_id,
                measure_key=self.key,
                department=self.sub_measure.department,
                attempts=self.attempts,
                first_dispatched_at=self.first_dispatched_at,
            )
        ]

    def _dispatched_event(self, kind: type[MeasureDispatched], at: datetime) -> MeasureDispatched:
        assert self.reply_due_at is not None
        return kind(
            household_id=self.household_id,
            occurred_at=at,
            dispatch_id=self.dispatch_id,
            plan_id=self.plan_id,
            measure_id=self.measure_id,
            measure_key=self.key,
            department=self.sub_measure.department,
            beneficiary=self.beneficiary,
            term_kind=self.sub_measure.term.kind,
            attempt=self.attempts,
            reply_due_at=self.reply_due_at,
        )

    # -- replies -------------------------------------------------------------------------

    def apply_reply(self, reply: DepartmentReply, at: datetime) -> ReplyOutcome:
        """Apply a department reply once; stale, foreign or repeated replies change nothing."""
        if reply.measure_id != self.measure_id:
            raise ValueError(f"reply for {reply.measure_id} applied to {self.measure_id}")
        if reply.reply_id in self.seen_reply_ids:
            return ReplyOutcome(OutcomeKind.DUPLICATE, self.measure_id, self.status)
        self.seen_reply_ids.add(reply.reply_id)
        reason = self._reply_refusal(reply)
        if reason is not None:
            return ignore_reply(reply, self.household_id, at, reason)
        events: list[DomainEvent] = []
        if reply.term_end is not None:
            self.reported_term_end = reply.term_end
        match reply.kind:
            case ReplyKind.ACCEPTED:
                events.append(self._move(MeasureStatus.ACCEPTED, at, reply_id=reply.reply_id))
                self.started_on = reply.started_on or china_date(at)
                if self.started_on <= china_date(at):
                    events.append(self._start(at, reply.reply_id))
            case ReplyKind.COMPLETED:
                if self.started_on is None:
                    self.started_on = reply.started_on or china_date(at)
                self.implemented_on = self.implemented_on or china_date(at)
                events.append(self._move(MeasureStatus.COMPLETED, at, reply.reason, reply.reply_id))
            case ReplyKind.REJECTED:
                cause = reply.reason or "no_reason_given"
                events.append(self._move(MeasureStatus.REJECTED, at, cause, reply.reply_id))
                events.append(
                    ReplacementRequested(
                        household_id=self.household_id,
                        occurred_at=at,
                        plan_id=self.plan_id,
                        measure_id=self.measure_id,
                        measure_key=self.key,
                        department=self.sub_measure.department,
                        reason=cause,
                    )
                )
        return ReplyOutcome(OutcomeKind.APPLIED, self.measure_id, self.status, None, tuple(events))

    def _reply_refusal(self, reply: DepartmentReply) -> str | None:
        if reply.department != self.sub_measure.department:
            return f"department_mismatch:{reply.department}"
        if self.is_closed:
            return f"measure_closed:{self.status}"
        if self.status is MeasureStatus.PROPOSED:
            return "not_dispatched"
        if self.status not in _REPLY_ALLOWED_FROM[reply.kind]:
            return f"invalid_transition:{self.status}->{reply.kind}"
        return None

    # -- lifecycle -----------------------------------------------------------------------

    def on_clock(self, at: datetime, params: AssistanceParameters) -> list[DomainEvent]:
        """Time passes: reply time-outs, scheduled starts, terms running out."""
        events = self.check_reply_due(at, params)
        today = china_date(at)
        if (
            self.status is MeasureStatus.ACCEPTED
            and self.started_on is not None
            and self.started_on <= today
        ):
            events.append(self._start(at, None))
        end = self.continues_until or self.term_end
        if self.status is MeasureStatus.IN_PROGRESS and end is not None and end < today:
            events.append(self.expire(at, "term_ended"))
        return events

    def _start(self, at: datetime, reply_id: str | None) -> MeasureStatusChanged:
        self.implemented_on = self.implemented_on or china_date(at)
        return self._move(MeasureStatus.IN_PROGRESS, at, reply_id=reply_id)

    def expire(self, at: datetime, reason: str) -> MeasureStatusChanged:
        """End an open measure whose term or basis ran out."""
        if self.is_closed:
            raise MeasureStateError(f"{self.measure_id}: already {self.status}")
        return self._move(MeasureStatus.EXPIRED, at, reason)

    def withdraw(self, at: datetime, reason: str) -> MeasureStatusChanged:
        """Take the measure back (cadre adjustment, stop of assistance)."""
        if self.is_closed:
            raise MeasureStateError(f"{self.measure_id}: cannot withdraw a {self.status} measure")
        return self._move(MeasureStatus.WITHDRAWN, at, reason)

    def _move(
        self,
        new: MeasureStatus,
        at: datetime,
        reason: str | None = None,
        reply_id: str | None = None,
    ) -> MeasureStatusChanged:
        old, self.status = self.status, new
        if new in CLOSED_STATUSES:
            self.closed_at = at
            self.close_reason = reason
        return MeasureStatusChanged(
            household_id=self.household_id,
            occurred_at=at,
            plan_id=self.plan_id,
            measure_id=self.measure_id,
            measure_key=self.key,
            old_status=old,
            new_status=new,
            reason=reason,
            reply_id=reply_id,
        )
