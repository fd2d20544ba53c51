"""Replacement proposals for a rejected measure: same need, never what was refused."""

from collections.abc import Callable
from datetime import datetime

from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import LaborCapacity, ReplyKind, RiskType, SchoolStage
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.measure import DepartmentReply
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import MeasureSpec, Plan
from fangpin_assistance.domain.planner import propose_measures
from fangpin_assistance.domain.replacement import propose_replacement


def active_plan(
    household: HouseholdSummary,
    catalog: Catalog,
    params: AssistanceParameters,
    at: datetime,
    specs: list[MeasureSpec] | None = None,
) -> Plan:
    plan = Plan.create(
        "P-H000001-1",
        household,
        propose_measures(household, catalog) if specs is None else specs,
        identified_on=at.date(),
        at=at,
        catalog=catalog,
        params=params,
        contact_cadres=("cadre-1",),
    )
    plan.confirm("cadre-1", at, catalog, params, {"risk_not_covered:education": "test"})
    return plan


def reject(plan: Plan, key: str, at: datetime, n: int = 1) -> str:
    measure = next(m for m in plan.measures if m.key == key and m.status != "rejected")
    plan.apply_reply(
        DepartmentReply(
            reply_id=f"r-{n}",
            measure_id=measure.measure_id,
            department=measure.sub_measure.department.value,
            kind=ReplyKind.REJECTED,
            sent_at=at,
            reason="quota_exhausted",
        ),
        at,
    )
    return measure.measure_id


def test_rejected_housing_renovation_is_replaced_by_relocation(
    catalog: Catalog,
    params: AssistanceParameters,
    make_household: Callable[..., HouseholdSummary],
    t0: datetime,
) -> None:
    plan = active_plan(make_household(RiskType.HOUSING), catalog, params, t0)
    rejected = reject(plan, "housing.dilapidated_renovation", t0)
    proposal = propose_replacement(plan, rejected, catalog)
    assert (proposal.measure_key, proposal.basis) == ("relocation.resettlement", ("risk:housing",))
    assert proposal.spec() == MeasureSpec("relocation.resettlement", None, ("risk:housing",))


def test_a_measure_refused_once_is_never_proposed_again(
    catalog: Catalog,
    params: AssistanceParameters,
    make_household: Callable[..., HouseholdSummary],
    t0: datetime,
) -> None:
    plan = active_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    first = reject(plan, "health.medical_assistance", t0)
    second_key = propose_replacement(plan, first, catalog).measure_key
    assert second_key == "health.insurance_premium_subsidy"
    plan.replace_measure(first, MeasureSpec(second_key), "cadre-1", t0, "quota", catalog, params)
    again = reject(plan, second_key, t0, n=2)
    proposal = propose_replacement(plan, again, catalog)
    assert proposal.measure_key not in {"health.medical_assistance", second_key}
    assert proposal.measure_key == "health.family_doctor"


def test_developmental_replacement_keeps_a_working_beneficiary(
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
    t0: datetime,
) -> None:
    members = (make_member("m1", LaborCapacity.NONE), make_member("m2", LaborCapacity.FULL))
    plan = active_plan(make_household(RiskType.OTHER, members=members), catalog, params, t0)
    rejected = reject(plan, "employment.skills_training", t0)
    proposal = propose_replacement(plan, rejected, catalog)
    assert (proposal.measure_key, proposal.beneficiary) == ("employment.job_placement", "m2")


def test_school_stage_measures_are_proposed_only_for_members_in_that_stage(
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
    t0: datetime,
) -> None:
    members = (make_member("m1"), make_member("m2", LaborCapacity.NONE, SchoolStage.SENIOR))
    plan = active_plan(make_household(RiskType.EDUCATION, members=members), catalog, params, t0)
    rejected = reject(plan, "education.student_aid", t0)
    proposal = propose_replacement(plan, rejected, catalog)
    # rain_dew is for vocational and college students: m2 is in senior school
    assert proposal.measure_key == "education.hardship_grant"
    assert proposal.beneficiary is None


def test_nothing_left_to_propose_leaves_the_choice_to_the_cadre(
    catalog: Catalog,
    params: AssistanceParameters,
    make_household: Callable[..., HouseholdSummary],
    t0: datetime,
) -> None:
    household = make_household(RiskType.DRINKING_WATER)
    plan = active_plan(household, catalog, params, t0)
    rejected = reject(plan, "drinking_water.water_supply", t0)
    proposal = propose_replacement(plan, rejected, catalog)
    assert (proposal.measure_key, proposal.spec()) == (None, None)
