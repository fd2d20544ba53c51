"""Approval's declaration of the dated `procedure` section (rulesets/<scope>/procedure.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_kit.parameters import ParameterSpec, SectionSpec, load_section

# The owner's full declaration: an unknown parameter in the file is an error here (intake
# reads a partial view of the same file).
PROCEDURE_SECTION = SectionSpec(
    "procedure",
    (
        ParameterSpec("flow_version", str, "flow definition version new cases start with"),
        ParameterSpec("verification_working_days", int, "入户核实 within N working days"),
        ParameterSpec("verification_min_cadres", int, "cadres signing the visit together"),
        ParameterSpec("notice_min_days", int, "村内公示 runs at least N days"),
        ParameterSpec("approval_limit", int, "clue to county approval"),
        ParameterSpec("approval_limit_unit", str, "calendar or working days"),
        ParameterSpec("system_entry_days", int, "录入全国系统 within N days of approval"),
        ParameterSpec("plan_due_days", int, "一户一策 within N days of approval"),
        ParameterSpec("green_channel_months", int, "绿色通道 completes within N months"),
        ParameterSpec("escalation", dict, "overdue escalates from a level to this level"),
    ),
)

ProcedureRules = Callable[[date], ProcedureParameters]


def procedure_rules_provider(rulesets_dir: Path, province: str | None) -> ProcedureRules:
    """Procedure parameters in force on a date for the county's province.

    The files are loaded and checked once (a bad file fails the service at start, naming file,
    key and reason); each distinct ruleset in force is built once.
    """
    section = load_section(PROCEDURE_SECTION, rulesets_dir)
    built: dict[str, ProcedureParameters] = {}

    def rules_on(day: date) -> ProcedureParameters:
        resolved = section.resolve(day, province)
        params = built.get(resolved.ruleset_id)
        if params is None:
            params = ProcedureParameters.from_values(
                dict(resolved.parameters), ruleset=resolved.ruleset_id
            )
            built[resolved.ruleset_id] = params
        return params

    return rules_on
