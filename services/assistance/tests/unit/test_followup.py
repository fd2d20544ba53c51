"""Follow-up: visit schedules by situation, quarterly income collection, recorded visits/incomes."""

from datetime import date, datetime

import pytest

from fangpin_assistance.domain.codes import HouseholdSituation
from fangpin_assistance.domain.events import TaskDue, TaskKind
from fangpin_assistance.domain.followup import (
    CollectionMethod,
    FollowUpError,
    FollowUpSubject,
    IncomeFigures,
    IncomePeriod,
    VisitMode,
    collection_due_on,
    income_collection_tasks,
    income_period,
    record_income,
    record_visit,
    visit_tasks,
)
from fangpin_assistance.domain.parameters import AssistanceParameters


def subject(
    situation: HouseholdSituation,
    since: date,
    monitored_since: date | None = None,
    monitored_until: date | None = None,
) -> FollowUpSubject:
    return FollowUpSubject(
        household_id="H000001",
        situation=situation,
        situation_since=since,
        contact_cadres=("cadre-1",),
        monitored_since=monitored_since,
        monitored_until=monitored_until,
    )


def due_dates(tasks: tuple[TaskDue, ...]) -> list[date]:
    return [task.due_on for task in tasks]


def test_unresolved_household_is_visited_monthly(
    params: AssistanceParameters, t0: datetime
) -> None:
    unresolved = subject(HouseholdSituation.UNRESOLVED, date(2024, 1, 15))
    tasks = visit_tasks(unresolved, [], date(2024, 1, 1), date(2024, 5, 31), t0, params)
    assert due_dates(tasks) == [date(2024, m, 15) for m in (2, 3, 4, 5)]
    assert {t.kind for t in tasks} == {TaskKind.VISIT}
    assert tasks[0].assignees == ("cadre-1",)
    assert tasks[0].task_id == "visit:H000001:2024-02-15"


def test_eliminated_household_is_visited_every_six_months(
    params: AssistanceParameters, t0: datetime
) -> None:
    eliminated = subject(HouseholdSituation.ELIMINATED, date(2024, 3, 20))
    tasks = visit_tasks(eliminated, [], date(2024, 1, 1), date(2025, 12, 31), t0, params)
    assert due_dates(tasks) == [date(2024, 9, 20), date(2025, 3, 20), date(2025, 9, 20)]


def test_stable_formerly_poor_household_is_visited_yearly(
    params: AssistanceParameters, t0: datetime
) -> None:
    stable = subject(HouseholdSituation.STABLE_LIFTED, date(2020, 12, 1))
    tasks = visit_tasks(
        stable, [date(2023, 8, 8)], date(2024, 1, 1), date(2025, 12, 31), t0, params
    )
    assert due_dates(tasks) == [date(2024, 8, 8), date(2025, 8, 8)]


def test_next_visit_counts_from_the_latest_visit_in_the_current_situation(
    params: AssistanceParameters, t0: datetime
) -> None:
    eliminated = subject(HouseholdSituation.ELIMINATED, date(2024, 3, 20))
    visits = [date(2024, 3, 1), date(2024, 6, 2)]  # the first predates the elimination
    tasks = visit_tasks(eliminated, visits, date(2024, 6, 3), date(2025, 6, 30), t0, params)
    assert due_dates(tasks) == [date(2024, 12, 2), date(2025, 6, 2)]


def test_monthly_visits_from_a_month_end_clamp_without_drifting(
    params: AssistanceParameters, t0: datetime
) -> None:
    unresolved = subject(HouseholdSituation.UNRESOLVED, date(2024, 1, 31))
    tasks = visit_tasks(unresolved, [], date(2024, 2, 1), date(2024, 4, 30), t0, params)
    assert due_dates(tasks) == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_overlapping_windows_emit_the_same_task_ids(
    params: AssistanceParameters, t0: datetime
) -> None:
    unresolved = subject(HouseholdSituation.UNRESOLVED, date(2024, 1, 15))
    first = visit_tasks(unresolved, [], date(2024, 2, 1), date(2024, 3, 31), t0, params)
    second = visit_tasks(unresolved, [], date(2024, 3, 1), date(2024, 4, 30), t0, params)
    assert {t.task_id for t in first} & {t.task_id for t in second} == {"visit:H000001:2024-03-15"}


