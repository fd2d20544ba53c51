"""What a re-screen announces: a changed decision, or an actionable one never made before."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from screening_support import household, member, ruleset

from fangpin_screening.domain.engine import Decision, decide, decide_batch
from fangpin_screening.domain.rescreen import changed, outcome_key, outcome_keys


def announced(previous: Decision | None, now: Decision) -> bool:
    key = outcome_key(previous) if previous else None
    return changed(key, outcome_key(now), now.in_scope, bool(now.referrals))


def test_an_unchanged_decision_is_not_announced_even_with_other_figures() -> None:
    before = decide(household(per_capita=5000.0), ruleset())
    assert not announced(before, decide(household(per_capita=5100.0), ruleset()))


def test_a_new_threshold_or_scope_or_risk_is_a_change() -> None:
    before = decide(household(per_capita=8000.0), ruleset())
    raised = decide(household(per_capita=8000.0), ruleset(monitoring_threshold=9000))
    assert raised.in_scope and announced(before, raised)
    assert announced(before, replace(before, threshold=7500))
    assert announced(before, replace(before, risk_types=("illness",)))


def test_a_household_never_screened_is_announced_only_when_there_is_something_to_do() -> None:
    assert announced(None, decide(household(per_capita=5000.0), ruleset()))
    assert not announced(None, decide(household(per_capita=20000.0), ruleset()))
    unsafe = decide(household(per_capita=20000.0, housing_safe=False), ruleset())
    assert unsafe.referrals == ("housing",) and announced(None, unsafe)


def test_the_keys_read_from_a_batch_equal_the_keys_of_its_decisions() -> None:
    varied = [
        household(per_capita=5000.0),
        household(per_capita=5000.0, formerly_poor=True, drinking_water_safe=False),
        household(per_capita=20000.0, housing_safe=False),
        household(per_capita=9000.0, expenses={"medical_self_paid": 12000}),
        household([member(illness="serious", employment="public_employee")], per_capita=3000.0),
        household(
            [
                member(labor_capacity="none"),
                member(date(2012, 3, 1), relation="child", out_of_school=True),
            ],
            per_capita=30000.0,
        ),
        household(per_capita=4000.0, assets={"vehicle": True}, flags={"absent_over_year": True}),
    ]
    batch = decide_batch(varied, ruleset())
    assert outcome_keys(batch) == [outcome_key(batch.decision(i)) for i in range(len(batch))]
    assert len(set(outcome_keys(batch))) >= 6  # the households differ in what is compared
