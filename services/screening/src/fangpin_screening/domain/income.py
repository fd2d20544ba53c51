"""Quarterly income history (按季度) from collected income periods, for the elimination checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .elimination import QuarterIncome


@dataclass(frozen=True)
class CollectedIncome:
    """Per-capita net income of one collection period (收入采集), as follow-up recorded it."""

    period_start: date
    period_end: date
    per_capita: float

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise ValueError(f"period ends {self.period_end} before it starts {self.period_start}")

    @property
    def months(self) -> int:
        """Calendar months the period spans (a quarter is 3)."""
        return _month_index(self.period_end) - _month_index(self.period_start) + 1


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarterly_history(periods: Iterable[CollectedIncome]) -> list[QuarterIncome]:
    """The annual per-capita income at the end of each quarter in which a period ends.

    A quarter's figure is the per-capita net income of the 12 months up to its last day: the
    sum over the collected periods inside that window, scaled to 12 months when the household
    has fewer months on record (a household monitored for two quarters is judged on those two,
    annualized). Comparing it with the yearly monitoring threshold is then like for like.
    Quarters are returned in order; a quarter without a period ending in it has no figure.
    """
    collected = sorted(periods, key=lambda p: p.period_start)
    quarters = sorted({_quarter_of(p.period_end) for p in collected})
    history: list[QuarterIncome] = []
    for year, quarter in quarters:
        end = QuarterIncome(year, quarter, 0.0).end
        first_month = _month_index(end) - 11
        inside = [
            p
            for p in collected
            if _month_index(p.period_start) >= first_month and p.period_end <= end
        ]
        months = sum(p.months for p in inside)
        if not months:
            continue  # the only periods ending here started more than 12 months earlier
        total = sum(p.per_capita for p in inside)
        history.append(QuarterIncome(year, quarter, round(total * 12 / months, 2)))
    return history
