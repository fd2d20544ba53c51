"""Reminder schedule: one before, one on the day, one escalation, each once per recipient."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from fangpin_notify.domain.kinds import EventKind, Phase
from fangpin_notify.domain.parameters import NotifyParameters
from fangpin_notify.domain.reminders import (
    Deadline,
    InvalidDeadline,
    reminder_schedule,
    reminders_due,
)

DUE = date(2024, 6, 12)  # a Wednesday


def deadline(**overrides: object) -> Deadline:
    fields: dict[str, object] = {
        "key": "case:C-1:town_review",
        "kind": EventKind.SIGNATURE_AWAITED,
        "due": DUE,
        "recipients": ("reviewer",),
        "escalation_recipients": ("bureau",),
        "escalation_kind": EventKind.CASE_OVERDUE,
    }
    return Deadline(**(fields | overrides))  # type: ignore[arg-type]


def test_schedule_has_before_due_and_escalation_with_their_windows(
    params: NotifyParameters,
) -> None:
    by_key = {r.dedupe_key: r for r in reminder_schedule(deadline(), params)}
    assert sorted(by_key) == [
        "case:C-1:town_review|bureau|escalation",
        "case:C-1:town_review|reviewer|before",
        "case:C-1:town_review|reviewer|due",
        "case:C-1:town_review|reviewer|escalation",
    ]
    before = by_key["case:C-1:town_review|reviewer|before"]
    assert (before.send_on, before.last_day) == (date(2024, 6, 10), date(2024, 6, 11))
    due = by_key["case:C-1:town_review|reviewer|due"]
    assert (due.send_on, due.last_day) == (DUE, DUE)
    escalation = by_key["case:C-1:town_review|bureau|escalation"]
    assert (escalation.send_on, escalation.last_day) == (date(2024, 6, 13), None)
    assert escalation.kind is EventKind.CASE_OVERDUE
    assert before.kind is EventKind.SIGNATURE_AWAITED


def test_daily_sweeps_send_each_reminder_exactly_once(params: NotifyParameters) -> None:
    sent: list[str] = []
    day = DUE - timedelta(days=5)
    while day <= DUE + timedelta(days=10):
        for _ in range(3):  # the sweep runs several times a day and events are redelivered
            for reminder in reminders_due(deadline(), params, day, sent=set(sent)):
                sent.append(reminder.dedupe_key)
        day += timedelta(days=1)
    counts = Counter(key.split("|", 1)[1] for key in sent)
    assert counts == {
        "reviewer|before": 1,
        "reviewer|due": 1,
        "reviewer|escalation": 1,
        "bureau|escalation": 1,
    }


def test_a_restart_with_the_stored_keys_sends_nothing_again(params: NotifyParameters) -> None:
    first_run = reminders_due(deadline(), params, DUE)
    stored = {r.dedupe_key for r in first_run}
    assert [r.phase for r in first_run] == [Phase.DUE]
    assert reminders_due(deadline(), params, DUE, sent=stored) == []


def test_deadline_registered_on_the_due_day_skips_the_reminder_before(
    params: NotifyParameters,
) -> None:
    assert [r.phase for r in reminders_due(deadline(), params, DUE)] == [Phase.DUE]


def test_due_day_missed_while_down_is_not_sent_late_but_escalation_follows(
    params: NotifyParameters,
) -> None:
    phases = [r.phase for r in reminders_due(deadline(), params, DUE + timedelta(days=3))]
    assert phases == [Phase.ESCALATION, Phase.ESCALATION]


def test_recipient_in_both_lists_gets_a_single_escalation(params: NotifyParameters) -> None:
    schedule = reminder_schedule(
        deadline(escalation_recipients=("reviewer", "bureau", "bureau")), params
    )
    escalations = [r.recipient_id for r in schedule if r.phase is Phase.ESCALATION]
    assert escalations == ["reviewer", "bureau"]


def test_zero_lead_days_means_no_reminder_before(params: NotifyParameters) -> None:
    no_lead = NotifyParameters(**{**params.__dict__, "reminder_lead_days": 0})
    assert Phase.BEFORE not in {r.phase for r in reminder_schedule(deadline(), no_lead)}


def test_working_day_counting_skips_weekends(params: NotifyParameters) -> None:
    monday = date(2024, 6, 17)
    schedule = reminder_schedule(deadline(due=monday), params, workday=lambda d: d.weekday() < 5)
    send_on = {(r.phase, r.recipient_id): r.send_on for r in schedule}
    assert send_on[(Phase.BEFORE, "reviewer")] == date(2024, 6, 13)  # Thursday
    friday = reminder_schedule(
        deadline(due=date(2024, 6, 14)), params, workday=lambda d: d.weekday() < 5
    )
    escalation = next(r for r in friday if r.phase is Phase.ESCALATION)
    assert escalation.send_on == monday


def test_reminder_context_counts_days_left_and_overdue(params: NotifyParameters) -> None:
    reminder = reminder_schedule(deadline(), params)[0]
    assert reminder.context(date(2024, 6, 10)) == {
        "due_date": DUE,
        "days_left": 2,
        "days_overdue": 0,
    }
    assert reminder.context(date(2024, 6, 15))["days_overdue"] == 3


@pytest.mark.parametrize("key", ["", "case|1"])
def test_deadline_key_must_be_usable_in_a_dedupe_key(key: str) -> None:
    with pytest.raises(InvalidDeadline):
        deadline(key=key)
