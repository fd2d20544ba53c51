"""Codes of the assistance domain, spelled exactly as DOMAIN.md and CONTRACT.md write them."""

from enum import StrEnum


class RiskType(StrEnum):
    """返贫致贫风险类型, in DOMAIN section 3 table order."""

    ILLNESS = "illness"
    DISABILITY = "disability"
    EDUCATION = "education"
    DISASTER = "disaster"
    ACCIDENT = "accident"
    INDUSTRY_FAILURE = "industry_failure"
    UNSTABLE_EMPLOYMENT = "unstable_employment"
    LABOR_SHORTAGE = "labor_shortage"
    HOUSING = "housing"
    DRINKING_WATER = "drinking_water"
    OTHER = "other"


class Referral(StrEnum):
    """A failed guarantee (三保障 + 饮水) referred to its lead department."""

    COMPULSORY_EDUCATION = "compulsory_education"
    MEDICAL_INSURANCE = "medical_insurance"
    HOUSING = "housing"
    DRINKING_WATER = "drinking_water"


class Category(StrEnum):
    """监测对象类别."""

    UNSTABLE_LIFTED = "unstable_lifted"
    MARGINAL = "marginal"
    SUDDEN_HARDSHIP = "sudden_hardship"


class LaborCapacity(StrEnum):
    """普通/弱/半/无(丧失)劳动力."""

    FULL = "full"
    WEAK = "weak"
    SEMI = "semi"
    NONE = "none"


class SafetyNet(StrEnum):
    """Social safety-net status; dibao_full = full or highest-grade dibao, tekun = 特困供养."""

    NONE = "none"
    DIBAO = "dibao"
    DIBAO_FULL = "dibao_full"
    TEKUN = "tekun"


class SchoolStage(StrEnum):
    """A member's current school stage (学段)."""

    NONE = "none"
    PRESCHOOL = "preschool"
    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"
    VOCATIONAL = "vocational"
    COLLEGE = "college"


class Department(StrEnum):
    """Lead department codes of CONTRACT section 4 (the `<dept>` of bus subjects)."""

    CIVIL_AFFAIRS = "civil_affairs"
    MEDICAL_INSURANCE = "medical_insurance"
    HEALTH = "health"
    EDUCATION = "education"
    HOUSING = "housing"
    WATER = "water"
    HRSS = "hrss"
    DISABLED_PERSONS = "disabled_persons"
    EMERGENCY = "emergency"
    AGRICULTURE = "agriculture"
    PUBLIC_SECURITY = "public_security"
    FINANCE = "finance"
    COMMERCE_FEDERATION = "commerce_federation"
    DEVELOPMENT_REFORM = "development_reform"
    TRANSPORT = "transport"
    OTHER = "other"


class TermKind(StrEnum):
    """How a measure's term ends, which decides its continuation after risk elimination."""

    NONE = "none"
    CONTRACT_END = "contract_end"
    AGREEMENT_END = "agreement_end"
    SCHOOL_STAGE_END = "school_stage_end"
    FIXED_MONTHS = "fixed_months"


class MeasureStatus(StrEnum):
    """Lifecycle of one measure; `withdrawn` marks a measure a cadre or a stop took back."""

    PROPOSED = "proposed"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


CLOSED_STATUSES = frozenset(
    {
        MeasureStatus.COMPLETED,
        MeasureStatus.REJECTED,
        MeasureStatus.EXPIRED,
        MeasureStatus.WITHDRAWN,
    }
)

IMPLEMENTED_STATUSES = frozenset(
    {MeasureStatus.IN_PROGRESS, MeasureStatus.COMPLETED, MeasureStatus.EXPIRED}
)
"""A measure in one of these has been delivered (落实) for the elimination-mode check."""


class ReplyKind(StrEnum):
    """A department's answer to a dispatched measure (`measure.<kind>` subjects)."""

    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"


class HouseholdSituation(StrEnum):
    """Which visit interval applies to a household."""

    UNRESOLVED = "unresolved"
    """监测对象, risk not yet eliminated."""
    ELIMINATED = "eliminated"
    """监测对象 whose risk was eliminated (风险消除), still followed."""
    STABLE_LIFTED = "stable_lifted"
    """稳定脱贫户 (formerly poor, not a monitored object)."""
