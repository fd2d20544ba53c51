"""Builders for the screening domain tests: explicit parameters, rulesets and households."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from fangpin_contracts.household import Household, validate_household
from fangpin_screening.domain.engine import CompiledRuleset
from fangpin_screening.domain.parameters import ScreeningParameters

AS_OF = date(2024, 6, 29)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

BASELINE: dict[str, Any] = {
    "monitoring_threshold": 7300,
    "income_window_days": 365,
    "medical_alert": 10000,
    "education_alert": 10000,
    "education_students_alert": 2,
    "severe_disability_max_grade": 2,
    "wage_share": 0.6,
    "compulsory_school_age_min": 6,
    "compulsory_school_age_max": 15,
    "risk_type_export_limit": 5,
    "elimination_stable_months": 6,
    "scale_unresolved_share": 0.02,
    "scale_low_income_multiple": 1.5,
    "scale_cluster_window_days": 7,
    "scale_cluster_min_warnings": 5,
}


def id_number(birth: date, serial: int = 123) -> str:
    """A GB 11643 ID number with a correct check digit."""
    body = f"652827{birth:%Y%m%d}{serial % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def params(**overrides: Any) -> ScreeningParameters:
    return ScreeningParameters.from_mapping({**BASELINE, **overrides})


def ruleset(as_of: date = AS_OF, **overrides: Any) -> CompiledRuleset:
    return CompiledRuleset("test@2024-01-01", as_of, None, params(**overrides))


def member(birth: date = date(1980, 1, 11), **fields: Any) -> dict[str, Any]:
    base = {
        "id_number": id_number(birth, len(fields)),
        "name": "成员",
        "relation": "head",
        "birth_date": birth.isoformat(),
    }
    return {**base, **fields}


def household(
    members: list[dict[str, Any]] | None = None, per_capita: float | None = None, **fields: Any
) -> Household:
    """A valid household; `per_capita` sets business income so that figure comes out."""
    people = members if members is not None else [member()]
    record: dict[str, Any] = {
        "household_id": "H00001",
        "region": {"county": "652827", "village": "652827100011"},
        "members": people,
    }
    if per_capita is not None:
        record["income"] = {"business": per_capita * len(people)}
    record.update(fields)
    return validate_household(record)


def replace(h: Household, **changes: Any) -> Household:
    return msgspec.structs.replace(h, **changes)
