"""Risk clues (风险线索): registering a warning or declaration, merging repeats, due dates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

ClueStatus = Literal["open", "closed"]
# (start, n) -> the date n working days after start (kit.workdays, official calendar)
WorkingDays = Callable[[date, int], date]

CLUE_SOURCES = (
    "department_warning",  # 部门筛查预警
    "self_declaration",  # 农户自主申报
    "hotline",  # 12317
    "cadre_visit",  # 干部走访
    "concentrated_screening",  # 集中排查
)


@dataclass(frozen=True)
class ClueRules:
    """The parameters intake applies to clues (from the `procedure` ruleset section)."""

    verification_working_days: int


@dataclass
class Clue:
    """One risk clue about a household; repeats of the same kind merge while it is open."""

    clue_id: str
    household_id: str
    kind: str
    source: str
    dept: str | None
    observed_at: date
    registered_at: datetime
    verification_due: date
    status: ClueStatus = "open"
    warnings: int = 1
    outcome: str | None = None
    warning_ids: list[str] = field(default_factory=list)

    def merge(self, warning_id: str, observed_at: date) -> None:
        """A repeat warning of the same kind while the clue is open adds to it, nothing more."""
        if self.status != "open":
            raise ValueError(f"clue {self.clue_id} is closed; a new clue must be opened")
        self.warnings += 1
        self.warning_ids.append(warning_id)
        self.observed_at = max(self.observed_at, observed_at)

    def close(self, outcome: str) -> bool:
        """Close after screening decided; returns False when it was already closed."""
        if self.status == "closed":
            return False
        self.status = "closed"
        self.outcome = outcome
        return True


def open_clue(
    *,
    household_id: str,
    kind: str,
    source: str,
    dept: str | None,
    observed_at: date,
    registered_at: datetime,
    registered_on: date,
    warning_id: str | None,
    rules: ClueRules,
    add_working_days: WorkingDays,
) -> Clue:
    """A new clue; verification (入户核实) is due N working days after it is registered."""
    if source not in CLUE_SOURCES:
        raise ValueError(f"source: unknown clue source {source!r}")
    return Clue(
        clue_id=f"CL-{uuid.uuid4().hex[:16]}",
        household_id=household_id,
        kind=kind,
        source=source,
        dept=dept,
        observed_at=observed_at,
        registered_at=registered_at,
        verification_due=add_working_days(registered_on, rules.verification_working_days),
        warning_ids=[warning_id] if warning_id else [],
    )
