"""Department simulator policy, and a full pure loop: plan -> dispatch -> department -> plan."""

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import MappingProxyType

import pytest

from fangpin_assistance.domain.catalog import Catalog
from fangpin_assistance.domain.codes import (
    Department,
    MeasureStatus,
    ReplyKind,
    RiskType,
    TermKind,
)
from fangpin_assistance.domain.events import MeasureDispatched, MeasureOverdue
from fangpin_assistance.domain.household import HouseholdSummary
from fangpin_assistance.domain.measure import OutcomeKind
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.plan import Plan
from fangpin_assistance.domain.planner import propose_measures
from fangpin_assistance.domain.simulator import Behaviour, SimulatorPolicy, decide, simulate


def dispatched(
    t0: datetime,
    measure_id: str = "P-001",
    key: str = "finance.microcredit",
    department: Department = Department.FINANCE,
    term_kind: TermKind = TermKind.CONTRACT_END,
) -> MeasureDispatched:
    return MeasureDispatched(
        household_id="H000001",
        occurred_at=t0,
        dispatch_id=f"d-{measure_id}",
        plan_id="P",
        measure_id=measure_id,
        measure_key=key,
        department=department,
        beneficiary=None,
        term_kind=term_kind,
        attempt=1,
        reply_due_at=t0 + timedelta(days=3),
    )


def only(behaviour: Behaviour, department: Department = Department.FINANCE) -> SimulatorPolicy:
    return SimulatorPolicy(department, weights=MappingProxyType({behaviour: 1.0}))


def test_a_completing_department_accepts_with_the_contract_end_then_completes(
    t0: datetime,
) -> None:
    accepted, completed = simulate(dispatched(t0), only(Behaviour.COMPLETE))
    assert (accepted.kind, completed.kind) == (ReplyKind.ACCEPTED, ReplyKind.COMPLETED)
    assert accepted.sent_at == t0 + timedelta(minutes=1) < completed.sent_at
    assert accepted.started_on == t0.date()
    assert accepted.term_end == date(2027, 5, 6)  # 36 demo months of a microcredit contract
    assert accepted.department == "finance" and accepted.measure_id == "P-001"


def test_a_rejecting_department_gives_a_reason(t0: datetime) -> None:
    (rejected,) = simulate(dispatched(t0), only(Behaviour.REJECT))
    assert rejected.kind is ReplyKind.REJECTED
    assert rejected.reason in SimulatorPolicy(Department.FINANCE).reject_reasons


def test_a_silent_department_never_answers(t0: datetime) -> None:
    assert simulate(dispatched(t0), only(Behaviour.SILENT)) == ()


def test_dispatches_for_another_department_get_no_reply(t0: datetime) -> None:
    assert simulate(dispatched(t0), only(Behaviour.COMPLETE, Department.HRSS)) == ()


def test_forced_behaviour_by_measure_key_beats_by_type_beats_the_draw(t0: datetime) -> None:
    policy = SimulatorPolicy(
        Department.FINANCE,
        weights=MappingProxyType({Behaviour.COMPLETE: 1.0}),
        forced=MappingProxyType(
            {"finance.microcredit": Behaviour.REJECT, "finance": Behaviour.SILENT}
        ),
    )
    assert decide(dispatched(t0), policy) is Behaviour.REJECT
    insurance = dispatched(t0, key="finance.prevention_insurance")
    assert decide(insurance, policy) is Behaviour.SILENT


def test_the_same_dispatch_always_gets_the_same_replies_with_the_same_ids(t0: datetime) -> None:
    policy = SimulatorPolicy(Department.FINANCE, seed=7)
    first = simulate(dispatched(t0), policy)
    again = simulate(dispatched(t0), policy)
    assert first == again


def test_seeded_draw_follows_the_weights(t0: datetime) -> None:
    policy = SimulatorPolicy(Department.FINANCE, seed=1)
    drawn = Counter(decide(dispatched(t0, measure_id=f"P-{i:04d}"), policy) for i in range(2000))
    assert set(drawn) == set(Behaviour)
    assert drawn[Behaviour.COMPLETE] > drawn[Behaviour.ACCEPT] > drawn[Behaviour.REJECT]
    assert 0.4 < drawn[Behaviour.COMPLETE] / 2000 < 0.6


@pytest.mark.parametrize(
    ("weights", "message"),
    [({Behaviour.COMPLETE: -1.0}, "negative"), ({Behaviour.COMPLETE: 0.0}, "positive weight")],
)
def test_policy_rejects_unusable_weights(weights: dict[Behaviour, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatorPolicy(Department.FINANCE, weights=MappingProxyType(weights))


def test_plan_measures_answered_by_simulated_departments_delivered_three_times_change_once(
    catalog: Catalog,
    params: AssistanceParameters,
    t0: datetime,
    make_household: Callable[..., HouseholdSummary],
) -> None:
    household = make_household(RiskType.ILLNESS, RiskType.HOUSING)
    plan = Plan.create(
        "P",
        household,
        propose_measures(household, catalog),
        identified_on=t0.date(),
        at=t0,
        catalog=catalog,
        params=params,
        contact_cadres=["cadre-1"],
    )
    plan.confirm("cadre-1", t0, catalog, params)
    dispatches = [e for e in plan.collect_events() if isinstance(e, MeasureDispatched)]
    assert {d.department for d in dispatches} == {"medical_insurance", "housing", "hrss"}

    policies = {
        Department.MEDICAL_INSURANCE: only(Behaviour.COMPLETE, Department.MEDICAL_INSURANCE),
        Department.HRSS: only(Behaviour.ACCEPT, Department.HRSS),
        Department.HOUSING: only(Behaviour.SILENT, Department.HOUSING),
    }
    replies = [r for d in dispatches for r in simulate(d, policies[d.department])]
    outcomes = [plan.apply_reply(r, r.sent_at) for _ in range(3) for r in replies]
    assert Counter(o.kind for o in outcomes) == {
        OutcomeKind.APPLIED: len(replies),
        OutcomeKind.DUPLICATE: 2 * len(replies),
    }
    status = {m.key: m.status for m in plan.measures}
    assert status == {
        "health.medical_assistance": MeasureStatus.COMPLETED,
        "housing.dilapidated_renovation": MeasureStatus.DISPATCHED,
        "employment.job_placement": MeasureStatus.IN_PROGRESS,
    }
    assert plan.has_implemented_measures

    # the silent housing bureau: re-dispatched under the same id, then escalated
    plan.collect_events()
    for days in (3, 6, 9):
        plan.tick(t0 + timedelta(days=days), params)
    events = plan.collect_events()
    housing = next(d for d in dispatches if d.department == "housing")
    resent = [e for e in events if isinstance(e, MeasureDispatched)]
    assert [e.dispatch_id for e in resent] == [housing.dispatch_id] * 2
    assert [e.measure_id for e in events if isinstance(e, MeasureOverdue)] == [housing.measure_id]
