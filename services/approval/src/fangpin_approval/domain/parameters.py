"""Dated procedure parameters (time limits and escalation) as the approval domain takes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fangpin_approval.domain.actors import Level

_LEVEL_ORDER = (Level.HOUSEHOLD, Level.VILLAGE, Level.TOWN, Level.COUNTY)


class DayKind(StrEnum):
    """How a time limit counts days."""

    CALENDAR = "calendar"  # 自然日
    WORKING = "working"  # 工作日, official calendar with make-up days


@dataclass(frozen=True)
class ProcedureParameters:
    """The `procedure` ruleset section in force on a case's start date (rulesets/cn/procedure.yaml).

    `ruleset` names where the values came from (e.g. `cn@2021-01-01`) so a case can show it.
    """

    ruleset: str
    flow_version: str
    verification_working_days: int
    verification_min_cadres: int
    notice_min_days: int
    approval_limit: int
    approval_limit_unit: DayKind
    system_entry_days: int
    plan_due_days: int
    green_channel_months: int
    escalation: Mapping[Level, Level] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.flow_version, str) or not self.flow_version:
            raise ValueError(
                f"procedure parameter flow_version: {self.flow_version!r} is not a name"
            )
        object.__setattr__(self, "approval_limit_unit", DayKind(self.approval_limit_unit))
        for name in (
            "verification_working_days",
            "verification_min_cadres",
            "notice_min_days",
            "approval_limit",
            "system_entry_days",
            "plan_due_days",
            "green_channel_months",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"procedure parameter {name}: {value!r} is not a positive integer")
        escalation = {Level(k): Level(v) for k, v in self.escalation.items()}
        missing = [level.value for level in _LEVEL_ORDER if level not in escalation]
        if missing:
            raise ValueError(f"procedure parameter escalation: no target for {missing}")
        for source, target in escalation.items():
            if _LEVEL_ORDER.index(target) < _LEVEL_ORDER.index(source):
                raise ValueError(
                    f"procedure parameter escalation: {source} escalates down to {target}"
                )
        object.__setattr__(self, "escalation", escalation)

    def escalate(self, level: Level) -> Level:
        """The level an overdue case goes to when `level` is late (逐级督办)."""
        return self.escalation[level]

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, ruleset: str) -> ProcedureParameters:
        """Build from the section's values in force on a date, as the loader resolves them."""
        names = {f for f in cls.__dataclass_fields__ if f != "ruleset"}
        unknown = sorted(set(values) - names)
        missing = sorted(names - set(values))
        if unknown or missing:
            raise ValueError(f"procedure parameters: unknown {unknown}, missing {missing}")
        given = {k: values[k] for k in names}
        # YAML reads an unquoted version like 2021 as a number
        given["flow_version"] = str(given["flow_version"])
        return cls(ruleset=ruleset, **given)
