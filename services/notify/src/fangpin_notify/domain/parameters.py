"""Notify's dated policy parameters (rulesets/<...>/notify.yaml) as one frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


class InvalidParameters(ValueError):
    """The resolved notify parameters are missing, unknown or out of range."""


@dataclass(frozen=True)
class NotifyParameters:
    """The notify section of a ruleset, resolved for one date.

    Built by the service from `fangpin_kit.parameters`; tests build it directly.
    """

    reminder_lead_days: int  # 提前提醒: 0 means no reminder before the due date
    escalation_after_days: int  # 逾期督办: at least 1, the due day has its own reminder
    digest_threshold: int  # 每日汇总: single messages per recipient per day
    retry_max_attempts: int
    retry_backoff_base_seconds: float
    retry_backoff_max_seconds: float

    def __post_init__(self) -> None:
        problems = []
        if self.reminder_lead_days < 0:
            problems.append("reminder_lead_days: must be >= 0")
        if self.escalation_after_days < 1:
            problems.append("escalation_after_days: must be >= 1")
        if self.digest_threshold < 1:
            problems.append("digest_threshold: must be >= 1")
        if self.retry_max_attempts < 1:
            problems.append("retry_max_attempts: must be >= 1")
        if self.retry_backoff_base_seconds < 0:
            problems.append("retry_backoff_base_seconds: must be >= 0")
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            problems.append("retry_backoff_max_seconds: must be >= retry_backoff_base_seconds")
        if problems:
            raise InvalidParameters("; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> NotifyParameters:
        """Build from `{name: value}` as resolved from the ruleset; names must match exactly."""
        names = {f.name for f in fields(cls)}
        missing = sorted(names - values.keys())
        unknown = sorted(values.keys() - names)
        if missing or unknown:
            raise InvalidParameters(f"notify parameters: missing {missing}, unknown {unknown}")
        return cls(
            reminder_lead_days=int(values["reminder_lead_days"]),
            escalation_after_days=int(values["escalation_after_days"]),
            digest_threshold=int(values["digest_threshold"]),
            retry_max_attempts=int(values["retry_max_attempts"]),
            retry_backoff_base_seconds=float(values["retry_backoff_base_seconds"]),
            retry_backoff_max_seconds=float(values["retry_backoff_max_seconds"]),
        )
