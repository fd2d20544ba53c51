"""Quarterly income history from collected periods: annual per-capita figures per quarter end."""

from __future__ import annotations

from datetime import date

import pytest

from fangpin_screening.domain.elimination import stable_months
from fangpin_screening.domain.income import CollectedIncome, quarterly_history


def quarter(year: int, q: int, per_capita: float) -> CollectedIncome:
    start = date(year, 3 * q - 2, 1)
    end = {1: date(year, 3, 31), 2: date(year, 6, 30), 3: date(year, 9, 30), 4: date(year, 12, 31)}
    return CollectedIncome(start, end[q], per_capita)


def test_a_full_year_of_quarters_sums_to_the_annual_figure() -> None:
    periods = [
        quarter(2023, 3, 2000),
        quarter(2023, 4, 2500),
        quarter(2024, 1, 1500),
        quarter(2024, 2, 2000),
    ]
    history = quarterly_history(periods)
    assert [(q.year, q.quarter) for q in history] == [(2023, 3), (2023, 4), (2024, 1), (2024, 2)]
    assert history[-1].per_capita == 8000.0  # 2000 + 2500 + 1500 + 2000


def test_fewer_than_twelve_months_on_record_are_annualized() -> None:
    history = quarterly_history([quarter(2024, 1, 2500), quarter(2024, 2, 2600)])
    assert [q.per_capita for q in history] == [10000.0, 10200.0]


def test_periods_older_than_twelve_months_leave_the_window() -> None:
    periods = [quarter(2023, 1, 9000), quarter(2023, 2, 1000), quarter(2023, 3, 1000)]
    periods += [quarter(2023, 4, 1000), quarter(2024, 1, 1000)]
    assert quarterly_history(periods)[-1].per_capita == 4000.0  # 2023Q1 is out of 2024Q1's year


def test_monthly_periods_form_the_figure_of_the_quarter_they_end_in() -> None:
    months = [CollectedIncome(date(2024, m, 1), date(2024, m, 28), 700.0) for m in (4, 5, 6)]
    [q2] = quarterly_history(months)
    assert (q2.year, q2.quarter, q2.per_capita) == (2024, 2, 8400.0)


def test_the_history_feeds_the_stable_months_of_the_elimination_check() -> None:
    history = quarterly_history([quarter(2024, 1, 2500), quarter(2024, 2, 2600)])
    assert stable_months(history, date(2024, 7, 15), 7300) == 6
    assert stable_months(history, date(2024, 10, 15), 7300) == 0  # 2024Q3 not collected


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        CollectedIncome(date(2024, 4, 1), date(2024, 3, 31), 100.0)
