"""AssistanceParameters: built from resolved ruleset values, in sync with the baseline file."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from fangpin_assistance.domain.codes import HouseholdSituation
from fangpin_assistance.domain.parameters import AssistanceParameters, ParameterError

RULESET = Path(__file__).parents[4] / "rulesets" / "cn" / "assistance.yaml"


def _resolve(document: dict[str, Any], on: date) -> dict[str, Any]:
    """The value in force on `on`: latest start on or before it (ARCHITECTURE.md)."""
    resolved = {}
    for name, parameter in document["parameters"].items():
        in_force = [v for v in parameter["values"] if v["start"] <= on]
        resolved[name] = max(in_force, key=lambda v: v["start"])["value"]
    return resolved


def test_baseline_ruleset_defines_exactly_the_domain_parameters(
    params: AssistanceParameters,
) -> None:
    document = yaml.safe_load(RULESET.read_text(encoding="utf-8"))
    assert document["section"] == "assistance"
    for name, parameter in document["parameters"].items():
        assert parameter["description"], name
        assert all(value.get("reference") for value in parameter["values"]), name
    resolved = AssistanceParameters.from_mapping(_resolve(document, date(2024, 6, 30)))
    assert resolved == params  # the tests' fixture is the national baseline
    assert params.plan_due_days == 10
    assert params.income_collection_day == 10
    assert params.visit_interval_months(HouseholdSituation.UNRESOLVED) == 1
    assert params.visit_interval_months(HouseholdSituation.ELIMINATED) == 6
    assert params.visit_interval_months(HouseholdSituation.STABLE_LIFTED) == 12


def test_missing_parameter_is_named(params: AssistanceParameters) -> None:
    values = {k: getattr(params, k) for k in params.__dataclass_fields__}
    del values["plan_due_days"]
    with pytest.raises(ParameterError, match="missing assistance parameters: plan_due_days"):
        AssistanceParameters.from_mapping(values)


def test_unknown_parameter_is_named(params: AssistanceParameters) -> None:
    values = {k: getattr(params, k) for k in params.__dataclass_fields__}
    values["visit_every_week"] = 1
    with pytest.raises(ParameterError, match="unknown assistance parameters: visit_every_week"):
        AssistanceParameters.from_mapping(values)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("income_collection_interval_months", 5, "must divide 12"),
        ("income_collection_day", 31, "<= 28"),
        ("plan_due_days", 0, ">= 1"),
        ("max_redispatches", -1, ">= 0"),
        ("dispatch_reply_timeout_hours", "72", "must be an integer"),
    ],
)
def test_invalid_parameter_values_are_rejected_by_name(
    params: AssistanceParameters, name: str, value: object, message: str
) -> None:
    values: dict[str, object] = {k: getattr(params, k) for k in params.__dataclass_fields__}
    values[name] = value
    with pytest.raises(ParameterError, match=f"{name}: .*{message}"):
        AssistanceParameters.from_mapping(values)


def test_zero_redispatches_is_allowed(params: AssistanceParameters) -> None:
    values = {k: getattr(params, k) for k in params.__dataclass_fields__}
    values["max_redispatches"] = 0
    assert AssistanceParameters.from_mapping(values).max_redispatches == 0
