"""Notify's dated parameters: its own `notify` section and the procedure's escalation levels."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from fangpin_kit.parameters import ParameterError, ParameterSpec, SectionSpec, load_section
from fangpin_notify.domain.parameters import InvalidParameters, NotifyParameters

NOTIFY_SECTION = SectionSpec(
    "notify",
    (
        ParameterSpec("reminder_lead_days", int, "提前提醒, days before a due date"),
        ParameterSpec("escalation_after_days", int, "逾期督办, days after a missed due date"),
        ParameterSpec("digest_threshold", int, "每日汇总, single messages per recipient per day"),
        ParameterSpec("retry_max_attempts", int, "delivery attempts before dead-lettering"),
        ParameterSpec("retry_backoff_base_seconds", float, "wait after the first failure"),
        ParameterSpec("retry_backoff_max_seconds", float, "longest wait between attempts"),
    ),
)

# Notify reads who an overdue step escalates to (逐级督办) from the procedure approval owns.
PROCEDURE_VIEW = SectionSpec(
    "procedure",
    (ParameterSpec("escalation", dict, "level -> level an overdue step escalates to"),),
    partial=True,
)

LEVELS = ("household", "village", "town", "county")

Escalation = Mapping[str, str]


def notify_parameters_provider(
    rulesets_dir: Path, province: str | None
) -> Callable[[date], NotifyParameters]:
    """Notify parameters in force on a date for the county's province (loaded and checked once)."""
    section = load_section(NOTIFY_SECTION, rulesets_dir)

    @functools.lru_cache(maxsize=64)
    def parameters_on(day: date) -> NotifyParameters:
        resolved = section.resolve(day, province)
        try:
            return NotifyParameters.from_mapping(resolved)
        except InvalidParameters as err:
            raise ParameterError(resolved.ruleset_id, "notify", str(err)) from err

    return parameters_on


def escalation_provider(rulesets_dir: Path, province: str | None) -> Callable[[date], Escalation]:
    """The level each level's overdue steps escalate to, as in force on a date."""
    section = load_section(PROCEDURE_VIEW, rulesets_dir)

    @functools.lru_cache(maxsize=64)
    def escalation_on(day: date) -> Escalation:
        resolved = section.resolve(day, province)
        mapping = resolved["escalation"]
        source = section.timeline("escalation", resolved.province).file
        for level in LEVELS:
            target = mapping.get(level)
            if target not in LEVELS:
                raise ParameterError(
                    source, f"escalation.{level}", f"{target!r} is not one of {list(LEVELS)}"
                )
        return {str(k): str(v) for k, v in mapping.items()}

    return escalation_on
