"""Plan aggregate: named rule violations, confirmation, adjustment, replacement, stop."""

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import (
    LaborCapacity,
    MeasureStatus,
    ReplyKind,
    RiskType,
    SchoolStage,
)
from fangpin_assistance.domain.events import (
    MeasureDispatched,
    PlanAdjusted,
    PlanConfirmed,
    PlanCreated,
    ReplacementRequested,
    TaskDue,
    TaskKind,
)
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.measure import DepartmentReply
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import (
    MeasureSpec,
    Plan,
    PlanError,
    PlanRulesViolated,
    PlanStatus,
    check_rules,
)
from fangpin_assistance.domain.planner import propose_measures


def names(
    household: HouseholdSummary,
    keys: list[str],
    catalog: Catalog,
    params: AssistanceParameters,
    cadres: int = 1,
) -> list[str]:
    subs = [catalog.sub_measure(key) for key in keys]
    return [v.name for v in check_rules(household, subs, cadres, catalog, params)]


def new_plan(
    household: HouseholdSummary,
    catalog: Catalog,
    params: AssistanceParameters,
    at: datetime,
    *,
    cadres: tuple[str, ...] = ("cadre-1",),
    specs: list[MeasureSpec] | None = None,
) -> Plan:
    return Plan.create(
        "P-H000001",
        household,
        propose_measures(household, catalog) if specs is None else specs,
        identified_on=at.date(),
        at=at,
        catalog=catalog,
        params=params,
        contact_cadres=cadres,
    )


