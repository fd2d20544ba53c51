"""Every transition of the identification procedure, with the events and timeline it leaves."""

from __future__ import annotations

import datetime as dt

from approval_support import HOUSEHOLD, VILLAGE, Actors, Driver, OpenCase, at

from fangpin_approval.domain.case import Action, CaseStatus
from fangpin_approval.domain.codes import Category, RiskType
from fangpin_approval.domain.events import (
    CaseAdvanced,
    CaseDecided,
    CaseOpened,
    NoticePublished,
    Outcome,
)
from fangpin_approval.domain.procedure import FlowKind, Step


def test_opening_starts_at_application_with_due_dates_and_emits_case_opened(
    open_case: OpenCase,
) -> None:
    case = open_case(dt.date(2024, 3, 4))
    assert case.step is Step.APPLICATION
    assert case.status is CaseStatus.OPEN
    assert case.flow.version == "2021"
    assert case.due.verification == dt.date(2024, 3, 11)  # 5 working days
    assert case.due.approval == dt.date(2024, 3, 19)  # 15 calendar days
    [opened] = case.pull_events()
    assert isinstance(opened, CaseOpened)
    assert (opened.household_id, opened.region, opened.kind) == (
        HOUSEHOLD,
        VILLAGE,
        FlowKind.IDENTIFICATION,
    )
    assert opened.due == case.due
    assert [a.action for a in case.history] == [Action.OPEN]
    assert case.version == 1


