"""Elimination (风险消除) through the same steps, and the register's status transitions."""

from __future__ import annotations

import datetime as dt

import pytest
from approval_support import HOUSEHOLD, VILLAGE, Actors, OpenCase, at

from fangpin_approval.domain.case import Case, CaseStatus
from fangpin_approval.domain.codes import Category, EliminationMode, RegisterStatus, RiskType
from fangpin_approval.domain.errors import InvalidTransition, PermissionDenied
from fangpin_approval.domain.events import CaseDecided, HouseholdStatusChanged, Outcome
from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_approval.domain.procedure import FlowKind, Step
from fangpin_approval.domain.register import (
    MonitoredHousehold,
    apply_decision,
    safety_net_hold_reason,
)
from fangpin_kit.workdays import WorkdayCalendar

D = dt.date


def _monitored() -> MonitoredHousehold:
    return MonitoredHousehold.identify(
        household_id=HOUSEHOLD,
        region=VILLAGE,
        case_id="C1",
        category=Category.MARGINAL,
        risk_types=[RiskType.EDUCATION],
        on=D(2023, 5, 10),
    )


def _nominate(
    actors: Actors,
    params: ProcedureParameters,
    calendar: WorkdayCalendar,
    household: MonitoredHousehold,
    mode: EliminationMode = EliminationMode.ASSISTED,
    measures: tuple[str, ...] = ("M-industry-1",),
) -> Case:
    return Case.nominate_for_elimination(
        actors.village,
        at(2024, 6, 3),
        case_id="E1",
        household=household,
        mode=mode,
        measures=measures,
        params=params,
        calendar=calendar,
        comment="收入持续稳定半年以上",
    )


def _run_elimination(case: Case, actors: Actors) -> None:
    case.sign(
        actors.village, at(2024, 6, 4), expected_version=case.version, co_signers=[actors.town]
    )
    case.publish_notice(actors.village, at(2024, 6, 5), expected_version=case.version)
    case.sign(actors.village, at(2024, 6, 10), expected_version=case.version)
    case.sign(actors.town, at(2024, 6, 11), expected_version=case.version)
    case.sign(actors.county, at(2024, 6, 12), expected_version=case.version)


# ---------------------------------------------------------------- elimination


def test_village_nomination_opens_an_elimination_case_at_verification(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored())
    assert case.kind is FlowKind.ELIMINATION
    assert case.step is Step.VERIFICATION
    assert [a.step for a in case.history] == [Step.NOMINATION, Step.NOMINATION]
    assert case.category is Category.MARGINAL
    assert case.elimination_mode is EliminationMode.ASSISTED
    assert case.due.verification == D(2024, 6, 11)  # Dragon Boat Festival, Mon 10 June, is off


