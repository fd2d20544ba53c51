"""The v1 household record and a case decision read as the planner's HouseholdSummary."""

from datetime import date
from typing import Any

import pytest

from fangpin_assistance.adapters.household import (
    FactsError,
    failed_guarantees,
    normalized_record,
    summary_from_decision,
)
from fangpin_assistance.domain.codes import (
    Category,
    LaborCapacity,
    Referral,
    RiskType,
    SchoolStage,
)
from fangpin_cli.demo import id_number

COUNTY = "652827"


def record(**extra: Any) -> dict[str, Any]:
    members = [
        {
            "id_number": id_number(COUNTY, date(1980, 1, 11), 11),
            "name": "王伟",
            "relation": "head",
            "birth_date": "1980-01-11",
            "labor_capacity": "semi",
        },
        {
            "id_number": id_number(COUNTY, date(2012, 9, 1), 12),
            "name": "王小",
            "relation": "child",
            "birth_date": "2012-09-01",
            "school_stage": "junior",
        },
    ]
    base = {
        "household_id": "H00001",
        "region": {"county": COUNTY, "village": f"{COUNTY}100011"},
        "members": members,
    }
    base.update(extra)
    return normalized_record(base)


def test_members_are_referenced_by_position_never_by_id_number() -> None:
    summary = summary_from_decision(
        record(),
        category="marginal",
        risk_types=["illness"],
        green_channel=False,
        on=date(2024, 6, 1),
    )
    assert [(m.member_ref, m.labor_capacity, m.school_stage) for m in summary.members] == [
        ("m1", LaborCapacity.SEMI, SchoolStage.NONE),
        ("m2", LaborCapacity.FULL, SchoolStage.JUNIOR),
    ]
    assert (summary.category, summary.risk_types) == (Category.MARGINAL, (RiskType.ILLNESS,))
    assert summary.has_labor


def test_failed_guarantees_are_read_from_the_record_on_the_decision_date() -> None:
    facts = record(housing_safe=False, drinking_water_safe=False)
    facts["members"][1]["out_of_school"] = True
    facts["members"][0]["medical_insured"] = False
    assert failed_guarantees(facts, date(2024, 6, 1)) == (
        Referral.COMPULSORY_EDUCATION,
        Referral.MEDICAL_INSURANCE,
        Referral.HOUSING,
        Referral.DRINKING_WATER,
    )
    # out of school at 16 is no longer a compulsory-education failure
    assert Referral.COMPULSORY_EDUCATION not in failed_guarantees(facts, date(2028, 9, 1))


@pytest.mark.parametrize(
    ("decision", "path"),
    [
        ({"category": "wealthy"}, "category"),
        ({"risk_types": ["illness", "boredom"]}, "risk_types[1]"),
    ],
)
def test_undecodable_decision_names_the_field(decision: dict[str, Any], path: str) -> None:
    args: dict[str, Any] = {"category": "marginal", "risk_types": [], **decision}
    with pytest.raises(FactsError) as err:
        summary_from_decision(record(), green_channel=False, on=date(2024, 6, 1), **args)
    assert err.value.path == path


def test_bad_record_names_the_field_under_household() -> None:
    bad = record()
    bad["members"][0]["id_number"] = "652827198001110000"
    with pytest.raises(FactsError, match=r"^household\.members\[0\]\.id_number: "):
        normalized_record(bad)
    with pytest.raises(FactsError, match=r"^household: expected the v1 household record"):
        normalized_record(["not", "a", "record"])