# -- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "covering", "not_covering"),
    [
        (
            RiskType.ILLNESS,
            ["health.medical_assistance", "social.charity_aid", "safety_net.dibao"],
            ["housing.dilapidated_renovation"],
        ),
        (
            RiskType.EDUCATION,
            [
                "compulsory_education.dropout_return",
                "education.hardship_grant",
                "social.charity_aid",
            ],
            ["health.medical_assistance"],
        ),
        (
            RiskType.DISABILITY,
            ["safety_net.disability_allowance", "social.enterprise_pairing"],
            ["health.medical_assistance"],
        ),
        (
            RiskType.HOUSING,
            ["housing.dilapidated_renovation", "relocation.resettlement"],
            ["safety_net.temporary_relief"],
        ),
        (
            RiskType.DRINKING_WATER,
            ["drinking_water.water_supply"],
            ["infrastructure.village_facility"],
        ),
    ],
)
def test_domain_consistency_checks_name_the_uncovered_risk(
    risk: RiskType,
    covering: list[str],
    not_covering: list[str],
    catalog: Catalog,
    params: AssistanceParameters,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(risk)
    developmental = "employment.job_placement"
    for key in covering:
        assert names(household, [key, developmental], catalog, params) == []
    for key in not_covering:
        assert names(household, [key, developmental], catalog, params) == [
            f"risk_not_covered:{risk}"
        ]


def test_labor_household_without_developmental_measure_breaks_developmental_required(
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.ILLNESS, members=(make_member("m1", LaborCapacity.SEMI),))
    assert names(household, ["health.medical_assistance"], catalog, params) == [
        "developmental_required"
    ]


def test_safety_net_only_plan_for_a_labor_household_is_named_as_such(
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.DISABILITY, members=(make_member("m1", LaborCapacity.WEAK),)
    )
    assert names(household, ["safety_net.dibao"], catalog, params) == [
        "developmental_required",
        "safety_net_only_for_labor_household",
    ]


def test_whole_no_labor_household_without_safety_net_breaks_safety_net_required(
    catalog: Catalog,
    params: AssistanceParameters,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.ILLNESS, members=(make_member("m1", LaborCapacity.NONE),))
    assert names(household, ["health.medical_assistance"], catalog, params) == [
        "safety_net_required"
    ]
    assert (
        names(household, ["health.medical_assistance", "safety_net.dibao"], catalog, params) == []
    )


def test_household_without_contact_cadre_breaks_contact_cadre_required(
    catalog: Catalog, params: AssistanceParameters, make_household: Callable[..., HouseholdSummary]
) -> None:
    household = make_household(RiskType.UNSTABLE_EMPLOYMENT)
    assert names(household, ["employment.job_placement"], catalog, params, cadres=0) == [
        "contact_cadre_required"
    ]


# -- creation and confirmation -------------------------------------------------------------


def test_plan_is_due_ten_days_after_identification_and_announces_a_plan_due_task(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    created, task = plan.collect_events()
    assert isinstance(created, PlanCreated) and isinstance(task, TaskDue)
    assert plan.due_on == t0.date() + timedelta(days=10)
    assert task.kind is TaskKind.PLAN_DUE and task.due_on == plan.due_on
    assert task.assignees == ("cadre-1",)
    assert created.violations == ()
    assert [m.measure_key for m in created.measures] == [
        "health.medical_assistance",
        "employment.job_placement",
    ]
    assert plan.is_overdue(plan.due_on + timedelta(days=1))
    assert not plan.is_overdue(plan.due_on)


def test_confirming_dispatches_every_measure_to_its_lead_department(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    plan.collect_events()
    plan.confirm("cadre-1", t0, catalog, params)
    events = plan.collect_events()
    assert isinstance(events[0], PlanConfirmed)
    dispatched = [e for e in events if isinstance(e, MeasureDispatched)]
    assert [(e.measure_key, e.department) for e in dispatched] == [
        ("health.medical_assistance", "medical_insurance"),
        ("employment.job_placement", "hrss"),
    ]
    assert all(m.status is MeasureStatus.DISPATCHED for m in plan.measures)
    assert plan.status is PlanStatus.ACTIVE


def test_confirmation_is_refused_with_every_broken_rule_named(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(
        make_household(RiskType.ILLNESS),
        catalog,
        params,
        t0,
        cadres=(),
        specs=[MeasureSpec("housing.dilapidated_renovation")],
    )
    with pytest.raises(PlanRulesViolated) as refused:
        plan.confirm("cadre-1", t0, catalog, params)
    assert [v.name for v in refused.value.violations] == [
        "risk_not_covered:illness",
        "developmental_required",
        "contact_cadre_required",
    ]
    assert plan.status is PlanStatus.PROPOSED


def test_a_waived_violation_is_recorded_with_its_reason_and_does_not_block(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.ILLNESS, members=(make_member("m1", LaborCapacity.NONE),))
    plan = new_plan(
        household, catalog, params, t0, specs=[MeasureSpec("health.medical_assistance")]
    )
    plan.confirm("cadre-1", t0, catalog, params, waivers={"safety_net_required": "supporters pay"})
    assert plan.waivers["safety_net_required"].reason == "supporters pay"
    assert [v.name for v in plan.violations(catalog, params)] == ["safety_net_required"]
    assert plan.open_violations(catalog, params) == ()


def test_safety_net_only_for_labor_household_cannot_be_waived(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    with pytest.raises(PlanError, match="cannot be waived"):
        plan.confirm(
            "cadre-1",
            t0,
            catalog,
            params,
            waivers={"safety_net_only_for_labor_household": "he prefers dibao"},
        )


# -- adjustment ----------------------------------------------------------------------------


def test_adjustment_that_breaks_a_rule_is_refused_and_changes_nothing(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    placement = next(m for m in plan.measures if m.key == "employment.job_placement")
    with pytest.raises(PlanRulesViolated, match="developmental_required"):
        plan.adjust(
            "cadre-1",
            t0,
            "he works at home",
            catalog,
            params,
            add=[MeasureSpec("safety_net.dibao")],
            withdraw=[placement.measure_id],
        )
    assert placement.status is MeasureStatus.PROPOSED
    assert len(plan.measures) == 2


def test_cadre_adjustment_on_an_active_plan_dispatches_the_new_measure_at_once(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    plan.confirm("cadre-1", t0, catalog, params)
    placement = next(m for m in plan.measures if m.key == "employment.job_placement")
    plan.collect_events()
    (added,) = plan.adjust(
        "cadre-1",
        t0,
        "microcredit for goats instead",
        catalog,
        params,
        add=[MeasureSpec("finance.microcredit")],
        withdraw=[placement.measure_id],
    )
    events = plan.collect_events()
    assert placement.status is MeasureStatus.WITHDRAWN
    assert added.status is MeasureStatus.DISPATCHED
    adjusted = events[-1]
    assert isinstance(adjusted, PlanAdjusted)
    assert adjusted.added == (added.measure_id,) and adjusted.withdrawn == (placement.measure_id,)
    assert adjusted.violations == ()


def test_existing_violation_does_not_block_an_unrelated_adjustment(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0, cadres=())
    plan.adjust(
        "cadre-1", t0, "add credit", catalog, params, add=[MeasureSpec("finance.microcredit")]
    )
    assert [v.name for v in plan.violations(catalog, params)] == ["contact_cadre_required"]


def test_adjustment_rejects_unknown_measures_and_members_out_of_stage(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_member: Callable[..., MemberSummary],
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(
        RiskType.ILLNESS,
        members=(make_member("m1"), make_member("m2", LaborCapacity.NONE, SchoolStage.SENIOR)),
    )
    plan = new_plan(household, catalog, params, t0)
    with pytest.raises(PlanError, match=r"unknown measure 'health\.dentist'"):
        plan.adjust("c", t0, "r", catalog, params, add=[MeasureSpec("health.dentist")])
    with pytest.raises(PlanError, match="school stage senior"):
        plan.adjust("c", t0, "r", catalog, params, add=[MeasureSpec("education.rain_dew", "m2")])
    with pytest.raises(PlanError, match="unknown member 'm9'"):
        plan.adjust("c", t0, "r", catalog, params, add=[MeasureSpec("education.rain_dew", "m9")])
    with pytest.raises(PlanError, match="needs a reason"):
        plan.adjust("c", t0, " ", catalog, params, add=[MeasureSpec("finance.microcredit")])


# -- rejection and replacement -------------------------------------------------------------


def _reject(plan: Plan, measure_key: str, at: datetime) -> str:
    measure = next(m for m in plan.measures if m.key == measure_key)
    plan.apply_reply(
        DepartmentReply(
            reply_id=f"r-{measure.measure_id}",
            measure_id=measure.measure_id,
            department=measure.sub_measure.department,
            kind=ReplyKind.REJECTED,
            sent_at=at,
            reason="not_eligible",
        ),
        at,
    )
    return measure.measure_id


def test_rejected_measure_requests_a_replacement_and_reopens_the_risk(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    plan.confirm("cadre-1", t0, catalog, params)
    plan.collect_events()
    rejected = _reject(plan, "health.medical_assistance", t0 + timedelta(hours=1))
    request = next(e for e in plan.collect_events() if isinstance(e, ReplacementRequested))
    assert request.measure_id == rejected and request.reason == "not_eligible"
    assert [v.name for v in plan.violations(catalog, params)] == ["risk_not_covered:illness"]

    later = t0 + timedelta(hours=2)
    new = plan.replace_measure(
        rejected, MeasureSpec("social.charity_aid"), "cadre-1", later, "charity", catalog, params
    )
    assert new.replaces == rejected and plan.measure(rejected).replaced_by == new.measure_id
    assert new.status is MeasureStatus.DISPATCHED
    assert plan.violations(catalog, params) == ()
    with pytest.raises(PlanError, match="already replaced"):
        plan.replace_measure(
            rejected, MeasureSpec("social.charity_aid"), "c", later, "again", catalog, params
        )


def test_only_rejected_or_overdue_measures_can_be_replaced(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    plan.confirm("cadre-1", t0, catalog, params)
    measure = plan.measures[0]
    with pytest.raises(PlanError, match="only rejected or overdue"):
        plan.replace_measure(
            measure.measure_id, MeasureSpec("social.charity_aid"), "c", t0, "r", catalog, params
        )
    for hours in (72, 144, 216):
        plan.tick(t0 + timedelta(hours=hours), params)
    assert measure.escalated_at is not None
    new = plan.replace_measure(
        measure.measure_id, MeasureSpec("social.charity_aid"), "c", t0, "r", catalog, params
    )
    assert measure.status is MeasureStatus.WITHDRAWN
    assert new.replaces == measure.measure_id


# -- cadres and stop -----------------------------------------------------------------------


def test_the_last_contact_cadre_cannot_be_removed(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    with pytest.raises(PlanRulesViolated, match="contact_cadre_required"):
        plan.remove_contact_cadre("cadre-1", catalog, params)
    plan.assign_contact_cadre("cadre-2", t0)
    plan.assign_contact_cadre("cadre-2", t0)
    plan.remove_contact_cadre("cadre-1", catalog, params)
    assert plan.contact_cadres == ["cadre-2"]


def test_stopping_assistance_withdraws_every_open_measure(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ACCIDENT), catalog, params, t0)
    plan.confirm("cadre-1", t0, catalog, params)
    plan.stop(t0 + timedelta(days=30), "left_green_channel")
    assert plan.status is PlanStatus.STOPPED
    assert {m.status for m in plan.measures} == {MeasureStatus.WITHDRAWN}
    with pytest.raises(PlanError, match="stopped"):
        plan.adjust("c", t0, "r", catalog, params, add=[MeasureSpec("finance.microcredit")])


def test_reassessment_reports_what_new_risk_types_leave_uncovered(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    plan = new_plan(make_household(RiskType.ILLNESS), catalog, params, t0)
    plan.risk_eliminated(date(2024, 12, 1), t0)
    rolled_back = make_household(RiskType.ILLNESS, RiskType.HOUSING)
    assert [v.name for v in plan.reassess(rolled_back, catalog, params)] == [
        "risk_not_covered:housing"
    ]
    assert plan.risk_eliminated_on is None