def test_elimination_follows_the_same_steps_and_marks_the_household_eliminated(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    household = _monitored()
    case = _nominate(actors, params, calendar, household)
    _run_elimination(case, actors)
    assert case.status is CaseStatus.APPROVED
    decided = case.pull_events()[-1]
    assert isinstance(decided, CaseDecided)
    assert (decided.outcome, decided.elimination_mode) == (
        Outcome.APPROVED,
        EliminationMode.ASSISTED,
    )
    apply_decision(household, decided)
    assert household.status is RegisterStatus.ELIMINATED
    assert (household.eliminated_on, household.elimination_mode) == (
        D(2024, 6, 12),
        EliminationMode.ASSISTED,
    )


def test_objection_to_an_elimination_notice_returns_it_to_verification(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored())
    case.sign(
        actors.village, at(2024, 6, 4), expected_version=case.version, co_signers=[actors.town]
    )
    case.publish_notice(actors.village, at(2024, 6, 5), expected_version=case.version)
    case.object(actors.town, at(2024, 6, 6), expected_version=case.version, comment="收入未稳定")
    assert case.step is Step.VERIFICATION


def test_assisted_elimination_without_measures_is_refused(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    with pytest.raises(InvalidTransition, match="needs the implemented measures"):
        _nominate(actors, params, calendar, _monitored(), measures=())


def test_natural_elimination_needs_no_measures(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored(), EliminationMode.NATURAL, ())
    assert case.elimination_mode is EliminationMode.NATURAL


def test_nomination_by_the_town_is_permission_denied(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    with pytest.raises(PermissionDenied, match="may not open the elimination case"):
        Case.nominate_for_elimination(
            actors.town,
            at(2024, 6, 3),
            case_id="E1",
            household=_monitored(),
            mode=EliminationMode.NATURAL,
            measures=(),
            params=params,
            calendar=calendar,
        )


def test_held_household_is_not_nominated_for_elimination(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    household = _monitored()
    household.hold(actors.county, at(2024, 5, 1), reason="整户无劳动能力, 享受特困供养")
    with pytest.raises(InvalidTransition, match=r"held .* not eliminated"):
        _nominate(actors, params, calendar, household)


def test_household_not_in_the_register_cannot_be_nominated(
    params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    with pytest.raises(InvalidTransition, match="not in the register"):
        Case.open(
            case_id="E1",
            kind=FlowKind.ELIMINATION,
            household_id=HOUSEHOLD,
            region=VILLAGE,
            clue_on=D(2024, 6, 3),
            at=at(2024, 6, 3),
            params=params,
            calendar=calendar,
            household=None,
            elimination_mode=EliminationMode.NATURAL,
        )


def test_elimination_has_no_green_channel(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored())
    with pytest.raises(InvalidTransition, match="elimination case has no green channel"):
        case.confirm_urgent(
            actors.village, at(2024, 6, 4), expected_version=case.version, comment="x"
        )


def test_elimination_takes_no_screening_decision(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored())
    with pytest.raises(InvalidTransition, match="only identification cases take screening"):
        case.record_screening(at(2024, 6, 4), category=None, risk_types=[], exclusions=[])


def test_nominating_village_may_withdraw_the_elimination(
    actors: Actors, params: ProcedureParameters, calendar: WorkdayCalendar
) -> None:
    case = _nominate(actors, params, calendar, _monitored())
    with pytest.raises(PermissionDenied, match="may not withdraw"):
        case.withdraw(actors.household, at(2024, 6, 4), expected_version=case.version, reason="x")
    case.withdraw(actors.village, at(2024, 6, 4), expected_version=case.version, reason="收入下降")
    assert case.status is CaseStatus.WITHDRAWN


# ---------------------------------------------------------------- register


def test_identification_of_a_monitored_household_is_refused(open_case: OpenCase) -> None:
    with pytest.raises(InvalidTransition, match="already monitored"):
        open_case(household=_monitored())


def test_rolled_back_household_re_enters_identification(
    actors: Actors, open_case: OpenCase
) -> None:
    household = _monitored()
    household.eliminate(case_id="E1", mode=EliminationMode.NATURAL, on=D(2024, 6, 12))
    household.roll_back(actors.county, at(2024, 9, 1), reason="风险消除不稳定")
    assert household.status is RegisterStatus.ROLLED_BACK
    case = open_case(D(2024, 9, 2), household=household)
    assert case.step is Step.APPLICATION


def test_approved_reidentification_makes_the_household_monitored_again(
    actors: Actors, open_case: OpenCase
) -> None:
    household = _monitored()
    household.eliminate(case_id="E1", mode=EliminationMode.NATURAL, on=D(2024, 6, 12))
    household.roll_back(actors.county, at(2024, 9, 1), reason="风险消除不稳定")
    decided = CaseDecided(
        case_id="C7",
        household_id=HOUSEHOLD,
        kind=FlowKind.IDENTIFICATION,
        region=VILLAGE,
        outcome=Outcome.APPROVED,
        green_channel=False,
        reason=None,
        decided_at=at(2024, 9, 20),
        category=Category.UNSTABLE_LIFTED,
        risk_types=(RiskType.HOUSING,),
        elimination_mode=None,
        due=open_case().due,
    )
    apply_decision(household, decided)
    assert household.status is RegisterStatus.MONITORED
    assert (household.category, household.identified_on) == (
        Category.UNSTABLE_LIFTED,
        D(2024, 9, 20),
    )
    assert household.eliminated_on is None
    assert [(c.from_status, c.to_status) for c in household.history] == [
        (None, RegisterStatus.MONITORED),
        (RegisterStatus.MONITORED, RegisterStatus.ELIMINATED),
        (RegisterStatus.ELIMINATED, RegisterStatus.ROLLED_BACK),
        (RegisterStatus.ROLLED_BACK, RegisterStatus.MONITORED),
    ]


def test_eliminated_household_with_new_risk_may_be_identified_again(open_case: OpenCase) -> None:
    household = _monitored()
    household.eliminate(case_id="E1", mode=EliminationMode.ASSISTED, on=D(2024, 6, 12))
    assert open_case(D(2024, 9, 2), household=household).status is CaseStatus.OPEN


def test_hold_and_release_keep_the_household_monitored_in_between(actors: Actors) -> None:
    household = _monitored()
    household.hold(actors.county, at(2024, 5, 1), reason="特困供养")
    assert (household.status, household.held_reason) == (RegisterStatus.HELD, "特困供养")
    household.release_hold(actors.county, at(2024, 8, 1), reason="有了务工收入")
    assert household.status is RegisterStatus.MONITORED and household.held_reason is None
    events = household.pull_events()
    assert all(isinstance(e, HouseholdStatusChanged) for e in events)
    assert [e.to_status for e in events] == [
        RegisterStatus.MONITORED,
        RegisterStatus.HELD,
        RegisterStatus.MONITORED,
    ]
    assert household.history[-1].actor_id == actors.county.id


@pytest.mark.parametrize("who", ["village", "town", "other_county"])
def test_register_changes_by_anyone_but_the_county_bureau_are_permission_denied(
    actors: Actors, who: str
) -> None:
    household = _monitored()
    with pytest.raises(PermissionDenied):
        household.hold(getattr(actors, who), at(2024, 5, 1), reason="特困供养")
    household.eliminate(case_id="E1", mode=EliminationMode.NATURAL, on=D(2024, 6, 12))
    with pytest.raises(PermissionDenied):
        household.roll_back(getattr(actors, who), at(2024, 9, 1), reason="不稳定")


def test_register_transitions_from_the_wrong_status_are_refused(actors: Actors) -> None:
    household = _monitored()
    with pytest.raises(InvalidTransition, match="only eliminated households are rolled back"):
        household.roll_back(actors.county, at(2024, 9, 1), reason="x")
    with pytest.raises(InvalidTransition, match="not held"):
        household.release_hold(actors.county, at(2024, 9, 1), reason="x")
    with pytest.raises(InvalidTransition, match="not a green-channel household"):
        household.remove(case_id="C1", on=D(2024, 9, 1), reason="x")
    household.hold(actors.county, at(2024, 9, 1), reason="特困")
    with pytest.raises(InvalidTransition, match="only monitored ones are held"):
        household.hold(actors.county, at(2024, 9, 2), reason="特困")
    with pytest.raises(InvalidTransition, match="needs a reason"):
        household.release_hold(actors.county, at(2024, 9, 2), reason="")


def test_rejected_identification_leaves_the_register_untouched(open_case: OpenCase) -> None:
    decided = CaseDecided(
        case_id="C1",
        household_id=HOUSEHOLD,
        kind=FlowKind.IDENTIFICATION,
        region=VILLAGE,
        outcome=Outcome.REJECTED,
        green_channel=False,
        reason="收入超标",
        decided_at=at(2024, 3, 12),
        category=None,
        risk_types=(),
        elimination_mode=None,
        due=open_case().due,
    )
    assert apply_decision(None, decided) is None


def _record(safety_net: str, *capacities: str) -> dict[str, object]:
    return {
        "safety_net": safety_net,
        "members": [{"labor_capacity": c} for c in capacities],
    }


def test_no_labor_household_on_tekun_or_full_dibao_is_held_instead_of_eliminated() -> None:
    for net in ("tekun", "dibao_full"):
        reason = safety_net_hold_reason(_record(net, "none", "none"))
        assert reason is not None and f"({net})" in reason
    assert safety_net_hold_reason(_record("dibao", "none")) is None  # partial dibao
    assert safety_net_hold_reason(_record("tekun", "none", "weak")) is None  # some labor
    assert safety_net_hold_reason(_record("none", "none")) is None
    assert safety_net_hold_reason(None) is None
