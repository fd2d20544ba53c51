"""Household table columns (户信息表): the one mapping of CSV/XLSX column names to record fields.

A household table (CSV or an Excel sheet) has one row per member (家庭成员). Each column has an
English code and a Chinese name; a header may use either, or mix them:

- `household_id` 户编号; `county` 县代码, `town` 乡镇代码, `village` 行政村代码 (-> `region.*`);
- `member.<field>` (-> `members[i].<field>`): 身份证号, 姓名, 与户主关系, 出生日期, 户口类型,
  劳动能力, 就业情况, 健康状况, 残疾等级, 在校阶段 and the member's yes/no columns;
- household facts by their field name: `formerly_poor` 是否脱贫户, `relocated`
  是否易地扶贫搬迁户, `housing_safe`, `drinking_water_safe`, `safety_net` 兜底保障,
  `income.<field>` 工资性收入 ..., `expenses.<field>` 合规自付医疗费用 ..., `assets.<field>`,
  `flags.<field>`;
- `events` 突发事件: `kind:date[:loss]` items separated by `;` (or a JSON array).

`COLUMNS` lists every column with its Chinese name, what its cells hold (`kind`), whether it is
required, its allowed codes (read from the household model, never retyped here) and a note for
the template's explanation sheet. Household columns repeat on every member row of a household
(or are given on its first row only); the rows of one household are consecutive. An empty cell
means "not given": the schema default applies.

Coded cells (enums) take the English code or its Chinese label (`VALUE_LABELS`): `head` or
户主, `dibao` or 低保; yes/no cells take 是/否 (also true/false, yes/no, 1/0).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from datetime import date
from typing import Final, Literal, NamedTuple

import msgspec

from fangpin_contracts.household import Event, Household, Member, Region

__all__ = [
    "BOOL_LABELS",
    "COLUMNS",
    "VALUE_LABELS",
    "Column",
    "ColumnKind",
    "allowed_text",
    "column_named",
    "column_of_path",
    "enum_error",
]

ColumnKind = Literal["text", "bool", "int", "number", "date", "enum", "events"]

# code -> (中文列名, note for the template). The order is the template's column order.
_NAMES: Final[dict[str, tuple[str, str]]] = {
    "household_id": ("户编号", "县内唯一, 6-32 位字母、数字或 -; 同户各成员行填同一编号且相邻"),
    "county": ("县代码", "6 位县级行政区划代码 (GB/T 2260)"),
    "town": ("乡镇代码", "9 位乡镇代码, 可空"),
    "village": ("行政村代码", "12 位统计用行政村代码"),
    "member.id_number": ("身份证号", "18 位居民身份证号码, 校验位核对; 请设为文本格式"),
    "member.name": ("姓名", "1-50 个字符"),
    "member.relation": ("与户主关系", ""),
    "member.birth_date": ("出生日期", "如 1980-01-11 (也接受 1980/1/11, 19800111, 1980年1月11日)"),
    "member.hukou": ("户口类型", ""),
    "member.urban_security": ("是否享受城镇保障", "享受城镇低保或城镇职工养老保险"),
    "member.labor_capacity": ("劳动能力", ""),
    "member.employment": ("就业情况", ""),
    "member.village_leader": ("是否村干部", "村党组织书记或村委会主任"),
    "member.illness": ("健康状况", ""),
    "member.disability_grade": ("残疾等级", "0 = 无残疾, 1-4 = 残疾等级 (1-2 级为重度)"),
    "member.school_stage": ("在校阶段", ""),
    "member.out_of_school": ("是否辍学", "义务教育阶段适龄儿童辍学"),
    "member.high_fee_school": ("是否就读高收费学校", "高收费民办学校、择校或自费留学"),
    "member.medical_insured": ("是否参加基本医保", ""),
    "formerly_poor": ("是否脱贫户", ""),
    "relocated": ("是否易地扶贫搬迁户", ""),
    "housing_safe": ("住房是否安全", ""),
    "drinking_water_safe": ("饮水是否安全", ""),
    "safety_net": ("兜底保障", ""),
    "income.wage": ("工资性收入", "元, 近 12 个月"),
    "income.business": ("生产经营性收入", "元, 近 12 个月"),
    "income.property": ("财产性收入", "元, 近 12 个月"),
    "income.transfer": ("转移性收入", "元, 近 12 个月"),
    "income.production_costs": ("生产经营性支出", "元, 近 12 个月"),
    "expenses.medical_self_paid": ("合规自付医疗费用", "元, 医保报销和救助后个人负担"),
    "expenses.education_self_paid": ("自付教育费用", "元, 非义务教育阶段"),
    "expenses.disaster_loss": ("灾害损失", "元"),
    "expenses.accident_cost": ("意外事故支出", "元"),
    "assets.town_property": ("是否有城镇商品房", "城镇商品房或商铺 (灾后重建、搬迁、拆迁除外)"),
    "assets.vehicle": ("是否有汽车", "含面包车"),
    "assets.machinery": ("是否有大型机械", "工程机械或大型农机"),
    "assets.business_registered": ("是否有注册企业", "家庭成员为有年报的注册企业法人或股东"),
    "assets.financial_assets": ("是否有大额金融资产", "大额存款、基金、股票、投资型保险"),
    "flags.supporters_able": ("是否赡养人有能力赡养", "法定赡(抚、扶)养人收入较高, 有能力赡养"),
    "flags.illegal_conduct": ("是否有违法违规行为", "赌博、吸毒、违法经营、骗保, 或高消费"),
    "flags.unwilling_to_work": ("是否有劳动能力不愿就业", ""),
    "flags.refused_asset_check": ("是否拒绝财产核查", "拒不配合财产核查或授权"),
    "flags.absent_over_year": ("是否全家外出一年以上", ""),
    "events": ("突发事件", "类型:日期[:损失元], 多个用 ; 分隔, 如 自然灾害:2024-05-01:3000"),
}

# Chinese labels of coded values, by column; the first label of a code is the one shown,
# the others are accepted too. Every code of the model has a label (tested).
VALUE_LABELS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "member.relation": {
        "head": ("户主",),
        "spouse": ("配偶",),
        "child": ("子女", "子", "女"),
        "parent": ("父母", "父亲", "母亲"),
        "grandchild": ("孙子女", "孙子", "孙女", "外孙子", "外孙女"),
        "sibling": ("兄弟姐妹",),
        "other": ("其他",),
    },
    "member.hukou": {"rural": ("农村",), "urban": ("城镇",), "collective": ("集体户",)},
    "member.labor_capacity": {
        "full": ("普通劳动力", "技能劳动力"),
        "weak": ("弱劳动力",),
        "semi": ("半劳动力",),
        "none": ("无劳动力", "丧失劳动力"),
    },
    "member.employment": {
        "none": ("无业", "未就业"),
        "farming": ("务农",),
        "local_job": ("本地务工",),
        "migrant_stable": ("外出务工(稳定)", "稳定外出务工"),
        "migrant_unstable": ("外出务工(不稳定)", "不稳定外出务工"),
        "public_post": ("公益岗位",),
        "self_employed": ("自主经营", "个体经营"),
        "public_employee": ("公职人员", "机关事业单位"),
    },
    "member.illness": {"none": ("健康",), "chronic": ("慢性病",), "serious": ("大病", "重病")},
    "member.school_stage": {
        "none": ("非在校",),
        "preschool": ("学前教育",),
        "primary": ("小学",),
        "junior": ("初中",),
        "senior": ("高中",),
        "vocational": ("职业教育", "中职", "高职"),
        "college": ("大专及以上", "大学", "本科"),
    },
    "safety_net": {
        "none": ("无",),
        "dibao": ("低保",),
        "dibao_full": ("全额低保", "最高档低保"),
        "tekun": ("特困供养", "特困"),
    },
    "events": {
        "disaster": ("自然灾害",),
        "accident": ("意外事故",),
        "industry_failure": ("产业项目失败",),
        "serious_illness": ("重大疾病",),
        "job_loss": ("失业", "务工就业不稳"),
    },
}

BOOL_LABELS: Final[Mapping[bool, tuple[str, ...]]] = {
    True: ("是", "true", "yes", "y", "1", "√"),
    False: ("否", "false", "no", "n", "0", "×"),
}
"""What a yes/no cell may say (case-insensitive); the first is the one shown."""


class Column(NamedTuple):
    """One column of a household table."""

    code: str  # "member.relation"
    zh: str  # "与户主关系"
    path: tuple[str, ...]  # ("members", "relation"): where the value goes in the record
    kind: ColumnKind
    required: bool
    values: tuple[str, ...]  # allowed codes (enum columns, and the kinds of `events`)
    note: str

    @property
    def member(self) -> bool:
        """A member column (one value per member row) rather than a household column."""
        return self.path[0] == "members"

    def labels(self) -> dict[str, tuple[str, ...]]:
        """Chinese labels of the allowed codes (empty for columns without codes)."""
        return VALUE_LABELS.get(self.code, {})


def _kind(annotation: object) -> tuple[ColumnKind, tuple[str, ...]]:
    """What cells of a field with this type hold, and its allowed values when it is coded."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin is Literal:
        return "enum", tuple(str(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not msgspec.UnsetType]
        return _kind(inner)
    simple: dict[object, ColumnKind] = {
        bool: "bool",
        int: "int",
        float: "number",
        str: "text",
        date: "date",
    }
    if annotation in simple:
        return simple[annotation], ()
    raise TypeError(f"household_columns: no cell kind for {annotation!r}")  # model changed


def _fields() -> dict[str, tuple[tuple[str, ...], object, bool]]:
    """Every table column the model has: code -> (record path, type, required)."""
    out: dict[str, tuple[tuple[str, ...], object, bool]] = {}
    info = msgspec.inspect.type_info(Household)
    assert isinstance(info, msgspec.inspect.StructType)
    hints = typing.get_type_hints(Household, include_extras=True)
    nested: dict[str, type[msgspec.Struct]] = {"region": Region, "members": Member}
    for field in info.fields:
        name = field.name
        if name == "events":
            out["events"] = (("events",), list[Event], False)
            continue
        sub = nested.get(name)
        if sub is None and isinstance(field.type, msgspec.inspect.StructType):
            sub = field.type.cls
        if sub is None:
            out[name] = ((name,), hints[name], field.required)
            continue
        sub_info = msgspec.inspect.type_info(sub)
        assert isinstance(sub_info, msgspec.inspect.StructType)
        sub_hints = typing.get_type_hints(sub, include_extras=True)
        for inner in sub_info.fields:
            code = {"region": inner.name, "members": f"member.{inner.name}"}.get(
                name, f"{name}.{inner.name}"
            )
            out[code] = ((name, inner.name), sub_hints[inner.name], inner.required)
    return out


def _columns() -> tuple[Column, ...]:
    fields = _fields()
    if set(fields) != set(_NAMES):
        raise RuntimeError(  # the model gained or lost a field: name its column here
            f"household_columns: model fields {sorted(set(fields) ^ set(_NAMES))} not mapped"
        )
    columns = []
    for code, (zh, note) in _NAMES.items():
        path, annotation, required = fields[code]
        if code == "events":
            kind: ColumnKind = "events"
            values = _kind(typing.get_type_hints(Event, include_extras=True)["kind"])[1]
        else:
            kind, values = _kind(annotation)
        columns.append(Column(code, zh, path, kind, required, values, note))
    return tuple(columns)


COLUMNS: Final = _columns()
_BY_NAME: Final = {name: c for c in COLUMNS for name in (c.code, c.zh)}
_BY_PATH: Final = {".".join(c.path): c for c in COLUMNS}
_INDEX: Final = re.compile(r"\[\d+\]")


def column_named(name: str) -> Column | None:
    """The column a header cell names (its code or Chinese name, surrounding blanks ignored)."""
    return _BY_NAME.get(name.strip())


def column_of_path(path: str) -> Column | None:
    """The column of a record field path: `members[2].relation` -> `member.relation`."""
    bare = _INDEX.sub("", path)
    return _BY_PATH.get(bare) or (_BY_PATH["events"] if bare.startswith("events") else None)


def allowed_text(column: Column) -> str:
    """`head (户主), spouse (配偶), ...`: the allowed codes in model order, with labels."""
    labels = column.labels()
    return ", ".join(
        f"{code} ({labels[code][0]})" if code in labels else code for code in column.values
    )


def enum_error(column: Column, value: object) -> str:
    """`'boss' is not one of head (户主), spouse (配偶), ...` for a value outside the codes."""
    return f"{value!r} is not one of {allowed_text(column)}"
