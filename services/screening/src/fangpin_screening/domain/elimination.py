"""Risk elimination check (风险消除) and roll-back detection (回退) for monitored households."""

from __future__ import annotations

import calendar
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

from fangpin_contracts.household import Household

from .engine import CompiledRuleset, Decision, decide

EliminationStatus = Literal["eligible", "not_yet", "held"]
EliminationMode = Literal["assisted", "natural"]

INCOME_NOT_STABLE: Final = "income_not_stable"
"""Per-capita income not above the threshold for the required months (收入持续稳定)."""
GUARANTEES_NOT_CONSOLIDATED: Final = "guarantees_not_consolidated"
"""A guarantee (义务教育, 医保, 住房, 饮水) fails on the current record (三保障和饮水持续巩固)."""
RISKS_REMAIN: Final = "risks_remain"
"""An identified risk is still detected and no assistance measure has been implemented."""
NEW_RISKS: Final = "new_risks"
"""A risk type not identified before is detected now (不存在新增返贫致贫风险)."""
STILL_IN_SCOPE: Final = "still_in_scope"
"""The current record is still in the monitoring scope (per-capita or adjusted income)."""

_GUARANTEE_PREFIX: Final = "guarantee."
_HELD_SAFETY_NETS: Final = frozenset({"tekun"})
_HELD_IF_NO_LABOR: Final = frozenset({"dibao_full"})


@dataclass(frozen=True, order=True)
class QuarterIncome:
    """Per-capita net income of the 12 months up to the end of one quarter (按季度采集)."""

    year: int
    quarter: int
    per_capita: float = field(compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"quarter must be 1..4, got {self.quarter}")

    @property
    def end(self) -> date:
        """Last day of the quarter."""
        month = 3 * self.quarter
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def index(self) -> int:
        """Consecutive quarters have consecutive indexes."""
        return self.year * 4 + self.quarter - 1


@dataclass(frozen=True)
class EliminationCheck:
    """Whether a monitored household may be nominated for risk elimination, and why not."""

    household_id: str
    as_of: date
    ruleset: str
    status: EliminationStatus
    mode: EliminationMode | None
    failing: tuple[str, ...]
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RollbackCheck:
    """Whether an eliminated household's risk has returned (回退, re-identification)."""

    household_id: str
    as_of: date
    ruleset: str
    rollback: bool
    reasons: tuple[str, ...]
    values: Mapping[str, Any]


def safety_net_held(household: Household) -> bool:
    """No-labor households on the safety net are never eliminated: they stay monitored.

    特困供养 (tekun), or full/highest dibao (dibao_full) with no member able to work.
    """
    if household.safety_net in _HELD_SAFETY_NETS:
        return True
    no_labor = all(m.labor_capacity == "none" for m in household.members)
    return household.safety_net in _HELD_IF_NO_LABOR and no_labor


def stable_months(history: Sequence[QuarterIncome], as_of: date, threshold: float) -> int:
    """Months of consecutive quarters, back from the last one ended by `as_of`, above threshold.

    A missing quarter or a quarter not above the threshold ends the run; quarters ending after
    `as_of` are ignored. Each quarter counts three months.
    """
    by_index = {q.index: q for q in history if q.end <= as_of}
    if not by_index:
        return 0
    current = max(by_index)
    latest_expected = _last_quarter_index(as_of)
    if current != latest_expected:
        return 0  # the latest quarter was not collected: nothing shows stability now
    months = 0
    while current in by_index and by_index[current].per_capita > threshold:
        months += 3
        current -= 1
    return months


def _last_quarter_index(as_of: date) -> int:
    quarter = (as_of.month - 1) // 3 + 1
    q = QuarterIncome(as_of.year, quarter, 0.0)
    return q.index if q.end <= as_of else q.index - 1


def _detected(decision: Decision) -> set[str]:
    """Risk types the rules detect on the current record, in or out of scope, without `other`."""
    return {
        entry.rule.removeprefix("risk.")
        for entry in decision.trace
        if entry.rule.startswith("risk.") and entry.hit and entry.rule != "risk.other"
    }


