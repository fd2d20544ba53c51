"""Monitoring status after approval's case decisions: monitored, held, eliminated, removed."""

from __future__ import annotations

from datetime import date

from fangpin_screening.domain.monitoring import CaseDecision, Monitoring, after_case_decision

H = "H0000001"


def decided(
    kind: str = "identification", outcome: str = "approved", **fields: object
) -> CaseDecision:
    base: dict[str, object] = {"case_id": "C-1", "on": date(2024, 3, 1), "risk_types": ("illness",)}
    return CaseDecision(kind=kind, outcome=outcome, **{**base, **fields})  # type: ignore[arg-type]


def test_an_approved_identification_makes_the_household_monitored_with_its_risks() -> None:
    after = after_case_decision(None, H, decided(category="marginal"))
    assert after == Monitoring(H, "monitored", date(2024, 3, 1), "C-1", "marginal", ("illness",))
    assert after.unresolved


def test_rejected_or_withdrawn_identification_changes_nothing() -> None:
    assert after_case_decision(None, H, decided(outcome="rejected")) is None
    current = after_case_decision(None, H, decided())
    assert after_case_decision(current, H, decided(outcome="withdrawn", case_id="C-2")) == current


def test_the_green_channel_registers_at_once_and_completing_it_keeps_the_start_date() -> None:
    entered = after_case_decision(None, H, decided(outcome="green_channel", green_channel=True))
    assert entered is not None and entered.green_channel and entered.status == "monitored"
    completed = after_case_decision(
        entered, H, decided(on=date(2024, 3, 20), case_id="C-2", risk_types=("accident",))
    )
    assert completed is not None and not completed.green_channel
    assert (completed.since, completed.risk_types) == (date(2024, 3, 1), ("accident",))


def test_a_green_channel_case_ending_otherwise_removes_the_household() -> None:
    entered = after_case_decision(None, H, decided(outcome="green_channel", green_channel=True))
    expired = decided(outcome="green_channel_expired", green_channel=True, on=date(2024, 4, 1))
    after = after_case_decision(entered, H, expired)
    assert after is not None and (after.status, after.unresolved) == ("removed", False)


def test_elimination_approved_eliminates_and_held_keeps_monitoring() -> None:
    monitored = after_case_decision(None, H, decided())
    eliminated = after_case_decision(
        monitored,
        H,
        decided("elimination", on=date(2025, 1, 5), case_id="E-1", elimination_mode="natural"),
    )
    assert eliminated is not None
    assert (eliminated.status, eliminated.eliminated_on, eliminated.elimination_mode) == (
        "eliminated",
        date(2025, 1, 5),
        "natural",
    )
    held = after_case_decision(monitored, H, decided("elimination", outcome="held", case_id="E-2"))
    assert held is not None and held.status == "held" and held.unresolved


def test_a_rolled_back_household_is_identified_again_from_the_new_decision() -> None:
    monitored = after_case_decision(None, H, decided())
    eliminated = after_case_decision(monitored, H, decided("elimination", case_id="E-1"))
    again = after_case_decision(eliminated, H, decided(on=date(2025, 6, 1), case_id="C-9"))
    assert again is not None
    assert (again.status, again.since, again.eliminated_on) == ("monitored", date(2025, 6, 1), None)
