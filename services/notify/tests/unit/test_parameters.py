"""NotifyParameters: built from the resolved ruleset, validated, and in step with notify.yaml."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
import yaml

from fangpin_notify.domain.parameters import InvalidParameters, NotifyParameters

RULESET = Path(__file__).resolve().parents[4] / "rulesets" / "cn" / "notify.yaml"

VALUES = {
    "reminder_lead_days": 2,
    "escalation_after_days": 1,
    "digest_threshold": 5,
    "retry_max_attempts": 5,
    "retry_backoff_base_seconds": 30,
    "retry_backoff_max_seconds": 3600,
}


def _in_force(values: list[dict[str, object]], on: date) -> object:
    started = [v for v in values if v["start"] <= on]  # type: ignore[operator]
    return max(started, key=lambda v: v["start"])["value"]  # type: ignore[arg-type,return-value]


def test_from_mapping_builds_the_parameters() -> None:
    params = NotifyParameters.from_mapping(VALUES)
    assert params.reminder_lead_days == 2
    assert params.retry_backoff_base_seconds == 30.0


def test_from_mapping_names_missing_and_unknown_parameters() -> None:
    values = {k: v for k, v in VALUES.items() if k != "digest_threshold"} | {"sms_quota": 9}
    with pytest.raises(InvalidParameters, match=r"missing \['digest_threshold'\].*sms_quota"):
        NotifyParameters.from_mapping(values)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("reminder_lead_days", -1),
        ("escalation_after_days", 0),
        ("digest_threshold", 0),
        ("retry_max_attempts", 0),
        ("retry_backoff_max_seconds", 5),
    ],
)
def test_out_of_range_values_are_rejected_with_their_name(name: str, value: int) -> None:
    with pytest.raises(InvalidParameters, match=name):
        NotifyParameters.from_mapping(VALUES | {name: value})


def test_baseline_ruleset_declares_exactly_the_notify_parameters() -> None:
    data = yaml.safe_load(RULESET.read_text("utf-8"))
    assert data["section"] == "notify"
    assert set(data["parameters"]) == {f.name for f in fields(NotifyParameters)}
    for name, spec in data["parameters"].items():
        assert spec["description"], name
        assert all(v.get("reference") for v in spec["values"]), name


def test_baseline_ruleset_resolves_to_valid_parameters() -> None:
    data = yaml.safe_load(RULESET.read_text("utf-8"))
    resolved = {
        name: _in_force(spec["values"], date(2025, 1, 1))
        for name, spec in data["parameters"].items()
    }
    assert NotifyParameters.from_mapping(resolved) == NotifyParameters.from_mapping(VALUES)
