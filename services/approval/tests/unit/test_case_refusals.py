"""Every refused action: wrong level or region (PermissionDenied), stale version, wrong state."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable

import pytest
from approval_support import Actors, Driver, OpenCase, at

from fangpin_approval.domain.actors import Actor
from fangpin_approval.domain.case import Case, CaseStatus
from fangpin_approval.domain.codes import Exclusion
from fangpin_approval.domain.errors import Conflict, InvalidTransition, PermissionDenied
from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_approval.domain.procedure import Step
from fangpin_kit.workdays import WorkdayCalendar

# ------------------------------------------------------------ authorization


@pytest.mark.parametrize(
    ("step", "wrong"),
    [
        (Step.APPLICATION, "town"),
        (Step.APPLICATION, "county"),
        (Step.VERIFICATION, "household"),
        (Step.VERIFICATION, "county"),
        (Step.VILLAGE_APPRAISAL, "household"),
        (Step.VILLAGE_APPRAISAL, "town"),
        (Step.VILLAGE_APPRAISAL, "county"),
        (Step.TOWN_REVIEW, "village"),
        (Step.TOWN_REVIEW, "county"),
        (Step.COUNTY_APPROVAL, "village"),
        (Step.COUNTY_APPROVAL, "town"),
    ],
)
def test_signing_a_step_of_another_level_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver, step: Step, wrong: str
) -> None:
    case = open_case()
    driver.to_step(case, step)
    if step is Step.VILLAGE_APPRAISAL:
        driver.publish(case, at(2024, 3, 6))
    before = case.version
    with pytest.raises(PermissionDenied, match=f"may not sign {step.value}") as refused:
        case.sign(getattr(actors, wrong), at(2024, 3, 20), expected_version=case.version)
    assert "only" in refused.value.reason
    assert case.version == before and case.step is step


@pytest.mark.parametrize(
    ("step", "outsider"),
    [
        (Step.APPLICATION, "neighbour_village"),
        (Step.VERIFICATION, "neighbour_village"),
        (Step.VERIFICATION, "other_town"),
        (Step.VILLAGE_APPRAISAL, "neighbour_village"),
        (Step.TOWN_REVIEW, "other_town"),
        (Step.COUNTY_APPROVAL, "other_county"),
    ],
)
def test_signing_outside_ones_region_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver, step: Step, outsider: str
) -> None:
    case = open_case()
    driver.to_step(case, step)
    if step is Step.VILLAGE_APPRAISAL:
        driver.publish(case, at(2024, 3, 6))
    with pytest.raises(PermissionDenied, match=r"of region .* may not sign"):
        case.sign(getattr(actors, outsider), at(2024, 3, 20), expected_version=case.version)
    assert case.step is step


def test_a_household_may_not_sign_another_households_application(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    with pytest.raises(PermissionDenied, match="household H0001's"):
        case.sign(actors.other_household, at(2024, 3, 4), expected_version=case.version)


def test_verification_co_signer_outside_the_region_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    with pytest.raises(PermissionDenied, match="may not co-sign verification"):
        case.sign(
            actors.village,
            at(2024, 3, 5),
            expected_version=case.version,
            co_signers=[actors.other_town],
        )


def test_objection_by_a_household_actor_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    driver.publish(case, at(2024, 3, 6))
    with pytest.raises(PermissionDenied, match="may not record an objection"):
        case.object(actors.household, at(2024, 3, 7), expected_version=case.version, comment="x")


def test_return_by_a_level_not_signing_the_step_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.COUNTY_APPROVAL)
    with pytest.raises(PermissionDenied, match="may not return the case from county_approval"):
        case.return_(actors.town, at(2024, 3, 14), expected_version=case.version, comment="x")


def test_rejection_by_a_level_not_signing_the_step_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    with pytest.raises(PermissionDenied, match="may not reject the case at town_review"):
        case.reject(actors.village, at(2024, 3, 14), expected_version=case.version, reason="x")


def test_withdrawal_by_the_town_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    with pytest.raises(PermissionDenied, match="may not withdraw"):
        case.withdraw(actors.town, at(2024, 3, 5), expected_version=case.version, reason="x")


def test_notice_published_by_the_town_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    with pytest.raises(PermissionDenied, match="may not publish the notice"):
        case.publish_notice(actors.town, at(2024, 3, 6), expected_version=case.version)


def test_system_entry_recorded_by_the_town_is_permission_denied(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case)
    with pytest.raises(PermissionDenied, match="may not record the system entry"):
        case.record_system_entry(actors.town, at(2024, 3, 15), expected_version=case.version)


def test_opening_by_an_actor_outside_the_region_is_permission_denied(
    params: ProcedureParameters, calendar: WorkdayCalendar, actors: Actors
) -> None:
    with pytest.raises(PermissionDenied, match="may not open the identification case"):
        Case.open(
            case_id="C9",
            kind="identification",
            household_id="H0001",
            region="652827100201",
            clue_on=dt.date(2024, 3, 4),
            at=at(2024, 3, 4),
            params=params,
            calendar=calendar,
            household=None,
            opened_by=actors.neighbour_village,
        )


# ------------------------------------------------------------ optimistic locking


def _actions(actors: Actors) -> dict[str, Callable[[Case, int], None]]:
    when = at(2024, 3, 12)
    return {
        "sign": lambda c, v: c.sign(actors.town, when, expected_version=v),
        "return": lambda c, v: c.return_(actors.town, when, expected_version=v, comment="x"),
        "reject": lambda c, v: c.reject(actors.town, when, expected_version=v, reason="x"),
        "withdraw": lambda c, v: c.withdraw(actors.village, when, expected_version=v, reason="x"),
        "confirm_urgent": lambda c, v: c.confirm_urgent(
            actors.town, when, expected_version=v, comment="x"
        ),
    }


@pytest.mark.parametrize("action", ["sign", "return", "reject", "withdraw", "confirm_urgent"])
def test_an_action_on_a_stale_version_is_a_conflict_and_changes_nothing(
    open_case: OpenCase, actors: Actors, driver: Driver, action: str
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    case.pull_events()
    before = (case.version, case.step, case.status, len(case.history))
    with pytest.raises(Conflict, match="reload it and try again") as refused:
        _actions(actors)[action](case, case.version - 1)
    assert (refused.value.expected_version, refused.value.actual_version) == (
        case.version - 1,
        case.version,
    )
    assert (case.version, case.step, case.status, len(case.history)) == before
    assert case.pull_events() == []


def test_two_town_officers_signing_the_same_step_one_wins_the_other_gets_a_conflict(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    case.pull_events()
    seen = case.version  # both officers loaded this version
    colleague = Actor("T-02", "冯副镇长", "town_officer", actors.town.level, actors.town.region)
    stored = copy.deepcopy(case)
    case.sign(actors.town, at(2024, 3, 12), expected_version=seen)
    with pytest.raises(Conflict):
        case.sign(colleague, at(2024, 3, 12, 11), expected_version=seen)
    assert case.step is Step.COUNTY_APPROVAL
    assert sum(1 for a in case.history if a.step is Step.TOWN_REVIEW) == 1
    assert len(case.pull_events()) == 1
    # the loser's own copy applies, but the store must refuse it: same version as the winner's
    stored.sign(colleague, at(2024, 3, 12, 11), expected_version=seen)
    assert stored.version == case.version


# ------------------------------------------------------------ state


def test_signing_a_decided_case_is_an_invalid_transition(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case)
    with pytest.raises(InvalidTransition, match="is approved: cannot sign"):
        case.sign(actors.county, at(2024, 3, 14), expected_version=case.version)


def test_verification_by_a_single_cadre_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    with pytest.raises(InvalidTransition, match="at least 2 cadres; got 1"):
        case.sign(actors.village, at(2024, 3, 5), expected_version=case.version)
    with pytest.raises(InvalidTransition, match="got 1"):  # the same person twice is one
        case.sign(
            actors.village,
            at(2024, 3, 5),
            expected_version=case.version,
            co_signers=[actors.village],
        )


def test_appraisal_before_the_notice_is_published_is_refused(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    with pytest.raises(InvalidTransition, match="notice has not been published"):
        driver.appraise(case, at(2024, 3, 20))


def test_appraisal_while_the_notice_still_runs_is_refused(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    driver.publish(case, at(2024, 3, 6))
    with pytest.raises(InvalidTransition, match=r"runs until 2024-03-10 .* sign from 2024-03-11"):
        driver.appraise(case, at(2024, 3, 10, 23))
    driver.appraise(case, at(2024, 3, 11, 0))
    assert case.step is Step.TOWN_REVIEW


def test_publishing_the_notice_twice_or_at_another_step_is_refused(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    with pytest.raises(InvalidTransition, match="belongs to village_appraisal"):
        driver.publish(case, at(2024, 3, 5))
    driver.verify(case, at(2024, 3, 5))
    driver.publish(case, at(2024, 3, 6))
    with pytest.raises(InvalidTransition, match="already published on 2024-03-06"):
        driver.publish(case, at(2024, 3, 7))


def test_objection_when_no_notice_runs_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    with pytest.raises(InvalidTransition, match="objections are taken during the notice"):
        case.object(actors.town, at(2024, 3, 12), expected_version=case.version, comment="x")


def test_objection_without_content_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    driver.publish(case, at(2024, 3, 6))
    with pytest.raises(InvalidTransition, match="needs its content"):
        case.object(actors.village, at(2024, 3, 7), expected_version=case.version, comment=" ")


@pytest.mark.parametrize("step", [Step.APPLICATION, Step.VERIFICATION, Step.VILLAGE_APPRAISAL])
def test_return_from_a_step_that_cannot_return_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver, step: Step
) -> None:
    case = open_case()
    driver.to_step(case, step)
    actor = actors.household if step is Step.APPLICATION else actors.village
    with pytest.raises(InvalidTransition, match=f"{step.value} cannot return a case"):
        case.return_(actor, at(2024, 3, 12), expected_version=case.version, comment="x")


def test_rejecting_the_application_step_is_refused(open_case: OpenCase, actors: Actors) -> None:
    case = open_case()
    with pytest.raises(InvalidTransition, match="application cannot reject"):
        case.reject(actors.village, at(2024, 3, 4), expected_version=case.version, reason="x")


@pytest.mark.parametrize("method", ["return_", "reject", "withdraw"])
def test_return_rejection_and_withdrawal_need_a_reason(
    open_case: OpenCase, actors: Actors, driver: Driver, method: str
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    actor = actors.village if method == "withdraw" else actors.town
    text = {"return_": "comment"}.get(method, "reason")
    with pytest.raises(InvalidTransition, match="needs its reason"):
        getattr(case, method)(actor, at(2024, 3, 12), expected_version=case.version, **{text: ""})


def test_approval_without_a_screening_category_is_refused(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    for actor, day, extra in [
        (actors.household, 4, {}),
        (actors.village, 5, {"co_signers": [actors.village2]}),
    ]:
        case.sign(actor, at(2024, 3, day), expected_version=case.version, **extra)
    case.publish_notice(actors.village, at(2024, 3, 5, 12), expected_version=case.version)
    case.sign(actors.village, at(2024, 3, 10), expected_version=case.version)
    case.sign(actors.town, at(2024, 3, 11), expected_version=case.version)
    with pytest.raises(InvalidTransition, match="no screening decision with a category"):
        case.sign(actors.county, at(2024, 3, 12), expected_version=case.version)


def test_screening_after_town_review_began_is_refused(open_case: OpenCase, driver: Driver) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    with pytest.raises(InvalidTransition, match="screening is taken up to village_appraisal"):
        driver.screen(case, at(2024, 3, 12), Exclusion.VEHICLE_MACHINERY)


def test_system_entry_before_approval_or_twice_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.COUNTY_APPROVAL)
    with pytest.raises(InvalidTransition, match="is open: cannot record the system entry"):
        case.record_system_entry(actors.county, at(2024, 3, 13), expected_version=case.version)
    driver.county_approve(case, at(2024, 3, 13))
    case.record_system_entry(actors.county, at(2024, 3, 14), expected_version=case.version)
    with pytest.raises(InvalidTransition, match="already recorded on 2024-03-14"):
        case.record_system_entry(actors.county, at(2024, 3, 15), expected_version=case.version)


def test_an_action_dated_before_the_last_one_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    with pytest.raises(InvalidTransition, match="before its last action"):
        case.sign(
            actors.village,
            at(2024, 3, 3),
            expected_version=case.version,
            co_signers=[actors.town],
        )


def test_a_timestamp_without_time_zone_is_refused(open_case: OpenCase, actors: Actors) -> None:
    case = open_case()
    with pytest.raises(ValueError, match="no time zone"):
        case.sign(actors.household, dt.datetime(2024, 3, 4, 10), expected_version=case.version)


def test_opening_with_a_clue_dated_after_the_opening_is_refused(open_case: OpenCase) -> None:
    with pytest.raises(ValueError, match="after the opening date"):
        open_case(dt.date(2024, 3, 5), opened=at(2024, 3, 4))


def test_refusals_leave_the_case_unchanged(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    snapshot = copy.deepcopy(case)
    for attempt in (
        lambda: driver.appraise(case, at(2024, 3, 20)),
        lambda: case.sign(actors.town, at(2024, 3, 20), expected_version=case.version),
        lambda: case.sign(actors.village, at(2024, 3, 20), expected_version=0),
    ):
        with pytest.raises((InvalidTransition, PermissionDenied, Conflict)):
            attempt()
    assert case == snapshot
    assert case.status is CaseStatus.OPEN
