"""Intake's view of the dated procedure parameters (rulesets/<scope>/procedure.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from fangpin_intake.domain.clues import ClueRules
from fangpin_kit.parameters import ParameterSpec, SectionSpec, load_section

PROCEDURE_VIEW = SectionSpec(
    "procedure",
    (ParameterSpec("verification_working_days", int, "入户核实 within N working days"),),
    partial=True,
)


def clue_rules_provider(rulesets_dir: Path, province: str | None) -> Callable[[date], ClueRules]:
    """Clue rules in force on a date, for the county's province (loaded and checked once)."""
    section = load_section(PROCEDURE_VIEW, rulesets_dir)

    def rules_on(day: date) -> ClueRules:
        params = section.resolve(day, province)
        return ClueRules(verification_working_days=int(params["verification_working_days"]))

    return rules_on
