"""Time limits across Spring Festival and National Day holidays, and overdue escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from approval_support import Actors, Driver, OpenCase, at, baseline_parameters

from fangpin_approval.domain.actors import Level
from fangpin_approval.domain.case import Action
from fangpin_approval.domain.deadlines import (
    Deadline,
    add_months,
    approval_due,
    green_channel_until,
    local_date,
    notice_last_day,
    system_entry_due,
    verification_due,
)
from fangpin_approval.domain.events import CaseOverdue
from fangpin_approval.domain.parameters import DayKind, ProcedureParameters
from fangpin_approval.domain.procedure import Step
from fangpin_kit.workdays import CalendarOverrides, WorkdayCalendar

D = dt.date

# ---------------------------------------------------------------- due dates


@pytest.mark.parametrize(
    ("clue", "due"),
    [
        # Spring Festival 2024: 10-17 Feb off, Sun 18 Feb a make-up working day
        (D(2024, 2, 8), D(2024, 2, 21)),
        # Spring Festival 2025: 28 Jan-4 Feb off, Sun 26 Jan and Sat 8 Feb make-up days
        (D(2025, 1, 24), D(2025, 2, 7)),
        (D(2025, 2, 5), D(2025, 2, 11)),
        # National Day 2024: 1-7 Oct off, Sun 29 Sep and Sat 12 Oct make-up days
        (D(2024, 9, 27), D(2024, 10, 10)),
        # National Day 2025: 1-8 Oct off, Sun 28 Sep and Sat 11 Oct make-up days
        (D(2025, 9, 26), D(2025, 10, 10)),
    ],
)
def test_verification_is_due_five_working_days_after_the_clue_across_holidays(
    params: ProcedureParameters, calendar: WorkdayCalendar, clue: dt.date, due: dt.date
) -> None:
    assert verification_due(clue, params, calendar) == due


def test_approval_is_due_fifteen_calendar_days_after_the_clue_even_over_spring_festival(
    params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    assert params.approval_limit_unit is DayKind.CALENDAR
    assert approval_due(D(2024, 2, 8), params, calendar) == D(2024, 2, 23)


def test_a_county_configured_for_twenty_working_days_skips_national_day(
    calendar: WorkdayCalendar,
) -> None:
    hebei = baseline_parameters(approval_limit=20, approval_limit_unit="working")
    # Fri 20 Sep 2024: 23-27 Sep (5), Sun 29 (6), 30 (7), 8-11 Oct (11), Sat 12 (12),
    # 14-18 Oct (17), 21-23 Oct (20)
    assert approval_due(D(2024, 9, 20), hebei, calendar) == D(2024, 10, 23)


def test_notice_counts_calendar_days_through_spring_festival(params: ProcedureParameters) -> None:
    assert notice_last_day(D(2024, 2, 9), params) == D(2024, 2, 13)


def test_system_entry_is_due_ten_days_after_approval_through_national_day(
    params: ProcedureParameters,
) -> None:
    assert system_entry_due(D(2024, 9, 28), params) == D(2024, 10, 8)


@pytest.mark.parametrize(
    ("entered", "until"),
    [
        (D(2024, 1, 15), D(2024, 2, 15)),
        (D(2024, 1, 31), D(2024, 2, 29)),  # clamped to the end of a leap February
        (D(2025, 1, 31), D(2025, 2, 28)),
        (D(2024, 12, 20), D(2025, 1, 20)),
    ],
)
def test_green_channel_lasts_one_calendar_month(
    params: ProcedureParameters, entered: dt.date, until: dt.date
) -> None:
    assert green_channel_until(entered, params) == until


def test_adding_months_crosses_years() -> None:
    assert add_months(D(2024, 11, 30), 3) == D(2025, 2, 28)


def test_local_date_is_the_date_in_china() -> None:
    late_utc = dt.datetime(2024, 2, 9, 17, 30, tzinfo=dt.UTC)
    assert local_date(late_utc) == D(2024, 2, 10)


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday(
    params: ProcedureParameters,
) -> None:
    # 2030 is beyond chinesecalendar 1.11: Fri 4 Jan + 5 working days = Fri 11 Jan
    assert verification_due(D(2030, 1, 4), params, WorkdayCalendar()) == D(2030, 1, 11)


def test_county_calendar_overrides_move_the_verification_due_date(
    params: ProcedureParameters,
) -> None:
    overrides = CalendarOverrides(holidays={D(2030, 1, 7), D(2030, 1, 8)})
    assert verification_due(D(2030, 1, 4), params, WorkdayCalendar(overrides)) == D(2030, 1, 15)


def test_a_case_stores_its_due_dates_from_opening(open_case: OpenCase) -> None:
    case = open_case(D(2024, 2, 8))
    assert (case.due.verification, case.due.approval) == (D(2024, 2, 21), D(2024, 2, 23))


# ---------------------------------------------------------------- overdue


def test_verification_is_overdue_the_day_after_its_due_date_across_spring_festival(
    open_case: OpenCase,
) -> None:
    case = open_case(D(2024, 2, 8))
    assert case.check_overdue(at(2024, 2, 21, 23)) == []
    [overdue] = case.check_overdue(at(2024, 2, 22, 8))
    assert isinstance(overdue, CaseOverdue)
    assert overdue.deadline is Deadline.VERIFICATION
    assert overdue.due_on == D(2024, 2, 21)
    assert (overdue.responsible_level, overdue.escalate_to) == (Level.VILLAGE, Level.TOWN)
    assert overdue in case.pull_events()


def test_an_overdue_breach_is_emitted_once(open_case: OpenCase) -> None:
    case = open_case(D(2024, 9, 27))
    first = case.check_overdue(at(2024, 10, 11))
    assert [o.deadline for o in first] == [Deadline.VERIFICATION]
    assert case.check_overdue(at(2024, 10, 12)) == []
    # the approval limit (12 Oct) breaks next; verification is not reported again
    assert [o.deadline for o in case.check_overdue(at(2024, 10, 13))] == [Deadline.APPROVAL]
    assert case.check_overdue(at(2024, 10, 14)) == []
    marks = [a for a in case.history if a.action is Action.MARK_OVERDUE]
    assert [m.details["breach_key"] for m in marks] == [
        first[0].breach_key,
        "C1:approval:2024-10-12",
    ]


def test_approval_overdue_escalates_from_the_level_holding_the_case(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case(D(2024, 3, 4))
    driver.to_step(case, Step.TOWN_REVIEW)
    [overdue] = case.check_overdue(at(2024, 3, 20))
    assert overdue.deadline is Deadline.APPROVAL
    assert overdue.due_on == D(2024, 3, 19)
    assert overdue.step is Step.TOWN_REVIEW
    assert (overdue.responsible_level, overdue.escalate_to) == (Level.TOWN, Level.COUNTY)


def test_verification_and_approval_breaches_are_separate(open_case: OpenCase) -> None:
    case = open_case(D(2024, 3, 4))
    assert [o.deadline for o in case.check_overdue(at(2024, 3, 12))] == [Deadline.VERIFICATION]
    assert [o.deadline for o in case.check_overdue(at(2024, 3, 20))] == [Deadline.APPROVAL]


def test_signed_verification_is_never_overdue(open_case: OpenCase, driver: Driver) -> None:
    case = open_case(D(2024, 2, 8))
    driver.to_step(case, Step.VERIFICATION, start=D(2024, 2, 8))
    driver.verify(case, at(2024, 2, 21))
    assert case.check_overdue(at(2024, 2, 22)) == []


def test_system_entry_overdue_after_national_day_escalates_within_the_county(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 9, 19))
    driver.to_step(case, start=D(2024, 9, 19))  # approved 28 Sep
    assert case.due.system_entry == D(2024, 10, 8)
    assert case.check_overdue(at(2024, 10, 8)) == []
    [overdue] = case.check_overdue(at(2024, 10, 9))
    assert overdue.deadline is Deadline.SYSTEM_ENTRY
    assert (overdue.responsible_level, overdue.escalate_to) == (Level.COUNTY, Level.COUNTY)


def test_system_entry_recorded_in_time_is_not_overdue(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 9, 19))
    driver.to_step(case, start=D(2024, 9, 19))
    case.record_system_entry(actors.county, at(2024, 10, 8), expected_version=case.version)
    assert case.check_overdue(at(2024, 10, 30)) == []


def test_decided_case_reports_no_procedure_breach(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 3, 4))
    driver.to_step(case, Step.TOWN_REVIEW)
    case.reject(actors.town, at(2024, 3, 12), expected_version=case.version, reason="不符合")
    assert case.check_overdue(at(2024, 4, 30)) == []


def test_a_case_keeps_the_parameters_it_started_with(open_case: OpenCase) -> None:
    old = open_case(D(2024, 9, 20))
    # the county switches to 20 working days afterwards: the running case is not affected
    hebei = baseline_parameters(approval_limit=20, approval_limit_unit="working")
    new = open_case(D(2024, 9, 20), case_id="C2", parameters=hebei)
    assert old.due.approval == D(2024, 10, 5)
    assert new.due.approval == D(2024, 10, 23)
    assert old.params.approval_limit == 15
