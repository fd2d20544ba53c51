"""Village public notice text (村内公示): publishable facts only, never ID, phone, bank, health."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fangpin_approval.domain.actors import Level, validate_region
from fangpin_approval.domain.case import Case
from fangpin_approval.domain.codes import Category, EliminationMode, RiskType
from fangpin_approval.domain.procedure import FlowKind
from fangpin_kit.masking import mask_name

CATEGORY_LABELS: dict[Category, str] = {
    Category.UNSTABLE_LIFTED: "脱贫不稳定户",
    Category.MARGINAL: "边缘易致贫户",
    Category.SUDDEN_HARDSHIP: "突发严重困难户",
}

# Illness and disability are health facts: a notice never shows them.
HEALTH_RISKS = frozenset({RiskType.ILLNESS, RiskType.DISABILITY})

RISK_LABELS: dict[RiskType, str] = {
    RiskType.EDUCATION: "因学",
    RiskType.DISASTER: "因自然灾害",
    RiskType.ACCIDENT: "因意外事故",
    RiskType.INDUSTRY_FAILURE: "因产业项目失败",
    RiskType.UNSTABLE_EMPLOYMENT: "因务工就业不稳",
    RiskType.LABOR_SHORTAGE: "缺劳动力",
    RiskType.HOUSING: "住房安全",
    RiskType.DRINKING_WATER: "饮水安全",
    RiskType.OTHER: "其他",
}

MODE_LABELS: dict[EliminationMode, str] = {
    EliminationMode.ASSISTED: "帮扶消除",
    EliminationMode.NATURAL: "自然消除",
}

# An ID number, phone or bank account is a long digit run; no notice field may carry one.
_LONG_DIGITS = re.compile(r"\d{7,}")


@dataclass(frozen=True)
class NoticeEntry:
    """One household line of a village notice; the type holds only what may be published."""

    case_id: str
    kind: FlowKind
    village: str
    head_name: str
    members: int
    group: str = ""
    category: Category | None = None
    risk_types: tuple[RiskType, ...] = ()
    elimination_mode: EliminationMode | None = None

    def __post_init__(self) -> None:
        validate_region(self.village, Level.VILLAGE)
        if self.members < 1:
            raise ValueError(f"notice entry {self.case_id}: members must be at least 1")
        for name, value in (("head_name", self.head_name), ("group", self.group)):
            if _LONG_DIGITS.search(value):
                raise ValueError(
                    f"notice entry {self.case_id}: {name} holds a long number; a notice never "
                    "shows an ID number, phone or bank account"
                )
        if not self.head_name.strip():
            raise ValueError(f"notice entry {self.case_id}: head_name is empty")

    @classmethod
    def for_case(cls, case: Case, *, head_name: str, members: int, group: str = "") -> NoticeEntry:
        """The notice line of a case; the household record supplies name, size and group."""
        return cls(
            case_id=case.id,
            kind=case.kind,
            village=case.region,
            head_name=head_name,
            members=members,
            group=group,
            category=case.category,
            risk_types=case.risk_types,
            elimination_mode=case.elimination_mode,
        )

    def public_risks(self) -> str:
        """Risk labels that may be published (health facts left out), or a dash."""
        labels = [RISK_LABELS[r] for r in self.risk_types if r not in HEALTH_RISKS]
        return "、".join(labels) or "—"


def render_notice(
    *,
    village: str,
    village_name: str,
    published_on: dt.date,
    last_day: dt.date,
    entries: Sequence[NoticeEntry],
    full_names: bool = False,
) -> str:
    """The public notice text of one village, published in that village only.

    Names are masked to the surname unless the county's practice is to publish full names
    (`full_names`). Raises ValueError for an entry of another village.
    """
    validate_region(village, Level.VILLAGE)
    if last_day < published_on:
        raise ValueError(f"notice ends ({last_day}) before it is published ({published_on})")
    if not entries:
        raise ValueError(f"village {village}: a notice lists at least one household")
    for entry in entries:
        if entry.village != village:
            raise ValueError(
                f"notice for village {village} cannot list case {entry.case_id} of village "
                f"{entry.village}: notices are published in the household's village only"
            )

    def name(entry: NoticeEntry) -> str:
        return entry.head_name if full_names else mask_name(entry.head_name)

    identifications = [e for e in entries if e.kind is FlowKind.IDENTIFICATION]
    eliminations = [e for e in entries if e.kind is FlowKind.ELIMINATION]
    days = (last_day - published_on).days + 1
    lines = [f"{village_name}防止返贫监测对象公示", ""]
    if identifications:
        lines += [
            "根据防止返贫动态监测和帮扶工作有关规定,经农户申请、入户核实、村民主评议,"
            "现将拟识别为监测对象的农户公示如下:",
            "",
            "序号\t村民小组\t户主\t家庭人口\t监测对象类别\t主要风险",
        ]
        for number, entry in enumerate(identifications, 1):
            category = CATEGORY_LABELS[entry.category] if entry.category else "—"
            lines.append(
                f"{number}\t{entry.group or '—'}\t{name(entry)}\t{entry.members}人\t"
                f"{category}\t{entry.public_risks()}"
            )
        lines.append("")
    if eliminations:
        lines += [
            "经村提名、入户核实、村民主评议,现将拟标注风险消除的监测对象公示如下:",
            "",
            "序号\t村民小组\t户主\t家庭人口\t消除方式",
        ]
        for number, entry in enumerate(eliminations, 1):
            mode = MODE_LABELS[entry.elimination_mode] if entry.elimination_mode else "—"
            lines.append(
                f"{number}\t{entry.group or '—'}\t{name(entry)}\t{entry.members}人\t{mode}"
            )
        lines.append("")
    lines += [
        f"公示时间:{_chinese_date(published_on)}至{_chinese_date(last_day)}(共{days}天)。",
        "公示期间如有异议,请以书面或口头形式向本村村民委员会或乡镇人民政府反映。",
        "",
        f"{village_name}村民委员会",
        _chinese_date(published_on),
    ]
    text = "\n".join(lines)
    if _LONG_DIGITS.search(text):  # defence in depth: the fields above cannot carry one
        raise ValueError(f"village {village}: notice text holds a long number; refusing it")
    return text


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