def _failed_guarantees(decision: Decision) -> list[str]:
    return sorted(
        entry.rule.removeprefix(_GUARANTEE_PREFIX)
        for entry in decision.trace
        if entry.rule.startswith(_GUARANTEE_PREFIX) and entry.hit
    )


def check_elimination(
    household: Household,
    identified_risks: Collection[str],
    income_history: Sequence[QuarterIncome],
    measures_implemented: int,
    ruleset: CompiledRuleset,
) -> EliminationCheck:
    """风险消除 conditions on `ruleset.as_of` (DOMAIN.md section 4), all three required.

    `eligible` when income has stayed above the threshold for the required months, every
    guarantee holds and the identified risks are removed with no new one; `not_yet` lists the
    failing conditions; `held` for no-labor safety-net households (never eliminated). The mode
    is `assisted` when measures were implemented (identified risks they address may persist),
    else `natural` (the identified risks must be gone).
    """
    params = ruleset.params
    decision = decide(household, ruleset)
    identified = set(identified_risks) - {"other"}
    detected = _detected(decision)
    months = stable_months(income_history, ruleset.as_of, params.monitoring_threshold)
    mode: EliminationMode = "assisted" if measures_implemented > 0 else "natural"
    failed = _failed_guarantees(decision)
    remaining = sorted(detected & identified)
    new = sorted(detected - identified)
    values: dict[str, Any] = {
        "threshold": params.monitoring_threshold,
        "stable_months": months,
        "stable_months_required": params.elimination_stable_months,
        "failed_guarantees": failed,
        "remaining_risks": remaining,
        "new_risks": new,
        "measures_implemented": measures_implemented,
        "in_scope": decision.in_scope,
    }
    if safety_net_held(household):
        return EliminationCheck(
            household.household_id, ruleset.as_of, ruleset.ruleset_id, "held", None, (), values
        )
    failing: list[str] = []
    if months < params.elimination_stable_months:
        failing.append(INCOME_NOT_STABLE)
    if decision.in_scope:
        failing.append(STILL_IN_SCOPE)
    if failed:
        failing.append(GUARANTEES_NOT_CONSOLIDATED)
    if remaining and mode == "natural":
        failing.append(RISKS_REMAIN)
    if new:
        failing.append(NEW_RISKS)
    status: EliminationStatus = "not_yet" if failing else "eligible"
    return EliminationCheck(
        household.household_id,
        ruleset.as_of,
        ruleset.ruleset_id,
        status,
        mode,
        tuple(failing),
        values,
    )


ROLLBACK_INCOME: Final = "income_below_threshold"
"""A quarter after elimination with per-capita income below the threshold."""
ROLLBACK_IN_SCOPE: Final = "screened_in_scope"
"""The current record screens in scope again (per-capita or adjusted income)."""
ROLLBACK_GUARANTEE: Final = "guarantee_failed"
"""A guarantee fails again on the current record."""


def check_rollback(
    household: Household,
    eliminated_on: date,
    income_history: Sequence[QuarterIncome],
    ruleset: CompiledRuleset,
) -> RollbackCheck:
    """回退: whether an eliminated household must be re-identified because risk returned."""
    threshold = ruleset.params.monitoring_threshold
    decision = decide(household, ruleset)
    after = sorted(q for q in income_history if eliminated_on < q.end <= ruleset.as_of)
    low = [q for q in after if q.per_capita < threshold]
    failed = _failed_guarantees(decision)
    reasons: list[str] = []
    if low:
        reasons.append(ROLLBACK_INCOME)
    if decision.in_scope:
        reasons.append(ROLLBACK_IN_SCOPE)
    if failed:
        reasons.append(ROLLBACK_GUARANTEE)
    values = {
        "threshold": threshold,
        "quarters_below": [f"{q.year}Q{q.quarter}" for q in low],
        "category": decision.category,
        "failed_guarantees": failed,
    }
    return RollbackCheck(
        household.household_id,
        ruleset.as_of,
        ruleset.ruleset_id,
        bool(reasons),
        tuple(reasons),
        values,
    )
