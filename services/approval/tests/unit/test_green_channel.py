"""Green channel (绿色通道): village and town confirm, assistance starts, one month to complete."""

from __future__ import annotations

import datetime as dt

import pytest
from approval_support import Actors, Driver, OpenCase, at

from fangpin_approval.domain.case import Action, Case, CaseStatus, GreenChannelState
from fangpin_approval.domain.codes import RegisterStatus
from fangpin_approval.domain.errors import InvalidTransition, PermissionDenied
from fangpin_approval.domain.events import CaseDecided, Outcome
from fangpin_approval.domain.procedure import Step
from fangpin_approval.domain.register import apply_decision

D = dt.date


def _open_channel(case: Case, actors: Actors, day: dt.date = D(2024, 1, 31)) -> None:
    case.confirm_urgent(
        actors.village,
        at(day.year, day.month, day.day, 9),
        expected_version=case.version,
        comment="房屋因山洪损毁",
    )
    case.confirm_urgent(
        actors.town,
        at(day.year, day.month, day.day, 9),
        expected_version=case.version,
        comment="镇核实属实",
    )


def _decisions(case: Case) -> list[CaseDecided]:
    return [e for e in case.pull_events() if isinstance(e, CaseDecided)]


def test_village_confirmation_alone_does_not_open_the_channel(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case(D(2024, 1, 31))
    case.pull_events()
    case.confirm_urgent(actors.village, at(2024, 1, 31), expected_version=1, comment="突发")
    assert case.green_channel.state is GreenChannelState.CONFIRMING
    assert case.due.green_channel is None
    assert case.pull_events() == []


def test_village_and_town_confirmation_registers_at_once_with_green_channel_decided(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case(D(2024, 1, 31))
    case.pull_events()
    _open_channel(case, actors)
    assert case.green_channel.state is GreenChannelState.OPEN
    assert case.due.green_channel == D(2024, 2, 29)
    assert case.status is CaseStatus.OPEN  # the procedure still has to run
    [decided] = _decisions(case)
    assert (decided.outcome, decided.green_channel) == (Outcome.GREEN_CHANNEL_ENTERED, True)
    assert decided.reason == "房屋因山洪损毁; 镇核实属实"
    household = apply_decision(None, decided)
    assert household is not None
    assert (household.status, household.green_channel) == (RegisterStatus.MONITORED, True)


def test_green_channel_expires_after_one_month_and_assistance_stops(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case(D(2024, 1, 31))
    _open_channel(case, actors)
    household = apply_decision(None, _decisions(case)[0])
    assert case.expire_green_channel(at(2024, 2, 29, 23)) is False
    assert case.expire_green_channel(at(2024, 3, 1, 0)) is True
    assert case.green_channel.state is GreenChannelState.EXITED
    [decided] = _decisions(case)
    assert (decided.outcome, decided.green_channel) == (Outcome.GREEN_CHANNEL_EXITED, True)
    assert decided.reason is not None and "not completed by 2024-02-29" in decided.reason
    assert "assistance stops" in decided.reason
    assert case.history[-1].action is Action.EXPIRE_GREEN_CHANNEL
    household = apply_decision(household, decided)
    assert household is not None and household.status is RegisterStatus.REMOVED
    # expiry happens once
    assert case.expire_green_channel(at(2024, 3, 2)) is False


def test_green_channel_case_approved_in_time_stays_registered(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 3, 4))
    _open_channel(case, actors, D(2024, 3, 4))
    household = apply_decision(None, _decisions(case)[0])
    driver.to_step(case, start=D(2024, 3, 4))
    assert case.green_channel.state is GreenChannelState.COMPLETED
    [approved] = _decisions(case)
    assert (approved.outcome, approved.green_channel) == (Outcome.APPROVED, True)
    household = apply_decision(household, approved)
    assert household is not None
    assert (household.status, household.green_channel) == (RegisterStatus.MONITORED, False)
    assert household.identified_on == D(2024, 3, 4)
    assert case.expire_green_channel(at(2024, 5, 1)) is False


def test_rejection_inside_the_green_channel_stops_assistance(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 3, 4))
    _open_channel(case, actors, D(2024, 3, 4))
    household = apply_decision(None, _decisions(case)[0])
    driver.to_step(case, Step.TOWN_REVIEW)
    case.reject(actors.town, at(2024, 3, 12), expected_version=case.version, reason="有商品房")
    [rejected] = _decisions(case)
    assert (rejected.outcome, rejected.green_channel, rejected.reason) == (
        Outcome.REJECTED,
        True,
        "有商品房",
    )
    household = apply_decision(household, rejected)
    assert household is not None and household.status is RegisterStatus.REMOVED


def test_household_that_left_the_channel_can_still_be_identified_normally(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case(D(2024, 3, 4))
    _open_channel(case, actors, D(2024, 3, 4))
    household = apply_decision(None, _decisions(case)[0])
    driver.to_step(case, Step.TOWN_REVIEW)
    case.expire_green_channel(at(2024, 4, 5))
    household = apply_decision(household, _decisions(case)[0])
    case.sign(actors.town, at(2024, 4, 6), expected_version=case.version)
    case.sign(actors.county, at(2024, 4, 7), expected_version=case.version)
    [approved] = _decisions(case)
    assert approved.green_channel is False
    household = apply_decision(household, approved)
    assert household is not None and household.status is RegisterStatus.MONITORED


def test_the_same_level_confirming_twice_is_refused(open_case: OpenCase, actors: Actors) -> None:
    case = open_case()
    case.confirm_urgent(actors.village, at(2024, 3, 4), expected_version=1, comment="突发")
    with pytest.raises(InvalidTransition, match="village already confirmed"):
        case.confirm_urgent(actors.village2, at(2024, 3, 4, 11), expected_version=2, comment="x")


def test_confirming_an_open_channel_again_is_refused(open_case: OpenCase, actors: Actors) -> None:
    case = open_case()
    _open_channel(case, actors, D(2024, 3, 4))
    with pytest.raises(InvalidTransition, match="green channel is open"):
        case.confirm_urgent(actors.town, at(2024, 3, 5), expected_version=case.version, comment="x")


def test_county_or_household_confirming_urgency_is_permission_denied(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    for actor in (actors.county, actors.household):
        with pytest.raises(PermissionDenied, match="only town, village may"):
            case.confirm_urgent(actor, at(2024, 3, 4), expected_version=1, comment="x")


def test_a_town_of_another_township_confirming_is_permission_denied(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    with pytest.raises(PermissionDenied, match="of region 652827101"):
        case.confirm_urgent(actors.other_town, at(2024, 3, 4), expected_version=1, comment="x")


def test_urgent_confirmation_needs_the_hardship_stated(open_case: OpenCase, actors: Actors) -> None:
    case = open_case()
    with pytest.raises(InvalidTransition, match="states the hardship"):
        case.confirm_urgent(actors.village, at(2024, 3, 4), expected_version=1, comment="")
