"""Measure dispatch protocol: idempotent dispatch, re-dispatch, escalation and replies."""

from datetime import date, datetime, timedelta

import pytest

from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import MeasureStatus, ReplyKind
from fangpin_assistance.domain.events import (
    MeasureDispatched,
    MeasureOverdue,
    MeasureRedispatched,
    MeasureStatusChanged,
    ReplacementRequested,
    ReplyIgnored,
)
from fangpin_assistance.domain.measure import (
    DepartmentReply,
    Measure,
    MeasureStateError,
    OutcomeKind,
    dispatch_id_for,
    ignore_reply,
)
from fangpin_assistance.domain.parameters import AssistanceParameters


def make_measure(catalog: Catalog, key: str = "finance.microcredit") -> Measure:
    return Measure(
        measure_id="P-H000001-001",
        plan_id="P-H000001",
        household_id="H000001",
        sub_measure=catalog.sub_measure(key),
    )


def reply(
    measure: Measure,
    kind: ReplyKind,
    at: datetime,
    *,
    reply_id: str | None = None,
    department: str | None = None,
    reason: str | None = None,
    started_on: date | None = None,
    term_end: date | None = None,
) -> DepartmentReply:
    return DepartmentReply(
        reply_id=reply_id or f"reply-{kind}",
        measure_id=measure.measure_id,
        department=department or measure.sub_measure.department.value,
        kind=kind,
        sent_at=at,
        reason=reason,
        started_on=started_on,
        term_end=term_end,
    )


def test_dispatch_goes_to_the_lead_department_with_a_reply_deadline(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog)
    changed, dispatched = measure.dispatch(t0, params)
    assert isinstance(changed, MeasureStatusChanged)
    assert isinstance(dispatched, MeasureDispatched)
    assert dispatched.department == "finance"
    assert dispatched.dispatch_id == dispatch_id_for(measure.measure_id)
    assert dispatched.reply_due_at == t0 + timedelta(hours=72)
    assert measure.status is MeasureStatus.DISPATCHED
    with pytest.raises(MeasureStateError):
        measure.dispatch(t0, params)


def test_unanswered_dispatch_is_resent_under_the_same_id_then_escalated_once(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog)
    first = measure.dispatch(t0, params)[1]
    assert isinstance(first, MeasureDispatched)
    timeout = timedelta(hours=params.dispatch_reply_timeout_hours)
    assert measure.check_reply_due(t0 + timeout - timedelta(seconds=1), params) == []

    resent = []
    at = t0
    for _ in range(params.max_redispatches):
        at += timeout
        (event,) = measure.check_reply_due(at, params)
        assert isinstance(event, MeasureRedispatched)
        resent.append(event)
    assert [e.attempt for e in resent] == [2, 3]
    assert {e.dispatch_id for e in resent} == {first.dispatch_id}

    at += timeout
    (overdue,) = measure.check_reply_due(at, params)
    assert isinstance(overdue, MeasureOverdue)
    assert overdue.attempts == 3 and overdue.first_dispatched_at == t0
    assert measure.check_reply_due(at + timeout, params) == []
    assert measure.status is MeasureStatus.DISPATCHED


def test_a_late_reply_after_escalation_is_still_applied(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog)
    measure.dispatch(t0, params)
    for days in (3, 6, 9):
        measure.check_reply_due(t0 + timedelta(days=days), params)
    assert measure.escalated_at is not None
    late = t0 + timedelta(days=10)
    outcome = measure.apply_reply(reply(measure, ReplyKind.ACCEPTED, late), late)
    assert outcome.kind is OutcomeKind.APPLIED
    assert measure.status is MeasureStatus.IN_PROGRESS


def test_acceptance_starts_the_measure_and_records_the_contract_end(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog)
    measure.dispatch(t0, params)
    at = t0 + timedelta(hours=5)
    outcome = measure.apply_reply(
        reply(measure, ReplyKind.ACCEPTED, at, term_end=date(2027, 5, 5)), at
    )
    changes = [e for e in outcome.events if isinstance(e, MeasureStatusChanged)]
    assert [(e.old_status, e.new_status) for e in changes] == [
        (MeasureStatus.DISPATCHED, MeasureStatus.ACCEPTED),
        (MeasureStatus.ACCEPTED, MeasureStatus.IN_PROGRESS),
    ]
    assert measure.term_end == date(2027, 5, 5)
    assert measure.implemented and measure.implemented_on == at.date()
    assert measure.check_reply_due(at + timedelta(days=30), params) == []


def test_acceptance_with_a_future_start_waits_for_the_start_date(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog, "public_post.village_public_post")
    measure.dispatch(t0, params)
    start = t0.date() + timedelta(days=20)
    measure.apply_reply(reply(measure, ReplyKind.ACCEPTED, t0, started_on=start), t0)
    assert measure.status is MeasureStatus.ACCEPTED and not measure.implemented
    assert measure.on_clock(t0 + timedelta(days=19), params) == []
    (started,) = measure.on_clock(t0 + timedelta(days=20), params)
    assert isinstance(started, MeasureStatusChanged)
    assert started.new_status is MeasureStatus.IN_PROGRESS and measure.implemented