def test_household_signing_application_moves_case_to_verification(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    case.pull_events()
    case.sign(actors.household, at(2024, 3, 4), expected_version=1, comment="申请")
    assert case.step is Step.VERIFICATION
    [event] = case.pull_events()
    assert isinstance(event, CaseAdvanced)
    assert (event.from_step, event.to_step, event.actor_id) == (
        Step.APPLICATION,
        Step.VERIFICATION,
        HOUSEHOLD,
    )
    assert event.version == case.version == 2


def test_village_cadre_may_sign_application_on_the_households_behalf(
    open_case: OpenCase, actors: Actors
) -> None:
    case = open_case()
    case.sign(actors.village, at(2024, 3, 4), expected_version=case.version, comment="代申请")
    assert case.step is Step.VERIFICATION


def test_verification_signed_by_two_cadres_moves_case_to_village_appraisal(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    driver.verify(case, at(2024, 3, 5))
    assert case.step is Step.VILLAGE_APPRAISAL
    assert case.verified_on == dt.date(2024, 3, 5)
    signed = case.history[-1]
    assert signed.actor == actors.village
    assert signed.co_signers == (actors.town,)
    assert signed.attachments == ("att://visit-form-1",)


def test_publishing_the_notice_sets_its_last_day_and_emits_notice_published(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    case.pull_events()
    driver.publish(case, at(2024, 3, 6))
    assert case.notice_published_on == dt.date(2024, 3, 6)
    assert case.due.notice_last_day == dt.date(2024, 3, 10)
    [event] = case.pull_events()
    assert isinstance(event, NoticePublished)
    assert (event.village, event.published_on, event.last_day) == (
        VILLAGE,
        dt.date(2024, 3, 6),
        dt.date(2024, 3, 10),
    )
    assert case.step is Step.VILLAGE_APPRAISAL


def test_appraisal_signed_after_the_notice_moves_case_to_town_review(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    assert case.step is Step.TOWN_REVIEW


def test_town_review_signed_moves_case_to_county_approval(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.COUNTY_APPROVAL)
    assert case.step is Step.COUNTY_APPROVAL


def test_county_approval_approves_and_emits_case_decided_with_post_approval_due_dates(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case)
    assert case.status is CaseStatus.APPROVED
    assert case.decided_at == at(2024, 3, 13)
    decided = case.pull_events()[-1]
    assert isinstance(decided, CaseDecided)
    assert decided.outcome is Outcome.APPROVED
    assert decided.green_channel is False
    assert decided.category is Category.MARGINAL
    assert decided.risk_types == (RiskType.ILLNESS, RiskType.EDUCATION)
    assert decided.due.system_entry == dt.date(2024, 3, 23)
    assert decided.due.plan == dt.date(2024, 3, 23)


def test_objection_during_notice_returns_case_to_verification(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    driver.publish(case, at(2024, 3, 6))
    case.pull_events()
    case.object(
        actors.village2, at(2024, 3, 8), expected_version=case.version, comment="村民反映有车辆"
    )
    assert case.step is Step.VERIFICATION
    assert case.notice_published_on is None
    assert case.due.notice_last_day is None
    [event] = case.pull_events()
    assert isinstance(event, CaseAdvanced)
    assert (event.action, event.from_step, event.to_step) == (
        "object",
        Step.VILLAGE_APPRAISAL,
        Step.VERIFICATION,
    )
    # verified again, the notice must run in full once more
    driver.verify(case, at(2024, 3, 9))
    driver.publish(case, at(2024, 3, 9, 11))
    assert case.due.notice_last_day == dt.date(2024, 3, 13)


def test_town_return_sends_case_back_to_village_appraisal(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    case.pull_events()
    case.return_(actors.town, at(2024, 3, 12), expected_version=case.version, comment="材料不全")
    assert case.step is Step.VILLAGE_APPRAISAL
    [event] = case.pull_events()
    assert isinstance(event, CaseAdvanced)
    assert (event.action, event.to_step) == ("return", Step.VILLAGE_APPRAISAL)
    # the notice already ran: the village can sign again at once
    driver.appraise(case, at(2024, 3, 12, 15))
    assert case.step is Step.TOWN_REVIEW


def test_county_return_sends_case_back_to_town_review(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.COUNTY_APPROVAL)
    case.return_(actors.county, at(2024, 3, 13), expected_version=case.version, comment="复核收入")
    assert case.step is Step.TOWN_REVIEW
    assert case.history[-1].action is Action.RETURN
    assert case.history[-1].comment == "复核收入"


def test_rejection_closes_case_and_emits_case_decided_with_reason(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.TOWN_REVIEW)
    case.pull_events()
    case.reject(actors.town, at(2024, 3, 12), expected_version=case.version, reason="收入超标")
    assert case.status is CaseStatus.REJECTED
    [decided] = case.pull_events()
    assert isinstance(decided, CaseDecided)
    assert (decided.outcome, decided.reason, decided.green_channel) == (
        Outcome.REJECTED,
        "收入超标",
        False,
    )


def test_each_step_after_application_can_reject(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    signer = {
        Step.VERIFICATION: actors.village,
        Step.VILLAGE_APPRAISAL: actors.village,
        Step.TOWN_REVIEW: actors.town,
        Step.COUNTY_APPROVAL: actors.county,
    }
    for step, actor in signer.items():
        case = open_case()
        driver.to_step(case, step)
        case.reject(actor, at(2024, 3, 14), expected_version=case.version, reason="不符合条件")
        assert case.status is CaseStatus.REJECTED, step


def test_household_withdrawal_closes_case_as_withdrawn(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VERIFICATION)
    case.pull_events()
    case.withdraw(actors.household, at(2024, 3, 5), expected_version=case.version, reason="外出")
    assert case.status is CaseStatus.WITHDRAWN
    [decided] = case.pull_events()
    assert isinstance(decided, CaseDecided)
    assert decided.outcome is Outcome.WITHDRAWN


def test_county_records_system_entry_after_approval(
    open_case: OpenCase, actors: Actors, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case)
    case.record_system_entry(actors.county, at(2024, 3, 15), expected_version=case.version)
    assert case.system_entry_on == dt.date(2024, 3, 15)
    assert case.history[-1].action is Action.RECORD_SYSTEM_ENTRY


def test_screening_decision_is_recorded_in_the_timeline(open_case: OpenCase) -> None:
    case = open_case()
    case.record_screening(
        at(2024, 3, 4, 12),
        category=Category.SUDDEN_HARDSHIP,
        risk_types=[RiskType.DISASTER, RiskType.ILLNESS, RiskType.DISASTER],
        exclusions=[],
        ruleset="cn@2024-01-01",
    )
    assert case.category is Category.SUDDEN_HARDSHIP
    assert case.risk_types == (RiskType.ILLNESS, RiskType.DISASTER)  # national order, no repeats
    entry = case.history[-1]
    assert entry.action is Action.RECORD_SCREENING and entry.actor is None
    assert entry.details["category"] == "sudden_hardship"


def test_every_action_leaves_exactly_one_timeline_entry_and_one_version(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case)
    assert [a.action for a in case.history] == [
        Action.OPEN,
        Action.SIGN,
        Action.SIGN,
        Action.RECORD_SCREENING,
        Action.PUBLISH_NOTICE,
        Action.SIGN,
        Action.SIGN,
        Action.SIGN,
    ]
    assert [a.seq for a in case.history] == list(range(1, 9))
    assert case.version == len(case.history)
    assert [a.step for a in case.history if a.action is Action.SIGN] == [
        Step.APPLICATION,
        Step.VERIFICATION,
        Step.VILLAGE_APPRAISAL,
        Step.TOWN_REVIEW,
        Step.COUNTY_APPROVAL,
    ]
