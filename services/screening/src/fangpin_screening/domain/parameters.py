"""Screening section parameters: the declaration for the loader and the typed values in force."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from fangpin_kit.parameters import ParameterSpec, SectionSpec

_TYPES: Final[dict[str, type]] = {"int": int, "float": float, "bool": bool, "str": str}


def _doc(text: str) -> Any:
    return field(metadata={"description": text})


@dataclass(frozen=True)
class ScreeningParameters:
    """Values of `rulesets/<scope>/screening.yaml` in force on one date (sources: the YAML)."""

    monitoring_threshold: float = _doc("监测范围, yuan per person per year")
    income_window_days: int = _doc("income window, days up to and including the as-of date")
    medical_alert: float = _doc("self-paid medical costs flagging the illness risk, yuan")
    education_alert: float = _doc("self-paid schooling costs flagging the education risk, yuan")
    education_students_alert: int = _doc("members in non-compulsory schooling flagging 因学")
    severe_disability_max_grade: int = _doc("highest disability grade counted as severe")
    wage_share: float = _doc("wage share of gross income for unstable migrant work")
    compulsory_school_age_min: int = _doc("youngest age of the compulsory-education guarantee")
    compulsory_school_age_max: int = _doc("oldest age of the compulsory-education guarantee")
    risk_type_export_limit: int = _doc("risk types the national system stores per household")
    elimination_stable_months: int = _doc("months income must stay above the threshold")
    scale_unresolved_share: float = _doc("village share of unresolved monitored households")
    scale_low_income_multiple: float = _doc("village mean per-capita income floor, x threshold")
    scale_cluster_window_days: int = _doc("days in which warnings of one kind form a cluster")
    scale_cluster_min_warnings: int = _doc("warnings of one kind in a village forming a cluster")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ScreeningParameters:
        """Build from resolved parameters (any mapping holding every declared name)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


SCREENING_SECTION: Final = SectionSpec(
    name="screening",
    parameters=tuple(
        ParameterSpec(f.name, _TYPES[str(f.type)], f.metadata["description"])
        for f in fields(ScreeningParameters)
    ),
)
"""Declaration of the `screening` section for `fangpin_kit.parameters.load_section`."""
