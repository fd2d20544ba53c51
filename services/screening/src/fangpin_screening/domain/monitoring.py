"""A household's monitoring status (监测状态) as the county's case decisions leave it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal

MonitoringStatus = Literal["monitored", "held", "eliminated", "removed"]

APPROVED: Final = "approved"
GREEN_CHANNEL: Final = "green_channel"
"""Registered at once through the green channel (绿色通道), the procedure still to complete."""
HELD: Final = "held"
"""Elimination approved for a no-labor safety-net household: it stays monitored, marked."""

UNRESOLVED: Final = frozenset({"monitored", "held"})
"""Statuses of monitored households whose risk is not eliminated (未消除风险)."""


@dataclass(frozen=True)
class CaseDecision:
    """What a `case.decided` event says, in the terms screening needs."""

    case_id: str
    kind: Literal["identification", "elimination"]
    outcome: str
    on: date
    green_channel: bool = False
    category: str | None = None
    risk_types: tuple[str, ...] = ()
    elimination_mode: str | None = None


@dataclass(frozen=True)
class Monitoring:
    """Whether a household is monitored, since when, for which risks, and how it left."""

    household_id: str
    status: MonitoringStatus
    since: date
    case_id: str
    category: str | None = None
    risk_types: tuple[str, ...] = ()
    green_channel: bool = False
    eliminated_on: date | None = None
    elimination_mode: str | None = None

    @property
    def unresolved(self) -> bool:
        return self.status in UNRESOLVED


def after_case_decision(
    current: Monitoring | None, household_id: str, decided: CaseDecision
) -> Monitoring | None:
    """The monitoring status after a case decision (approval's register is the authority).

    Identification approved, or registered through the green channel: monitored with the
    identified risks (a roll-back re-identification restarts the period). A green-channel
    household whose case ends any other way leaves monitoring (`removed`). Elimination
    approved: `eliminated` on that day; `held` keeps a no-labor safety-net household monitored.
    Other outcomes (rejected, withdrawn) change nothing.
    """
    if decided.kind == "identification":
        if decided.outcome in (APPROVED, GREEN_CHANNEL):
            entering = decided.outcome == GREEN_CHANNEL
            continuing = current is not None and current.unresolved
            return Monitoring(
                household_id=household_id,
                status="monitored",
                since=current.since if current is not None and continuing else decided.on,
                case_id=decided.case_id,
                category=decided.category,
                risk_types=decided.risk_types,
                green_channel=entering,
            )
        if (
            current is not None
            and current.status == "monitored"
            and current.green_channel
            and decided.green_channel
        ):
            return replace(current, status="removed", case_id=decided.case_id, green_channel=False)
        return current
    if decided.outcome == APPROVED:
        base = current or Monitoring(
            household_id, "monitored", decided.on, decided.case_id, risk_types=decided.risk_types
        )
        return replace(
            base,
            status="eliminated",
            case_id=decided.case_id,
            green_channel=False,
            eliminated_on=decided.on,
            elimination_mode=decided.elimination_mode,
        )
    if decided.outcome == HELD:
        base = current or Monitoring(
            household_id, "monitored", decided.on, decided.case_id, risk_types=decided.risk_types
        )
        return replace(base, status="held", case_id=decided.case_id)
    return current
