"""Reminders of a deadline: before it, on the day, escalation after; each once per recipient."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta

from fangpin_notify.domain.kinds import EventKind, Phase
from fangpin_notify.domain.parameters import NotifyParameters

Workday = Callable[[date], bool]


class InvalidDeadline(ValueError):
    """A deadline that cannot be scheduled."""


@dataclass(frozen=True)
class Deadline:
    """A due date someone must meet (办理时限), as emitted by approval or assistance.

    `key` identifies the deadline across redeliveries, e.g. `case:C1:town_review:2024-06-20`;
    a moved due date must come with a new key, or its reminders count as already sent.
    `kind` is the template of the reminders; `escalation_kind` that of the escalation
    (e.g. `signature_awaited` escalates as `case_overdue`), which also reaches
    `escalation_recipients` (the level above).
    """

    key: str
    kind: EventKind
    due: date
    recipients: tuple[str, ...]
    escalation_recipients: tuple[str, ...] = ()
    escalation_kind: EventKind | None = None

    def __post_init__(self) -> None:
        if not self.key or "|" in self.key:
            raise InvalidDeadline(f"key: {self.key!r} must be non-empty and without '|'")
        object.__setattr__(self, "kind", EventKind(self.kind))
        if self.escalation_kind is not None:
            object.__setattr__(self, "escalation_kind", EventKind(self.escalation_kind))
        object.__setattr__(self, "recipients", tuple(dict.fromkeys(self.recipients)))
        object.__setattr__(
            self, "escalation_recipients", tuple(dict.fromkeys(self.escalation_recipients))
        )


@dataclass(frozen=True)
class Reminder:
    """One message about a deadline to one recipient, open from `send_on` to `last_day`."""

    deadline_key: str
    recipient_id: str
    phase: Phase
    kind: EventKind
    due: date
    send_on: date
    last_day: date | None  # None: stays open until sent (escalations)

    @property
    def dedupe_key(self) -> str:
        """`deadline_key|recipient|phase`: the store keeps it unique, so it is sent once."""
        return f"{self.deadline_key}|{self.recipient_id}|{self.phase.value}"

    def is_open(self, today: date) -> bool:
        """A "due today" reminder is pointless tomorrow; an escalation is never too late."""
        return self.send_on <= today and (self.last_day is None or today <= self.last_day)

    def context(self, today: date) -> dict[str, object]:
        """Template fields describing the deadline as seen on `today`."""
        return {
            "due_date": self.due,
            "days_left": max((self.due - today).days, 0),
            "days_overdue": max((today - self.due).days, 0),
        }


def _shift(start: date, days: int, step: int, workday: Workday | None) -> date:
    """`days` calendar days (or working days, when `workday` is given) from `start`."""
    if workday is None:
        return start + timedelta(days=days * step)
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=step)
        if workday(current):
            counted += 1
    return current


def reminder_schedule(
    deadline: Deadline, params: NotifyParameters, *, workday: Workday | None = None
) -> list[Reminder]:
    """Every reminder of the deadline: before (lead days), on the day, escalation after.

    With `workday` (e.g. the kit's working-day calendar) lead and escalation days count
    working days, so a reminder never lands on a weekend or holiday.
    """
    due = deadline.due
    plans: list[tuple[Phase, EventKind, tuple[str, ...], date, date | None]] = []
    if params.reminder_lead_days > 0:
        before = _shift(due, params.reminder_lead_days, -1, workday)
        plans.append((Phase.BEFORE, deadline.kind, deadline.recipients, before, due - timedelta(1)))
    plans.append((Phase.DUE, deadline.kind, deadline.recipients, due, due))
    escalate_to = tuple(dict.fromkeys(deadline.recipients + deadline.escalation_recipients))
    plans.append(
        (
            Phase.ESCALATION,
            deadline.escalation_kind or deadline.kind,
            escalate_to,
            _shift(due, params.escalation_after_days, 1, workday),
            None,
        )
    )
    return [
        Reminder(
            deadline_key=deadline.key,
            recipient_id=recipient,
            phase=phase,
            kind=kind,
            due=due,
            send_on=send_on,
            last_day=last_day,
        )
        for phase, kind, recipients, send_on, last_day in plans
        for recipient in recipients
    ]


def reminders_due(
    deadline: Deadline,
    params: NotifyParameters,
    today: date,
    *,
    sent: Collection[str] = frozenset(),
    workday: Workday | None = None,
) -> list[Reminder]:
    """Reminders to send on `today`: open and whose dedupe key is not in `sent`.

    Running this again (after a restart or a redelivered event) yields nothing new once the
    store holds the keys; a phase missed while notify was down is skipped when its window
    has closed (no "due today" a day late), and the escalation follows as planned.
    """
    return [
        r
        for r in reminder_schedule(deadline, params, workday=workday)
        if r.is_open(today) and r.dedupe_key not in sent
    ]
