"""Codes of DOMAIN.md section 3 (categories, risk types, exclusions, referrals) in table order."""

from __future__ import annotations

from typing import Final

CATEGORIES: Final = ("unstable_lifted", "marginal", "sudden_hardship")
"""监测对象类别: 脱贫不稳定户, 边缘易致贫户, 突发严重困难户."""

RISK_TYPES: Final = (
    "illness",
    "disability",
    "education",
    "disaster",
    "accident",
    "industry_failure",
    "unstable_employment",
    "labor_shortage",
    "housing",
    "drinking_water",
    "other",
)
"""返贫致贫风险类型 in the order of the national system (an export keeps the first ones)."""

EXCLUSIONS: Final = (
    "public_employee",
    "village_leader",
    "business_owner",
    "town_property",
    "vehicle_machinery",
    "financial_assets",
    "high_fee_schooling",
    "supporters_able",
    "illegal_conduct",
    "unwilling_to_work",
    "refused_asset_check",
    "absent_over_year",
)
"""原则上不予认定: exclusions that apply in principle (village appraisal may still admit)."""

REFERRALS: Final = ("compulsory_education", "medical_insurance", "housing", "drinking_water")
"""Failed guarantees (三保障 + 饮水) returned to the lead department (缺什么补什么)."""

NON_COMPULSORY_STAGES: Final = ("senior", "vocational", "college")
"""School stages after compulsory education (高中, 中职, 大学)."""
