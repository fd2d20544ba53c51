"""Dated assistance parameters in force on one date, as the domain consumes them."""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta

from fangpin_assistance.domain.codes import HouseholdSituation

MONTHS_PER_YEAR = 12
LAST_SAFE_DAY_OF_MONTH = 28


class ParameterError(ValueError):
    """Raised when resolved ruleset values do not make a valid parameter set."""


@dataclass(frozen=True)
class AssistanceParameters:
    """Values of `rulesets/<...>/assistance.yaml` resolved for one date.

    Build it with `from_mapping` from the parameter loader's resolved `{name: value}`.
    """

    plan_due_days: int
    dispatch_reply_timeout_hours: int
    max_redispatches: int
    min_contact_cadres: int
    visit_interval_months_unresolved: int
    visit_interval_months_eliminated: int
    visit_interval_months_stable_lifted: int
    income_collection_interval_months: int
    income_collection_day: int

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ParameterError(f"{field.name}: must be an integer, got {value!r}")
            minimum = 0 if field.name == "max_redispatches" else 1
            if value < minimum:
                raise ParameterError(f"{field.name}: must be >= {minimum}, got {value}")
        if MONTHS_PER_YEAR % self.income_collection_interval_months:
            raise ParameterError(
                "income_collection_interval_months: must divide 12 so periods align with the "
                f"year, got {self.income_collection_interval_months}"
            )
        if self.income_collection_day > LAST_SAFE_DAY_OF_MONTH:
            raise ParameterError(
                f"income_collection_day: must be <= {LAST_SAFE_DAY_OF_MONTH} to exist in every "
                f"month, got {self.income_collection_day}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "AssistanceParameters":
        """Build from resolved parameter values; unknown or missing names fail by name."""
        names = {field.name for field in fields(cls)}
        missing = sorted(names - values.keys())
        unknown = sorted(set(values) - names)
        if missing:
            raise ParameterError(f"missing assistance parameters: {', '.join(missing)}")
        if unknown:
            raise ParameterError(f"unknown assistance parameters: {', '.join(unknown)}")
        return cls(**{name: values[name] for name in names})  # type: ignore[arg-type]

    @property
    def dispatch_reply_timeout(self) -> timedelta:
        """How long a lead department has to answer one dispatch."""
        return timedelta(hours=self.dispatch_reply_timeout_hours)

    def visit_interval_months(self, situation: HouseholdSituation) -> int:
        """Longest allowed gap between two visits for a household in this situation."""
        match situation:
            case HouseholdSituation.UNRESOLVED:
                return self.visit_interval_months_unresolved
            case HouseholdSituation.ELIMINATED:
                return self.visit_interval_months_eliminated
            case HouseholdSituation.STABLE_LIFTED:
                return self.visit_interval_months_stable_lifted
