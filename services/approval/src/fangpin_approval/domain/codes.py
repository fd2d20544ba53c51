"""Domain codes the approval service shares with screening and assistance (DOMAIN.md)."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Category of monitored object (监测对象类别)."""

    UNSTABLE_LIFTED = "unstable_lifted"  # 脱贫不稳定户
    MARGINAL = "marginal"  # 边缘易致贫户
    SUDDEN_HARDSHIP = "sudden_hardship"  # 突发严重困难户


class RiskType(StrEnum):
    """Risk of (returning to) poverty (返贫致贫风险类型), in the national system's order."""

    ILLNESS = "illness"  # 因病
    DISABILITY = "disability"  # 因残
    EDUCATION = "education"  # 因学
    DISASTER = "disaster"  # 因自然灾害
    ACCIDENT = "accident"  # 因意外事故
    INDUSTRY_FAILURE = "industry_failure"  # 因产业项目失败
    UNSTABLE_EMPLOYMENT = "unstable_employment"  # 因务工就业不稳
    LABOR_SHORTAGE = "labor_shortage"  # 缺劳动力
    HOUSING = "housing"  # 住房安全
    DRINKING_WATER = "drinking_water"  # 饮水安全
    OTHER = "other"  # 其他


class Exclusion(StrEnum):
    """Exclusions that bar identification in principle (原则上不予认定)."""

    PUBLIC_EMPLOYEE = "public_employee"
    VILLAGE_LEADER = "village_leader"
    BUSINESS_OWNER = "business_owner"
    TOWN_PROPERTY = "town_property"
    VEHICLE_MACHINERY = "vehicle_machinery"
    FINANCIAL_ASSETS = "financial_assets"
    HIGH_FEE_SCHOOLING = "high_fee_schooling"
    SUPPORTERS_ABLE = "supporters_able"
    ILLEGAL_CONDUCT = "illegal_conduct"
    UNWILLING_TO_WORK = "unwilling_to_work"
    REFUSED_ASSET_CHECK = "refused_asset_check"
    ABSENT_OVER_YEAR = "absent_over_year"


class EliminationMode(StrEnum):
    """How the risk was eliminated (风险消除方式)."""

    ASSISTED = "assisted"  # 帮扶消除: requires implemented assistance measures
    NATURAL = "natural"  # 自然消除


def sorted_risk_types(values: tuple[RiskType, ...] | list[RiskType]) -> tuple[RiskType, ...]:
    """Risk types deduplicated, in the table order the national system uses."""
    order = list(RiskType)
    return tuple(sorted(set(values), key=order.index))


class RegisterStatus(StrEnum):
    """Status of a household in the register of monitored households (监测对象台账)."""

    MONITORED = "monitored"  # 监测对象, assisted and followed
    ELIMINATED = "eliminated"  # 风险消除 (标注), still followed up
    HELD = "held"  # no labor capacity on the safety net: stays monitored, marked, not eliminated
    ROLLED_BACK = "rolled_back"  # 风险消除回退: elimination unstable, re-enters identification
    REMOVED = "removed"  # 清退: left the green channel without completing identification
