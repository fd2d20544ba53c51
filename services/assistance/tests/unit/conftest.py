"""Shared fixtures and builders for the assistance domain tests."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from fangpin_assistance.domain.catalog import Catalog, load_catalog
from fangpin_assistance.domain.codes import (
    Category,
    LaborCapacity,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
)
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_assistance.domain.parameters import AssistanceParameters

BASELINE = {
    "plan_due_days": 10,
    "dispatch_reply_timeout_hours": 72,
    "max_redispatches": 2,
    "min_contact_cadres": 1,
    "visit_interval_months_unresolved": 1,
    "visit_interval_months_eliminated": 6,
    "visit_interval_months_stable_lifted": 12,
    "income_collection_interval_months": 3,
    "income_collection_day": 10,
}
"""The national baseline values of rulesets/cn/assistance.yaml (pinned by test_parameters)."""

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def params() -> AssistanceParameters:
    return AssistanceParameters.from_mapping(BASELINE)


def member(
    ref: str,
    labor: LaborCapacity = LaborCapacity.FULL,
    stage: SchoolStage = SchoolStage.NONE,
    stage_ends_on: date | None = None,
) -> MemberSummary:
    return MemberSummary(
        member_ref=ref, labor_capacity=labor, school_stage=stage, school_stage_ends_on=stage_ends_on
    )


def household(
    *risks: RiskType,
    members: tuple[MemberSummary, ...] | None = None,
    referrals: tuple[Referral, ...] = (),
    safety_net: SafetyNet = SafetyNet.NONE,
    household_id: str = "H000001",
) -> HouseholdSummary:
    return HouseholdSummary(
        household_id=household_id,
        county="652827",
        village="652827100001",
        category=Category.MARGINAL,
        risk_types=risks,
        members=members or (member("m1"),),
        referrals=referrals,
        safety_net=safety_net,
    )


@pytest.fixture
def make_member() -> Callable[..., MemberSummary]:
    """Builder of a member summary (ref, labor, stage, stage_ends_on)."""
    return member


@pytest.fixture
def make_household() -> Callable[..., HouseholdSummary]:
    """Builder of a household summary (*risks, members=, referrals=, safety_net=)."""
    return household


@pytest.fixture
def t0() -> datetime:
    return T0
