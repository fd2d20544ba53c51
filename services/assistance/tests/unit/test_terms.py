"""Term continuation after risk elimination, and the `implemented` check."""

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import (
    LaborCapacity,
    MeasureStatus,
    ReplyKind,
    RiskType,
    SchoolStage,
)
from fangpin_assistance.domain.events import MeasureContinued, MeasureStatusChanged
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.measure import DepartmentReply, Measure
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import MeasureSpec, Plan
from fangpin_assistance.domain.terms import Continuation, continuation_after_elimination, term_end

ELIMINATED_ON = date(2025, 3, 31)


def running(
    catalog: Catalog,
    key: str,
    params: AssistanceParameters,
    at: datetime,
    *,
    reported_end: date | None = None,
    stage_end: date | None = None,
) -> Measure:
    measure = Measure(
        measure_id=f"m-{key}",
        plan_id="P",
        household_id="H000001",
        sub_measure=catalog.sub_measure(key),
        school_stage_ends_on=stage_end,
    )
    measure.dispatch(at, params)
    measure.apply_reply(
        DepartmentReply(
            reply_id="accept",
            measure_id=measure.measure_id,
            department=measure.sub_measure.department.value,
            kind=ReplyKind.ACCEPTED,
            sent_at=at,
            term_end=reported_end,
        ),
        at,
    )
    return measure


@pytest.mark.parametrize(
    ("key", "reported_end", "stage_end", "until"),
    [
        ("finance.microcredit", date(2026, 11, 30), None, date(2026, 11, 30)),
        ("public_post.village_public_post", date(2025, 12, 31), None, date(2025, 12, 31)),
        ("education.rain_dew", None, date(2026, 6, 30), date(2026, 6, 30)),
        ("education.student_aid", None, date(2025, 7, 15), date(2025, 7, 15)),
    ],
)
def test_measures_with_a_running_term_continue_after_elimination_to_its_end(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    key: str,
    reported_end: date | None,
    stage_end: date | None,
    until: date,
) -> None:
    measure = running(catalog, key, params, t0, reported_end=reported_end, stage_end=stage_end)
    decision = continuation_after_elimination(measure, ELIMINATED_ON)
    assert decision.continuation is Continuation.CONTINUES
    assert decision.until == until


def test_a_measure_without_a_term_ends_with_the_elimination(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = running(catalog, "health.medical_assistance", params, t0)
    decision = continuation_after_elimination(measure, ELIMINATED_ON)
    assert (decision.continuation, decision.reason) == (Continuation.ENDS, "no_term")


def test_a_term_measure_never_started_ends_with_the_elimination(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = Measure("m", "P", "H000001", catalog.sub_measure("finance.microcredit"))
    measure.dispatch(t0, params)
    decision = continuation_after_elimination(measure, ELIMINATED_ON)
    assert (decision.continuation, decision.reason) == (Continuation.ENDS, "term_not_started")


def test_a_term_already_over_ends_and_an_unknown_end_continues_open_ended(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    over = running(catalog, "finance.microcredit", params, t0, reported_end=date(2025, 1, 31))
    assert continuation_after_elimination(over, ELIMINATED_ON).reason == "term_ended"
    unknown = running(catalog, "finance.microcredit", params, t0)
    decision = continuation_after_elimination(unknown, ELIMINATED_ON)
    assert (decision.continuation, decision.until) == (Continuation.CONTINUES, None)


def test_closed_measures_are_left_alone(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = running(catalog, "finance.microcredit", params, t0)
    measure.withdraw(t0, "cadre")
    decision = continuation_after_elimination(measure, ELIMINATED_ON)
    assert decision.continuation is Continuation.ALREADY_CLOSED


def test_fixed_term_runs_its_months_from_the_start_day_inclusive(catalog: Catalog) -> None:
    sub = catalog.sub_measure("health.insurance_premium_subsidy")
    end = term_end(sub, started_on=date(2024, 1, 31), reported_end=None, school_stage_ends_on=None)
    assert end == date(2025, 1, 30)
    assert term_end(sub, started_on=None, reported_end=None, school_stage_ends_on=None) is None


def test_plan_elimination_keeps_term_measures_and_ends_the_rest(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.ILLNESS,
        RiskType.EDUCATION,
        members=(
            make_member("m1"),
            make_member("m2", LaborCapacity.NONE, SchoolStage.VOCATIONAL, date(2026, 6, 30)),
        ),
    )
    plan = Plan.create(
        "P",
        household,
        [
            MeasureSpec("health.medical_assistance"),
            MeasureSpec("education.rain_dew", "m2"),
            MeasureSpec("finance.microcredit"),
        ],
        identified_on=t0.date(),
        at=t0,
        catalog=catalog,
        params=params,
        contact_cadres=["c1"],
    )
    plan.confirm("c1", t0, catalog, params)
    assert not plan.has_implemented_measures
    for measure in plan.measures[1:]:
        plan.apply_reply(
            DepartmentReply(
                reply_id=f"acc-{measure.measure_id}",
                measure_id=measure.measure_id,
                department=measure.sub_measure.department.value,
                kind=ReplyKind.ACCEPTED,
                sent_at=t0,
                term_end=date(2027, 5, 1) if measure.key == "finance.microcredit" else None,
            ),
            t0,
        )
    assert plan.has_implemented_measures
    plan.collect_events()

    at = datetime.combine(ELIMINATED_ON, t0.timetz())
    plan.risk_eliminated(ELIMINATED_ON, at)
    events = plan.collect_events()
    assert {(e.measure_key, e.until) for e in events if isinstance(e, MeasureContinued)} == {
        ("education.rain_dew", date(2026, 6, 30)),
        ("finance.microcredit", date(2027, 5, 1)),
    }
    ended = [e for e in events if isinstance(e, MeasureStatusChanged)]
    assert [(e.measure_key, e.new_status, e.reason) for e in ended] == [
        ("health.medical_assistance", MeasureStatus.EXPIRED, "risk_eliminated:no_term")
    ]
    # the continued measures run to the end of their term, then expire
    plan.tick(datetime.combine(date(2026, 7, 1), t0.timetz()), params)
    assert plan.measure("P-002").status is MeasureStatus.EXPIRED
    assert plan.measure("P-003").status is MeasureStatus.IN_PROGRESS
    plan.tick(datetime.combine(date(2027, 5, 2), t0.timetz()), params)
    assert plan.measure("P-003").status is MeasureStatus.EXPIRED
    assert plan.has_implemented_measures


def test_a_continued_measure_expires_the_day_after_its_continuation_ends(
    catalog: Catalog, params: AssistanceParameters, t0: datetime
) -> None:
    measure = running(catalog, "public_post.village_public_post", params, t0)
    measure.continues_until = t0.date() + timedelta(days=1)
    assert measure.on_clock(t0 + timedelta(days=1), params) == []
    (expired,) = measure.on_clock(t0 + timedelta(days=2), params)
    assert isinstance(expired, MeasureStatusChanged)
    assert expired.new_status is MeasureStatus.EXPIRED
