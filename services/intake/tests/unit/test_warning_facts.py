"""A department warning's facts land in the household record, and only make it worse-off."""

from __future__ import annotations

from datetime import date

from fangpin_intake.domain.warning_facts import WarningFacts, apply_warning
from intake_factories import household


def test_high_medical_expense_raises_self_paid_costs_and_marks_the_member_ill() -> None:
    record = household()
    member = record["members"][1]["id_number"]
    facts = WarningFacts("high_medical_expense", date(2024, 6, 1), 26000, member)
    out, changed = apply_warning(record, facts)
    assert out["expenses"]["medical_self_paid"] == 26000
    assert out["members"][1]["illness"] == "serious"
    assert changed == ["expenses.medical_self_paid", "members[1].illness"]
    assert "expenses" not in record  # the input is not modified


def test_smaller_amount_never_lowers_a_recorded_expense() -> None:
    record = household(expenses={"medical_self_paid": 30000})
    out, changed = apply_warning(
        record, WarningFacts("high_medical_expense", date(2024, 6, 1), 1000)
    )
    assert out["expenses"]["medical_self_paid"] == 30000
    assert changed == []


def test_disaster_is_recorded_as_an_event_with_its_loss_once() -> None:
    facts = WarningFacts("disaster", date(2024, 7, 2), 18000)
    out, _ = apply_warning(household(), facts)
    assert out["events"] == [{"kind": "disaster", "date": "2024-07-02", "loss": 18000}]
    assert out["expenses"]["disaster_loss"] == 18000
    again, changed_again = apply_warning(out, facts)
    assert again["events"] == out["events"]
    assert changed_again == []


def test_unsafe_housing_water_outage_and_dropout() -> None:
    record = household()
    child = record["members"][0]["id_number"]
    out, _ = apply_warning(record, WarningFacts("unsafe_housing", date(2024, 6, 1)))
    out, _ = apply_warning(out, WarningFacts("water_outage", date(2024, 6, 1)))
    out, changed = apply_warning(out, WarningFacts("dropout", date(2024, 6, 1), None, child))
    assert out["housing_safe"] is False
    assert out["drinking_water_safe"] is False
    assert out["members"][0]["out_of_school"] is True
    assert changed == ["members[0].out_of_school"]


def test_new_tekun_replaces_dibao_but_never_downgrades() -> None:
    out, _ = apply_warning(
        household(safety_net="dibao"), WarningFacts("new_tekun", date(2024, 6, 1))
    )
    assert out["safety_net"] == "tekun"
    out, changed = apply_warning(out, WarningFacts("new_dibao", date(2024, 6, 1)))
    assert out["safety_net"] == "tekun"
    assert changed == []


def test_unemployment_records_a_job_loss_and_unstable_work() -> None:
    record = household()
    record["members"][0]["employment"] = "migrant_stable"
    member = record["members"][0]["id_number"]
    out, changed = apply_warning(
        record, WarningFacts("unemployment", date(2024, 5, 1), None, member)
    )
    assert out["events"] == [{"kind": "job_loss", "date": "2024-05-01"}]
    assert out["members"][0]["employment"] == "migrant_unstable"
    assert changed == ["events[0]", "members[0].employment"]
