"""Every screening rule of DOMAIN.md section 3: scope, categories, exclusions, risks, referrals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from screening_support import AS_OF, household, member, ruleset

from fangpin_screening.domain.codes import EXCLUSIONS, RISK_TYPES
from fangpin_screening.domain.engine import Decision, decide, export_risk_types

LOW = 5000.0  # per capita, in scope under the 7300 threshold
HIGH = 20000.0  # per capita, out of scope


def screen(**kwargs: Any) -> Decision:
    return decide(household(**kwargs), ruleset())


def entry(decision: Decision, rule: str) -> dict[str, Any]:
    return next(e.to_dict() for e in decision.trace if e.rule == rule)


# -- income, scope and category -------------------------------------------------------


def test_per_capita_equal_to_threshold_is_not_below_it() -> None:
    decision = screen(per_capita=7300.0)
    assert decision.per_capita == 7300.0
    assert not decision.in_scope
    assert decision.category is None
    assert entry(decision, "income_below_threshold")["hit"] is False


def test_per_capita_one_fen_below_threshold_is_in_scope() -> None:
    decision = screen(per_capita=7299.99)
    assert decision.in_scope and decision.category == "marginal" and decision.eligible


def test_formerly_poor_household_below_threshold_is_unstable_lifted() -> None:
    assert screen(per_capita=LOW, formerly_poor=True).category == "unstable_lifted"


def test_household_above_threshold_with_rigid_costs_is_sudden_hardship() -> None:
    decision = screen(per_capita=8000.0, expenses={"medical_self_paid": 5000})
    assert decision.adjusted_per_capita == 3000.0
    assert decision.in_scope and decision.category == "sudden_hardship"


def test_adjusted_equal_to_threshold_is_not_sudden_hardship() -> None:
    decision = screen(per_capita=8000.0, expenses={"accident_cost": 700})
    assert decision.adjusted_per_capita == 7300.0
    assert not decision.in_scope


def test_net_income_counts_all_four_sources_minus_production_costs() -> None:
    income = {
        "wage": 1000,
        "business": 2000,
        "property": 300,
        "transfer": 400,
        "production_costs": 700,
    }
    expenses = {
        "medical_self_paid": 100,
        "education_self_paid": 200,
        "disaster_loss": 300,
        "accident_cost": 400,
    }
    decision = screen(
        members=[member(), member(relation="spouse")], income=income, expenses=expenses
    )
    assert decision.per_capita == 1500.0
    assert decision.adjusted_per_capita == 1000.0


def test_figures_are_rounded_to_the_fen() -> None:
    decision = screen(members=[member()] * 3, income={"business": 10000})
    assert decision.per_capita == 3333.33
    assert decision.adjusted_per_capita == 3333.33


def test_members_with_urban_registration_and_urban_security_are_not_counted() -> None:
    people = [
        member(),
        member(relation="spouse", hukou="urban", urban_security=True),
        member(relation="child", hukou="collective", urban_security=True),
        member(relation="parent", hukou="urban", urban_security=False),
    ]
    decision = screen(members=people, income={"business": 12000})
    assert entry(decision, "no_countable_members")["values"] == {
        "members": 4,
        "countable_members": 2,
    }
    assert decision.per_capita == 6000.0


def test_relocated_household_without_urban_security_is_in_scope() -> None:
    people = [member(hukou="urban"), member(relation="spouse", hukou="urban")]
    decision = screen(members=people, income={"business": 8000}, relocated=True)
    assert decision.in_scope and decision.per_capita == 4000.0


def test_household_with_no_countable_member_is_never_in_scope() -> None:
    people = [member(hukou="urban", urban_security=True)]
    decision = screen(members=people, income={"business": 100})
    assert entry(decision, "no_countable_members")["hit"] is True
    assert not decision.in_scope and decision.category is None
    assert decision.per_capita == 100.0  # divided by the listed members


# -- exclusions ---------------------------------------------------------------------------

EXCLUSION_FACTS: dict[str, dict[str, Any]] = {
    "public_employee": {"members": [member(employment="public_employee")]},
    "village_leader": {"members": [member(village_leader=True)]},
    "business_owner": {"assets": {"business_registered": True}},
    "town_property": {"assets": {"town_property": True}},
    "vehicle_machinery": {"assets": {"vehicle": True}},
    "financial_assets": {"assets": {"financial_assets": True}},
    "high_fee_schooling": {"members": [member(high_fee_school=True)]},
    "supporters_able": {"flags": {"supporters_able": True}},
    "illegal_conduct": {"flags": {"illegal_conduct": True}},
    "unwilling_to_work": {"flags": {"unwilling_to_work": True}},
    "refused_asset_check": {"flags": {"refused_asset_check": True}},
    "absent_over_year": {"flags": {"absent_over_year": True}},
}


def test_every_exclusion_has_a_case() -> None:
    assert set(EXCLUSION_FACTS) == set(EXCLUSIONS)


@pytest.mark.parametrize("code", EXCLUSIONS)
def test_exclusion_makes_an_in_scope_household_need_appraisal(code: str) -> None:
    decision = screen(per_capita=LOW, **EXCLUSION_FACTS[code])
    assert decision.excluded_by == (code,)
    assert decision.in_scope
    assert decision.eligible is False
    assert decision.needs_appraisal is True
    assert entry(decision, f"exclusion.{code}")["hit"] is True


@pytest.mark.parametrize("code", EXCLUSIONS)
def test_exclusion_is_listed_for_a_household_out_of_scope(code: str) -> None:
    decision = screen(per_capita=HIGH, **EXCLUSION_FACTS[code])
    assert decision.excluded_by == (code,)
    assert not decision.in_scope
    assert decision.needs_appraisal is False and decision.eligible is False


def test_machinery_alone_is_the_vehicle_machinery_exclusion() -> None:
    assert screen(per_capita=LOW, assets={"machinery": True}).excluded_by == ("vehicle_machinery",)


def test_all_exclusions_are_listed_sorted() -> None:
    decision = screen(
        per_capita=LOW,
        members=[member(village_leader=True, employment="public_employee")],
        flags={"absent_over_year": True},
        assets={"financial_assets": True},
    )
    assert decision.excluded_by == (
        "absent_over_year",
        "financial_assets",
        "public_employee",
        "village_leader",
    )


# -- risk types ---------------------------------------------------------------------------


def risks(**kwargs: Any) -> tuple[str, ...]:
    kwargs.setdefault("per_capita", LOW)
    return screen(**kwargs).risk_types


def event(kind: str, day: date) -> dict[str, Any]:
    return {"kind": kind, "date": day.isoformat(), "loss": 1000}


@pytest.mark.parametrize("illness", ["chronic", "serious"])
def test_member_illness_is_the_illness_risk(illness: str) -> None:
    assert risks(members=[member(illness=illness)]) == ("illness",)


def test_serious_illness_event_in_window_is_the_illness_risk() -> None:
    assert risks(events=[event("serious_illness", AS_OF)]) == ("illness",)


def test_medical_costs_at_the_alert_are_the_illness_risk() -> None:
    assert risks(per_capita=LOW, expenses={"medical_self_paid": 10000}) == ("illness",)
    assert risks(per_capita=LOW, expenses={"medical_self_paid": 9999.99}) == ("other",)


@pytest.mark.parametrize(
    ("grade", "severe"), [(0, False), (1, True), (2, True), (3, False), (4, False)]
)
def test_disability_grade_one_or_two_is_the_disability_risk(grade: int, severe: bool) -> None:
    detected = risks(members=[member(disability_grade=grade)])
    assert ("disability" in detected) is severe


def test_two_members_in_non_compulsory_schooling_are_the_education_risk() -> None:
    people = [member(), member(relation="child", school_stage="senior")]
    assert "education" not in risks(members=people)
    people.append(member(relation="child", school_stage="college"))
    assert "education" in risks(members=people)


def test_compulsory_schooling_does_not_count_for_the_education_risk() -> None:
    people = [member(), *(member(relation="child", school_stage=s) for s in ("primary", "junior"))]
    assert "education" not in risks(members=people)


def test_schooling_costs_at_the_alert_are_the_education_risk() -> None:
    assert "education" in risks(per_capita=8000, expenses={"education_self_paid": 10000})
    assert risks(per_capita=LOW, expenses={"education_self_paid": 9999}) == ("other",)


@pytest.mark.parametrize("kind", ["disaster", "accident", "industry_failure"])
def test_event_in_window_is_its_risk_type(kind: str) -> None:
    assert risks(events=[event(kind, AS_OF - timedelta(days=30))]) == (kind,)


@pytest.mark.parametrize(
    ("days_before", "inside"),
    [(-1, False), (0, True), (1, True), (364, True), (365, False), (800, False)],
)
def test_income_window_is_365_days_up_to_and_including_as_of(
    days_before: int, inside: bool
) -> None:
    day = AS_OF - timedelta(days=days_before)
    assert (risks(events=[event("disaster", day)]) == ("disaster",)) is inside


def test_job_loss_in_window_is_unstable_employment() -> None:
    assert risks(events=[event("job_loss", AS_OF - timedelta(days=10))]) == ("unstable_employment",)


@pytest.mark.parametrize(
    ("wage", "business", "migrant", "risky"),
    [
        (6000, 4000, True, True),  # wage exactly 60% of gross
        (5999, 4001, True, False),
        (10000, 0, False, False),  # no unstable migrant member
        (0, 0, True, False),  # no gross income
    ],
)
def test_wage_dependence_with_unstable_migrant_work(
    wage: float, business: float, migrant: bool, risky: bool
) -> None:
    employment = "migrant_unstable" if migrant else "local_job"
    people = [member(employment=employment), member(relation="spouse")]
    detected = risks(per_capita=None, members=people, income={"wage": wage, "business": business})
    assert ("unstable_employment" in detected) is risky


def test_no_member_with_full_labor_is_labor_shortage() -> None:
    people = [member(labor_capacity="weak"), member(relation="spouse", labor_capacity="semi")]
    assert risks(members=people) == ("labor_shortage",)
    people.append(member(relation="child", labor_capacity="full"))
    assert risks(members=people) == ("other",)


def test_unsafe_housing_and_water_are_risk_types() -> None:
    assert risks(housing_safe=False) == ("housing",)
    assert risks(drinking_water_safe=False) == ("drinking_water",)


def test_in_scope_household_with_no_risk_detected_is_other() -> None:
    decision = screen(per_capita=LOW)
    assert decision.risk_types == ("other",)
    assert entry(decision, "risk.other")["values"] == {"in_scope": True, "risk_types_detected": 0}


def test_household_out_of_scope_lists_no_risk_types() -> None:
    decision = screen(per_capita=HIGH, housing_safe=False)
    assert decision.risk_types == ()
    assert entry(decision, "risk.housing")["hit"] is True  # the trace still shows the detection


def test_every_detected_risk_type_is_listed_sorted() -> None:
    people = [
        member(labor_capacity="none", illness="serious", disability_grade=1),
        member(relation="child", labor_capacity="none", school_stage="senior"),
        member(relation="child", labor_capacity="none", school_stage="vocational"),
    ]
    decision = screen(
        per_capita=LOW,
        members=people,
        housing_safe=False,
        drinking_water_safe=False,
        events=[event("accident", AS_OF), event("disaster", AS_OF)],
    )
    expected = {
        "illness",
        "disability",
        "education",
        "accident",
        "disaster",
        "labor_shortage",
        "housing",
        "drinking_water",
    }
    assert decision.risk_types == tuple(sorted(expected))
    assert export_risk_types(decision, 5) == (
        "illness",
        "disability",
        "education",
        "disaster",
        "accident",
    )


def test_export_keeps_every_risk_type_under_the_limit_in_table_order() -> None:
    decision = screen(per_capita=LOW, housing_safe=False, members=[member(illness="chronic")])
    assert export_risk_types(decision, 5) == ("illness", "housing")
    assert set(RISK_TYPES) >= set(decision.risk_types)


# -- referrals (failed guarantees) -----------------------------------------------------------


def child(birth: date, **fields: Any) -> dict[str, Any]:
    return member(birth, relation="child", labor_capacity="none", **fields)


@pytest.mark.parametrize(
    ("birth", "referred"),
    [
        (date(2018, 6, 29), True),  # sixth birthday on the as-of date
        (date(2018, 6, 30), False),  # still five
        (date(2008, 6, 30), True),  # fifteen, sixteen tomorrow
        (date(2008, 6, 29), False),  # sixteenth birthday on the as-of date
    ],
)
def test_out_of_school_member_aged_6_to_15_is_a_compulsory_education_referral(
    birth: date, referred: bool
) -> None:
    decision = screen(per_capita=HIGH, members=[member(), child(birth, out_of_school=True)])
    assert ("compulsory_education" in decision.referrals) is referred


def test_school_age_member_in_school_is_no_referral() -> None:
    decision = screen(per_capita=HIGH, members=[member(), child(date(2012, 1, 1))])
    assert decision.referrals == ()


def test_school_age_uses_feb_28_for_a_leap_day_as_of() -> None:
    leap = date(2024, 2, 29)
    people = [member(), child(date(2018, 2, 28), out_of_school=True)]
    decision = decide(household(per_capita=HIGH, members=people), ruleset(as_of=leap))
    assert decision.referrals == ("compulsory_education",)


def test_failed_guarantees_of_a_household_out_of_scope_are_referrals() -> None:
    decision = screen(
        per_capita=HIGH,
        members=[member(medical_insured=False)],
        housing_safe=False,
        drinking_water_safe=False,
    )
    assert decision.referrals == ("drinking_water", "housing", "medical_insurance")


def test_household_in_scope_gets_no_referrals() -> None:
    decision = screen(per_capita=LOW, members=[member(medical_insured=False)], housing_safe=False)
    assert decision.referrals == ()
    assert decision.risk_types == ("housing",)


# -- parameters are data ----------------------------------------------------------------------


def test_threshold_comes_from_the_ruleset() -> None:
    h = household(per_capita=8000.0)
    assert not decide(h, ruleset()).in_scope
    assert decide(h, ruleset(monitoring_threshold=8500)).in_scope


def test_alerts_and_window_come_from_the_ruleset() -> None:
    h = household(per_capita=LOW, expenses={"medical_self_paid": 6000})
    assert "illness" not in decide(h, ruleset()).risk_types
    assert "illness" in decide(h, ruleset(medical_alert=5000)).risk_types
    old = household(per_capita=LOW, events=[event("disaster", AS_OF - timedelta(days=400))])
    assert "disaster" not in decide(old, ruleset()).risk_types
    assert "disaster" in decide(old, ruleset(income_window_days=730)).risk_types