def test_the_same_reply_delivered_three_times_changes_the_measure_once(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog, "health.medical_assistance")
    measure.dispatch(t0, params)
    completed = reply(measure, ReplyKind.COMPLETED, t0, reply_id="evt-42")
    outcomes = [measure.apply_reply(completed, t0) for _ in range(3)]
    assert [o.kind for o in outcomes] == [
        OutcomeKind.APPLIED,
        OutcomeKind.DUPLICATE,
        OutcomeKind.DUPLICATE,
    ]
    assert sum(len(o.events) for o in outcomes) == 1
    assert measure.status is MeasureStatus.COMPLETED


def test_rejection_records_the_reason_and_asks_for_a_replacement(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog, "safety_net.dibao")
    measure.dispatch(t0, params)
    outcome = measure.apply_reply(
        reply(measure, ReplyKind.REJECTED, t0, reason="income_above_dibao_line"), t0
    )
    changed, request = outcome.events
    assert isinstance(changed, MeasureStatusChanged)
    assert isinstance(request, ReplacementRequested)
    assert request.reason == "income_above_dibao_line" and request.department == "civil_affairs"
    assert measure.status is MeasureStatus.REJECTED and not measure.counts


def test_rejection_without_reason_is_recorded_as_such(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog, "safety_net.dibao")
    measure.dispatch(t0, params)
    measure.apply_reply(reply(measure, ReplyKind.REJECTED, t0), t0)
    assert measure.close_reason == "no_reason_given"


@pytest.mark.parametrize(
    ("setup", "kind", "department", "reason"),
    [
        ("proposed", ReplyKind.ACCEPTED, None, "not_dispatched"),
        ("completed", ReplyKind.ACCEPTED, None, "measure_closed:completed"),
        ("completed", ReplyKind.REJECTED, None, "measure_closed:completed"),
        ("in_progress", ReplyKind.ACCEPTED, None, "invalid_transition:in_progress->accepted"),
        ("in_progress", ReplyKind.REJECTED, None, "invalid_transition:in_progress->rejected"),
        ("dispatched", ReplyKind.ACCEPTED, "hrss", "department_mismatch:hrss"),
    ],
)
def test_replies_that_do_not_fit_are_recorded_and_ignored_never_raised(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    setup: str,
    kind: ReplyKind,
    department: str | None,
    reason: str,
) -> None:
    measure = make_measure(catalog)
    if setup != "proposed":
        measure.dispatch(t0, params)
    if setup == "completed":
        measure.apply_reply(reply(measure, ReplyKind.COMPLETED, t0, reply_id="done"), t0)
    if setup == "in_progress":
        measure.apply_reply(reply(measure, ReplyKind.ACCEPTED, t0, reply_id="ok"), t0)
    status = measure.status
    outcome = measure.apply_reply(
        reply(measure, kind, t0, reply_id="late", department=department), t0
    )
    assert outcome.kind is OutcomeKind.IGNORED and outcome.reason == reason
    (ignored,) = outcome.events
    assert isinstance(ignored, ReplyIgnored) and ignored.reason == reason
    assert measure.status is status
    again = measure.apply_reply(
        reply(measure, kind, t0, reply_id="late", department=department), t0
    )
    assert again.kind is OutcomeKind.DUPLICATE


def test_reply_for_an_unknown_measure_is_ignored_with_the_reason(
    catalog: Catalog, t0: datetime
) -> None:
    stray = DepartmentReply("r1", "P-X-001", "hrss", ReplyKind.ACCEPTED, t0)
    outcome = ignore_reply(stray, "unknown", t0, "unknown_measure")
    assert outcome.kind is OutcomeKind.IGNORED and outcome.status is None
    assert outcome.reason == "unknown_measure"


def test_term_running_out_expires_an_in_progress_measure(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog, "health.family_doctor")
    measure.dispatch(t0, params)
    measure.apply_reply(reply(measure, ReplyKind.ACCEPTED, t0, started_on=t0.date()), t0)
    assert measure.term_end == date(2025, 5, 5)  # 12 months from 2024-05-06, inclusive
    assert measure.on_clock(datetime.combine(date(2025, 5, 5), t0.timetz()), params) == []
    (expired,) = measure.on_clock(datetime.combine(date(2025, 5, 6), t0.timetz()), params)
    assert isinstance(expired, MeasureStatusChanged)
    assert expired.new_status is MeasureStatus.EXPIRED and expired.reason == "term_ended"
    assert measure.implemented


def test_withdrawing_a_closed_measure_is_refused(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = make_measure(catalog)
    measure.dispatch(t0, params)
    measure.apply_reply(reply(measure, ReplyKind.COMPLETED, t0), t0)
    with pytest.raises(MeasureStateError):
        measure.withdraw(t0, "changed mind")
