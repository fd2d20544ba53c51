"""Planner: every risk type and labor situation gets a consistent, rule-abiding plan."""

from collections.abc import Callable
from datetime import date

import pytest

from fangpin_assistance.domain.catalog import Catalog, CatalogSource, load_catalog
from fangpin_assistance.domain.codes import (
    LaborCapacity,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
)
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import MeasureSpec, check_rules
from fangpin_assistance.domain.planner import propose_measures

LABOR_SITUATIONS = {
    "full": (LaborCapacity.FULL, LaborCapacity.NONE),
    "weak_only": (LaborCapacity.WEAK, LaborCapacity.NONE),
    "semi_only": (LaborCapacity.SEMI,),
    "no_labor": (LaborCapacity.NONE, LaborCapacity.NONE),
}


def _members(
    make_member: Callable[..., MemberSummary], situation: str
) -> tuple[MemberSummary, ...]:
    return tuple(
        make_member(f"m{i}", labor) for i, labor in enumerate(LABOR_SITUATIONS[situation], 1)
    )


def _keys(specs: tuple[MeasureSpec, ...]) -> list[str]:
    return [spec.measure_key for spec in specs]


def _rules_broken(
    household: HouseholdSummary,
    specs: tuple[MeasureSpec, ...],
    catalog: Catalog,
    params: AssistanceParameters,
) -> list[str]:
    subs = [catalog.sub_measure(spec.measure_key) for spec in specs]
    return [v.name for v in check_rules(household, subs, 1, catalog, params)]


@pytest.mark.parametrize("situation", list(LABOR_SITUATIONS))
@pytest.mark.parametrize("risk", list(RiskType))
def test_every_risk_type_in_every_labor_situation_gets_a_plan_that_breaks_no_rule(
    risk: RiskType,
    situation: str,
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(risk, members=_members(make_member, situation))
    specs = propose_measures(household, catalog)
    assert specs
    assert _rules_broken(household, specs, catalog, params) == []
    subs = [catalog.sub_measure(spec.measure_key) for spec in specs]
    if household.has_labor:
        assert any(sub.developmental for sub in subs)
        assert not all(sub.safety_net for sub in subs)
    else:
        assert any(sub.safety_net for sub in subs)


@pytest.mark.parametrize("referral", list(Referral))
def test_every_failed_guarantee_gets_its_targeted_measure(
    referral: Referral,
    catalog: Catalog,
    params: AssistanceParameters,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.OTHER, referrals=(referral,))
    specs = propose_measures(household, catalog)
    assert f"guarantee:{referral}" in {basis for spec in specs for basis in spec.basis}
    assert _rules_broken(household, specs, catalog, params) == []


def test_combined_risks_get_one_combined_plan_without_duplicate_measures(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.HOUSING,
        RiskType.DISASTER,
        RiskType.ACCIDENT,
        members=(make_member("m1"),),
        referrals=(Referral.HOUSING,),
    )
    specs = propose_measures(household, catalog)
    keys = _keys(specs)
    assert len(keys) == len(set(keys))
    relief = next(s for s in specs if s.measure_key == "safety_net.temporary_relief")
    assert relief.basis == ("risk:disaster", "risk:accident")
    housing = next(s for s in specs if s.measure_key == "housing.dilapidated_renovation")
    assert housing.basis == ("risk:housing", "guarantee:housing")


def test_full_labor_household_without_a_developmental_risk_measure_gets_job_placement(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.ILLNESS, members=(make_member("m1", LaborCapacity.NONE), make_member("m2"))
    )
    specs = propose_measures(household, catalog)
    placement = next(s for s in specs if s.measure_key == "employment.job_placement")
    assert placement.beneficiary == "m2"
    assert placement.basis == ("rule:developmental_required",)


def test_weak_and_semi_labor_household_gets_a_public_welfare_post_as_developmental_measure(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.ILLNESS,
        members=(make_member("m1", LaborCapacity.NONE), make_member("m2", LaborCapacity.WEAK)),
    )
    specs = propose_measures(household, catalog)
    post = next(s for s in specs if s.measure_key == "public_post.village_public_post")
    assert post.beneficiary == "m2"


def test_labor_household_on_dibao_keeps_dibao_and_still_gets_a_developmental_measure(
    catalog: Catalog, make_household: Callable[..., HouseholdSummary]
) -> None:
    household = make_household(RiskType.DISABILITY, safety_net=SafetyNet.DIBAO)
    keys = _keys(propose_measures(household, catalog))
    assert "safety_net.dibao" in keys
    assert "employment.job_placement" in keys


def test_whole_no_labor_household_in_tekun_gets_tekun_not_a_new_dibao_application(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.ILLNESS,
        members=(make_member("m1", LaborCapacity.NONE),),
        safety_net=SafetyNet.TEKUN,
    )
    keys = _keys(propose_measures(household, catalog))
    assert keys == ["health.medical_assistance", "safety_net.tekun"]


def test_whole_no_labor_household_off_the_safety_net_is_proposed_for_dibao(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.HOUSING, members=(make_member("m1", LaborCapacity.NONE),))
    specs = propose_measures(household, catalog)
    dibao = next(s for s in specs if s.measure_key == "safety_net.dibao")
    assert dibao.basis == ("rule:whole_no_labor",)


def test_education_aid_goes_to_each_student_by_school_stage(
    catalog: Catalog,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.EDUCATION,
        members=(
            make_member("m1"),
            make_member("m2", LaborCapacity.NONE, SchoolStage.VOCATIONAL, date(2026, 6, 30)),
            make_member("m3", LaborCapacity.NONE, SchoolStage.SENIOR, date(2025, 6, 30)),
            make_member("m4", LaborCapacity.NONE, SchoolStage.PRIMARY),
        ),
    )
    by_member = {
        spec.beneficiary: spec.measure_key
        for spec in propose_measures(household, catalog)
        if spec.measure_key.startswith("education.")
    }
    assert by_member == {"m2": "education.rain_dew", "m3": "education.student_aid"}


def test_education_risk_without_students_in_non_compulsory_stages_falls_back_to_hardship_grant(
    catalog: Catalog, make_household: Callable[..., HouseholdSummary]
) -> None:
    specs = propose_measures(make_household(RiskType.EDUCATION), catalog)
    assert "education.hardship_grant" in _keys(specs)


def test_county_proposals_come_before_the_baseline(
    make_household: Callable[..., HouseholdSummary],
) -> None:
    county = load_catalog(
        extensions=[
            CatalogSource(
                "county.yaml",
                "risks: {illness: {propose: [{measure: health.family_doctor}]}}",
            )
        ]
    )
    keys = _keys(propose_measures(make_household(RiskType.ILLNESS), county))
    assert keys[:2] == ["health.family_doctor", "health.medical_assistance"]
