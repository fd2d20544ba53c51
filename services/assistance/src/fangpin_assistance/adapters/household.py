"""Translating the v1 household record and a case decision into the domain's HouseholdSummary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from fangpin_assistance.domain.codes import (
    Category,
    LaborCapacity,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
)
from fangpin_assistance.domain.household import HouseholdSummary, MemberSummary
from fangpin_contracts.household import RecordError, household_to_dict, validate_household

COMPULSORY_SCHOOL_AGES = range(6, 16)
"""Ages 6-15: compulsory education (DOMAIN section 3, referral `compulsory_education`)."""


class FactsError(ValueError):
    """A case decision whose facts cannot be planned from; the message names the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def member_ref(index: int) -> str:
    """Opaque reference of the member at `index` of the record (`m1`, `m2`...), never an ID."""
    return f"m{index + 1}"


def normalized_record(obj: Any) -> dict[str, Any]:
    """The v1 record with its defaults filled in; FactsError names the bad field."""
    if not isinstance(obj, dict):
        raise FactsError("household", "expected the v1 household record")
    try:
        return household_to_dict(validate_household(obj))
    except RecordError as err:
        raise FactsError(f"household.{err.path}" if err.path else "household", err.reason) from err


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def failed_guarantees(record: dict[str, Any], on: date) -> tuple[Referral, ...]:
    """三保障 + 饮水 the household lacks on `on` (缺什么补什么), in the Referral order."""
    members = record["members"]
    failed = set()
    for member in members:
        birth = date.fromisoformat(member["birth_date"])
        if member.get("out_of_school") and _age_on(birth, on) in COMPULSORY_SCHOOL_AGES:
            failed.add(Referral.COMPULSORY_EDUCATION)
        if not member.get("medical_insured", True):
            failed.add(Referral.MEDICAL_INSURANCE)
    if not record.get("housing_safe", True):
        failed.add(Referral.HOUSING)
    if not record.get("drinking_water_safe", True):
        failed.add(Referral.DRINKING_WATER)
    return tuple(referral for referral in Referral if referral in failed)


def summary_from_decision(
    record: dict[str, Any],
    *,
    category: str | None,
    risk_types: Sequence[str],
    green_channel: bool,
    on: date,
) -> HouseholdSummary:
    """What assistance plans from: the decided category and risks, and the record's facts."""
    try:
        decided_category = Category(category) if category else None
    except ValueError:
        raise FactsError("category", f"unknown category {category!r}") from None
    risks: list[RiskType] = []
    for index, code in enumerate(risk_types):
        try:
            risks.append(RiskType(code))
        except ValueError:
            raise FactsError(f"risk_types[{index}]", f"unknown risk type {code!r}") from None
    members = tuple(
        MemberSummary(
            member_ref=member_ref(index),
            labor_capacity=LaborCapacity(member.get("labor_capacity", "full")),
            school_stage=SchoolStage(member.get("school_stage", "none")),
        )
        for index, member in enumerate(record["members"])
    )
    return HouseholdSummary(
        household_id=record["household_id"],
        county=record["region"]["county"],
        village=record["region"]["village"],
        category=decided_category,
        risk_types=tuple(dict.fromkeys(risks)),
        members=members,
        referrals=failed_guarantees(record, on),
        safety_net=SafetyNet(record.get("safety_net", "none")),
        formerly_poor=bool(record.get("formerly_poor", False)),
        green_channel=green_channel,
    )
