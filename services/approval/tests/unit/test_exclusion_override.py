"""Exclusion override: an excluded household passes the appraisal only with a recorded reason."""

from __future__ import annotations

import pytest
from approval_support import Actors, Driver, OpenCase, at

from fangpin_approval.domain.case import Action, Case
from fangpin_approval.domain.codes import Exclusion
from fangpin_approval.domain.errors import InvalidTransition, PermissionDenied
from fangpin_approval.domain.ledger import Ledger
from fangpin_approval.domain.procedure import Step

REASON = "车辆系残疾人代步车,经村民代表会议评议属特殊情况"


def _excluded_case(open_case: OpenCase, driver: Driver) -> Case:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    driver.verify(case, at(2024, 3, 5))
    driver.screen(case, at(2024, 3, 5, 11), Exclusion.VEHICLE_MACHINERY)
    driver.publish(case, at(2024, 3, 6))
    return case


def test_excluded_case_cannot_pass_village_appraisal_without_a_special_reason(
    open_case: OpenCase, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    with pytest.raises(InvalidTransition, match=r"exclusions \(vehicle_machinery\)"):
        driver.appraise(case, at(2024, 3, 11))
    assert case.step is Step.VILLAGE_APPRAISAL


def test_excluded_case_passes_village_appraisal_with_a_recorded_special_reason(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    case.record_special_reason(
        actors.village,
        at(2024, 3, 7),
        expected_version=case.version,
        reason=REASON,
        attachments=["att://minutes-3"],
    )
    driver.appraise(case, at(2024, 3, 11))
    assert case.step is Step.TOWN_REVIEW
    assert case.special_reason == REASON


def test_the_special_reason_is_in_the_ledger(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    case.record_special_reason(
        actors.village, at(2024, 3, 7), expected_version=case.version, reason=REASON
    )
    driver.appraise(case, at(2024, 3, 11))
    ledger = Ledger()
    for action in case.history:
        ledger.append(action.ledger_record(case.household_id), action.at)
    [entry] = [e for e in ledger.entries if e.record["action"] == "record_special_reason"]
    assert entry.record["reason"] == REASON
    assert entry.record["details"] == {"exclusions": ["vehicle_machinery"]}
    assert entry.record["actor"]["id"] == actors.village.id


def test_an_objection_clears_the_special_reason_so_the_new_appraisal_decides_again(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    case.record_special_reason(
        actors.village, at(2024, 3, 7), expected_version=case.version, reason=REASON
    )
    case.object(actors.village2, at(2024, 3, 8), expected_version=case.version, comment="异议")
    assert case.special_reason is None
    assert any(a.action is Action.RECORD_SPECIAL_REASON for a in case.history)


def test_a_special_reason_without_exclusions_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    with pytest.raises(InvalidTransition, match="no exclusion to override"):
        case.record_special_reason(
            actors.village, at(2024, 3, 6), expected_version=case.version, reason=REASON
        )


def test_a_special_reason_outside_the_appraisal_step_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    driver.screen(case, at(2024, 3, 5), Exclusion.TOWN_PROPERTY)
    with pytest.raises(InvalidTransition, match="recorded at village_appraisal"):
        case.record_special_reason(
            actors.village, at(2024, 3, 5, 12), expected_version=case.version, reason=REASON
        )


def test_an_empty_special_reason_is_refused(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    with pytest.raises(InvalidTransition, match="cannot be empty"):
        case.record_special_reason(
            actors.village, at(2024, 3, 7), expected_version=case.version, reason="  "
        )


def test_only_the_village_records_the_special_reason(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = _excluded_case(open_case, driver)
    for actor in (actors.town, actors.county, actors.neighbour_village):
        with pytest.raises(PermissionDenied, match="may not record a special-case reason"):
            case.record_special_reason(
                actor, at(2024, 3, 7), expected_version=case.version, reason=REASON
            )
