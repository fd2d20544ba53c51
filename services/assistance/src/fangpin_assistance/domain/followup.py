"""Follow-up duties: visit and income-collection schedules, recorded visits and incomes."""

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fangpin_assistance.domain.codes import HouseholdSituation
from fangpin_assistance.domain.dates import add_months, period_start
from fangpin_assistance.domain.events import IncomeRecorded, TaskDue, TaskKind, VisitRecorded
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_kit.clock import china_date

_ONE_DAY = timedelta(days=1)


class FollowUpError(ValueError):
    """A malformed window or record."""


@dataclass(frozen=True)
class FollowUpSubject:
    """A household as the follow-up schedules see it.

    `situation_since` is when the current situation began (identification, elimination,
    exit from poverty). `monitored_since`/`monitored_until` bound the time it was a
    monitored object (监测对象); None means never / still monitored.
    """

    household_id: str
    situation: HouseholdSituation
    situation_since: date
    contact_cadres: tuple[str, ...]
    monitored_since: date | None = None
    monitored_until: date | None = None


def _check_window(start: date, end: date) -> None:
    if end < start:
        raise FollowUpError(f"window ends {end} before it starts {start}")


def visit_tasks(
    subject: FollowUpSubject,
    visits: Iterable[date],
    start: date,
    end: date,
    at: datetime,
    params: AssistanceParameters,
) -> tuple[TaskDue, ...]:
    """Visits falling due in [start, end] (走访: monthly / every 6 months / yearly).

    The next visit is due one interval after the latest visit in the current situation
    (or after the situation began, with no visit yet); later ones are projected one interval
    apart. Task ids are stable, so overlapping windows emit the same task.
    """
    _check_window(start, end)
    interval = params.visit_interval_months(subject.situation)
    recent = [day for day in visits if subject.situation_since <= day <= end]
    anchor = max(recent, default=subject.situation_since)
    tasks: list[TaskDue] = []
    step = 1
    due = add_months(anchor, interval)
    while due <= end:
        if due >= start:
            tasks.append(
                TaskDue(
                    household_id=subject.household_id,
                    occurred_at=at,
                    task_id=f"visit:{subject.household_id}:{due.isoformat()}",
                    kind=TaskKind.VISIT,
                    due_on=due,
                    assignees=subject.contact_cadres,
                )
            )
        step += 1
        due = add_months(anchor, interval * step)
    return tuple(tasks)


@dataclass(frozen=True)
class IncomePeriod:
    """One collection period (a quarter by default)."""

    start: date
    end: date

    @property
    def label(self) -> str:
        """e.g. `2024-04-01..2024-06-30`."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def income_period(day: date, params: AssistanceParameters) -> IncomePeriod:
    """The collection period containing `day`."""
    months = params.income_collection_interval_months
    first = period_start(day, months)
    return IncomePeriod(first, add_months(first, months) - _ONE_DAY)


def collection_due_on(period: IncomePeriod, params: AssistanceParameters) -> date:
    """The period's income is entered by this day of the next period's first month."""
    return (period.end + _ONE_DAY).replace(day=params.income_collection_day)


def income_collection_tasks(
    subject: FollowUpSubject,
    collected: Iterable[IncomePeriod],
    start: date,
    end: date,
    at: datetime,
    params: AssistanceParameters,
) -> tuple[TaskDue, ...]:
    """Income collections falling due in [start, end] for a monitored household.

    Each period during which the household was monitored is collected by the
    `income_collection_day` of the next period's first month (每季度第一个月10日前), unless
    it already was.
    """
    _check_window(start, end)
    if subject.monitored_since is None:
        return ()
    done = {period.start for period in collected}
    months = params.income_collection_interval_months
    tasks: list[TaskDue] = []
    period = income_period(add_months(period_start(start, months), -months), params)
    while (due := collection_due_on(period, params)) <= end:
        monitored = subject.monitored_since <= period.end and (
            subject.monitored_until is None or subject.monitored_until >= period.start
        )
        if due >= start and monitored and period.start not in done:
            tasks.append(
                TaskDue(
                    household_id=subject.household_id,
                    occurred_at=at,
                    task_id=f"income:{subject.household_id}:{period.start.isoformat()}",
                    kind=TaskKind.INCOME_COLLECTION,
                    due_on=due,
                    assignees=subject.contact_cadres,
                    period_start=period.start,
                    period_end=period.end,
                )
            )
        period = income_period(period.end + _ONE_DAY, params)
    return tuple(tasks)


class VisitMode(StrEnum):
    """How the contact was made (入户, or phone/message for households away)."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    MESSAGE = "message"


def record_visit(
    household_id: str, visited_on: date, cadre_id: str, mode: VisitMode, at: datetime
) -> VisitRecorded:
    """A visit took place; it cannot be in the future."""
    if visited_on > china_date(at):
        raise FollowUpError(f"visit on {visited_on} is after {china_date(at)}")
    return VisitRecorded(
        household_id=household_id,
        occurred_at=at,
        visited_on=visited_on,
        cadre_id=cadre_id,
        mode=mode.value,
    )


class CollectionMethod(StrEnum):
    """采集方式: at home, by phone for households away, by a relative or cadre on their behalf."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    PROXY = "proxy"


@dataclass(frozen=True)
class IncomeFigures:
    """Income components of one period in yuan (收入核算口径)."""

    wage: float = 0.0
    business: float = 0.0
    property: float = 0.0
    transfer: float = 0.0
    production_costs: float = 0.0

    def __post_init__(self) -> None:
        for name in ("wage", "business", "property", "transfer", "production_costs"):
            if getattr(self, name) < 0:
                raise FollowUpError(f"{name}: must not be negative")

    @builtins.property  # the `property` field shadows the builtin in this class body
    def net(self) -> float:
        """wage + business + property + transfer - production_costs, to the fen."""
        gross = self.wage + self.business + self.property + self.transfer
        return round(gross - self.production_costs, 2)


def record_income(
    household_id: str,
    period: IncomePeriod,
    figures: IncomeFigures,
    members: int,
    method: CollectionMethod,
    collected_by: str,
    at: datetime,
    params: AssistanceParameters,
) -> IncomeRecorded:
    """Income of one whole, finished collection period; screening takes it from here."""
    if income_period(period.start, params) != period:
        raise FollowUpError(f"{period.label} is not a collection period")
    if period.end >= china_date(at):
        raise FollowUpError(f"{period.label} has not ended on {china_date(at)}")
    if members < 1:
        raise FollowUpError("members: must be at least 1")
    return IncomeRecorded(
        household_id=household_id,
        occurred_at=at,
        period_start=period.start,
        period_end=period.end,
        members=members,
        wage=figures.wage,
        business=figures.business,
        property=figures.property,
        transfer=figures.transfer,
        production_costs=figures.production_costs,
        net=figures.net,
        method=method.value,
        collected_by=collected_by,
    )
