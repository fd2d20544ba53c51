"""Risk elimination (风险消除) conditions, safety-net holds and roll-back (回退) detection."""

from __future__ import annotations

from datetime import date

import pytest
from screening_support import household, member, ruleset

from fangpin_screening.domain.elimination import (
    GUARANTEES_NOT_CONSOLIDATED,
    INCOME_NOT_STABLE,
    NEW_RISKS,
    RISKS_REMAIN,
    ROLLBACK_GUARANTEE,
    ROLLBACK_IN_SCOPE,
    ROLLBACK_INCOME,
    STILL_IN_SCOPE,
    QuarterIncome,
    check_elimination,
    check_rollback,
    safety_net_held,
    stable_months,
)

AS_OF = date(2024, 7, 15)  # Q2 2024 is the last quarter ended
ABOVE = 9000.0


def history(*values: float, last: tuple[int, int] = (2024, 2)) -> list[QuarterIncome]:
    """Quarters ending with `last`, oldest first."""
    year, quarter = last
    quarters = []
    for value in reversed(values):
        quarters.append(QuarterIncome(year, quarter, value))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return list(reversed(quarters))


def test_quarter_end_dates() -> None:
    assert QuarterIncome(2024, 1, 0).end == date(2024, 3, 31)
    assert QuarterIncome(2024, 2, 0).end == date(2024, 6, 30)
    assert QuarterIncome(2023, 4, 0).end == date(2023, 12, 31)
    with pytest.raises(ValueError):
        QuarterIncome(2024, 5, 0)


def test_stable_months_count_consecutive_quarters_above_threshold() -> None:
    assert stable_months(history(ABOVE, ABOVE, ABOVE), AS_OF, 7300) == 9
    assert stable_months(history(ABOVE, 7000, ABOVE), AS_OF, 7300) == 3
    assert stable_months(history(ABOVE, 7300), AS_OF, 7300) == 0  # equal is not above


def test_a_missing_quarter_ends_the_stable_run() -> None:
    gap = [
        QuarterIncome(2023, 3, ABOVE),
        QuarterIncome(2024, 1, ABOVE),
        QuarterIncome(2024, 2, ABOVE),
    ]
    assert stable_months(gap, AS_OF, 7300) == 6
    stale = history(ABOVE, ABOVE, last=(2024, 1))  # Q2 not collected
    assert stable_months(stale, AS_OF, 7300) == 0


def test_quarters_after_as_of_are_ignored() -> None:
    assert stable_months(history(ABOVE, ABOVE, 100, last=(2024, 3)), AS_OF, 7300) == 6


def test_stable_household_with_guarantees_and_no_risk_is_eligible_naturally() -> None:
    h = household(per_capita=ABOVE)
    check = check_elimination(h, {"illness"}, history(ABOVE, ABOVE), 0, ruleset(AS_OF))
    assert check.status == "eligible"
    assert check.mode == "natural"
    assert check.failing == ()
    assert check.values["stable_months"] == 6


def test_income_stable_for_less_than_six_months_is_not_yet() -> None:
    h = household(per_capita=ABOVE)
    check = check_elimination(h, set(), history(7000, ABOVE), 0, ruleset(AS_OF))
    assert check.status == "not_yet"
    assert check.failing == (INCOME_NOT_STABLE,)


def test_failed_guarantee_blocks_elimination() -> None:
    h = household(per_capita=ABOVE, members=[member(medical_insured=False)])
    check = check_elimination(h, set(), history(ABOVE, ABOVE), 1, ruleset(AS_OF))
    assert check.failing == (GUARANTEES_NOT_CONSOLIDATED,)
    assert check.values["failed_guarantees"] == ["medical_insurance"]


def test_identified_risk_still_present_blocks_natural_but_not_assisted_elimination() -> None:
    h = household(per_capita=ABOVE, members=[member(illness="chronic")])
    natural = check_elimination(h, {"illness"}, history(ABOVE, ABOVE), 0, ruleset(AS_OF))
    assert natural.failing == (RISKS_REMAIN,)
    assisted = check_elimination(h, {"illness"}, history(ABOVE, ABOVE), 2, ruleset(AS_OF))
    assert assisted.status == "eligible" and assisted.mode == "assisted"


def test_new_risk_blocks_elimination_even_with_measures() -> None:
    h = household(per_capita=ABOVE, members=[member(disability_grade=1)])
    check = check_elimination(h, {"illness"}, history(ABOVE, ABOVE), 3, ruleset(AS_OF))
    assert check.failing == (NEW_RISKS,)
    assert check.values["new_risks"] == ["disability"]


def test_household_still_in_scope_is_not_yet() -> None:
    h = household(per_capita=ABOVE, expenses={"medical_self_paid": 5000})
    check = check_elimination(h, {"illness"}, history(ABOVE, ABOVE), 1, ruleset(AS_OF))
    assert STILL_IN_SCOPE in check.failing


@pytest.mark.parametrize(
    ("safety_net", "labor", "held"),
    [
        ("tekun", "full", True),
        ("dibao_full", "none", True),
        ("dibao_full", "weak", False),
        ("dibao", "none", False),
        ("none", "none", False),
    ],
)
def test_no_labor_safety_net_households_are_held_never_eliminated(
    safety_net: str, labor: str, held: bool
) -> None:
    h = household(per_capita=ABOVE, members=[member(labor_capacity=labor)], safety_net=safety_net)
    assert safety_net_held(h) is held
    check = check_elimination(h, set(), history(ABOVE, ABOVE), 0, ruleset(AS_OF))
    assert (check.status == "held") is held
    if held:
        assert check.mode is None and check.failing == ()


def test_eliminated_household_with_a_low_quarter_is_rolled_back() -> None:
    h = household(per_capita=ABOVE)
    quarters = history(ABOVE, 7000, ABOVE)  # Q4 2023, Q1 2024, Q2 2024
    check = check_rollback(h, date(2023, 12, 31), quarters, ruleset(AS_OF))
    assert check.rollback and check.reasons == (ROLLBACK_INCOME,)
    assert check.values["quarters_below"] == ["2024Q1"]


def test_low_quarters_before_elimination_do_not_roll_back() -> None:
    h = household(per_capita=ABOVE)
    check = check_rollback(h, date(2024, 1, 1), history(7000, ABOVE, ABOVE), ruleset(AS_OF))
    assert not check.rollback and check.reasons == ()


def test_household_screening_in_scope_again_is_rolled_back() -> None:
    h = household(per_capita=5000.0)
    check = check_rollback(h, date(2024, 1, 1), [], ruleset(AS_OF))
    assert check.reasons == (ROLLBACK_IN_SCOPE,)
    assert check.values["category"] == "marginal"


def test_failed_guarantee_after_elimination_is_rolled_back() -> None:
    h = household(per_capita=ABOVE, drinking_water_safe=False)
    check = check_rollback(h, date(2024, 1, 1), history(ABOVE, ABOVE), ruleset(AS_OF))
    assert check.reasons == (ROLLBACK_GUARANTEE,)