def test_income_is_collected_by_the_tenth_of_each_quarters_first_month(
    params: AssistanceParameters, t0: datetime
) -> None:
    monitored = subject(HouseholdSituation.UNRESOLVED, date(2023, 11, 5), date(2023, 11, 5))
    tasks = income_collection_tasks(monitored, [], date(2024, 1, 1), date(2024, 12, 31), t0, params)
    assert due_dates(tasks) == [date(2024, m, 10) for m in (1, 4, 7, 10)]
    first = tasks[0]
    assert first.kind is TaskKind.INCOME_COLLECTION
    assert (first.period_start, first.period_end) == (date(2023, 10, 1), date(2023, 12, 31))
    assert first.task_id == "income:H000001:2023-10-01"


def test_income_already_collected_or_from_before_monitoring_is_not_asked_for(
    params: AssistanceParameters, t0: datetime
) -> None:
    monitored = subject(HouseholdSituation.UNRESOLVED, date(2024, 5, 10), date(2024, 5, 10))
    q2 = income_period(date(2024, 5, 10), params)
    tasks = income_collection_tasks(
        monitored, [q2], date(2024, 1, 1), date(2024, 12, 31), t0, params
    )
    assert [(t.period_start, t.due_on) for t in tasks] == [(date(2024, 7, 1), date(2024, 10, 10))]


def test_eliminated_households_keep_income_collection_until_they_leave_monitoring(
    params: AssistanceParameters, t0: datetime
) -> None:
    left = subject(
        HouseholdSituation.ELIMINATED, date(2024, 3, 1), date(2023, 1, 1), date(2024, 5, 31)
    )
    tasks = income_collection_tasks(left, [], date(2024, 1, 1), date(2024, 12, 31), t0, params)
    assert due_dates(tasks) == [date(2024, 1, 10), date(2024, 4, 10), date(2024, 7, 10)]


def test_households_never_monitored_get_no_income_collection(
    params: AssistanceParameters, t0: datetime
) -> None:
    stable = subject(HouseholdSituation.STABLE_LIFTED, date(2020, 12, 1))
    assert (
        income_collection_tasks(stable, [], date(2024, 1, 1), date(2024, 12, 31), t0, params) == ()
    )


def test_collection_periods_follow_the_interval_parameter(params: AssistanceParameters) -> None:
    halves = AssistanceParameters.from_mapping(
        {**params.__dict__, "income_collection_interval_months": 6, "income_collection_day": 15}
    )
    period = income_period(date(2024, 8, 1), halves)
    assert period == IncomePeriod(date(2024, 7, 1), date(2024, 12, 31))
    assert collection_due_on(period, halves) == date(2025, 1, 15)


def test_window_ending_before_it_starts_is_refused(
    params: AssistanceParameters, t0: datetime
) -> None:
    unresolved = subject(HouseholdSituation.UNRESOLVED, date(2024, 1, 15))
    with pytest.raises(FollowUpError, match="before it starts"):
        visit_tasks(unresolved, [], date(2024, 2, 1), date(2024, 1, 1), t0, params)


def test_recorded_income_carries_the_net_for_screening(
    params: AssistanceParameters, t0: datetime
) -> None:
    q1 = income_period(date(2024, 2, 1), params)
    figures = IncomeFigures(wage=3000.5, business=800, transfer=450.25, production_costs=300)
    event = record_income("H000001", q1, figures, 3, CollectionMethod.PHONE, "cadre-1", t0, params)
    assert event.net == 3950.75
    assert (event.period_start, event.period_end, event.members) == (
        date(2024, 1, 1),
        date(2024, 3, 31),
        3,
    )
    assert event.method == "phone"


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (IncomePeriod(date(2024, 2, 1), date(2024, 4, 30)), "not a collection period"),
        (IncomePeriod(date(2024, 4, 1), date(2024, 6, 30)), "has not ended"),
    ],
)
def test_income_for_a_partial_or_unfinished_period_is_refused(
    params: AssistanceParameters, t0: datetime, period: IncomePeriod, message: str
) -> None:
    with pytest.raises(FollowUpError, match=message):
        record_income(
            "H000001", period, IncomeFigures(wage=1), 2, CollectionMethod.IN_PERSON, "c", t0, params
        )


def test_negative_income_components_are_refused() -> None:
    with pytest.raises(FollowUpError, match="wage: must not be negative"):
        IncomeFigures(wage=-1)


def test_a_visit_cannot_be_recorded_in_the_future(t0: datetime) -> None:
    event = record_visit("H000001", t0.date(), "cadre-1", VisitMode.IN_PERSON, t0)
    assert event.mode == "in_person"
    with pytest.raises(FollowUpError, match="after"):
        record_visit("H000001", date(2030, 1, 1), "cadre-1", VisitMode.PHONE, t0)
