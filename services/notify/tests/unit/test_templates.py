"""Templates: Chinese text per kind, English fallback, role-based visibility and masking."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml

from fangpin_notify.domain.kinds import EventKind, Phase, Role
from fangpin_notify.domain.templates import (
    FieldRule,
    TemplateError,
    Visibility,
    default_catalog,
    load_catalog,
    render,
    render_digest,
)

ID_NUMBER = "652827198001113756"
MOBILE = "13812345678"
BANK = "6222021234567890123"
FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
FULL_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")

EVERYTHING: dict[str, Any] = {
    "household_id": "H0001",
    "household_name": "张三丰",
    "id_number": ID_NUMBER,
    "phone": MOBILE,
    "bank_account": BANK,
    "health_detail": "尿毒症透析",
    "village": "查汗赛尔村",
    "region_name": "协比乃尔布呼镇",
    "case_id": "C-1",
    "procedure": "identification",
    "step": "town_review",
    "next_step": "town_review",
    "category": "marginal",
    "risk_types": ["illness", "disaster"],
    "due_date": date(2024, 6, 7),
    "notice_start": date(2024, 6, 1),
    "notice_end": date(2024, 6, 5),
    "objections": 0,
    "working_days": 5,
    "source": "department_warning",
    "measure_id": "M-9",
    "measure_type": "industry",
    "measure_summary": "发放牛犊2头",
    "dept": "agriculture",
    "attempt": 2,
    "attempts": 3,
    "assignee": "王五",
    "visit_cycle": "每月至少一次",
    "quarter": "2024年第二季度",
    "household_count": 42,
    "indicator": "未消除风险户占比",
    "value": 0.3512,
    "limit": 0.3,
    "alert_summary": f"村民反映户主{ID_NUMBER}电话{MOBILE}",
    "remark": f"身份证{ID_NUMBER}",
    "assignee_phone": MOBILE,
    "days_left": 2,
    "days_overdue": 3,
    "outcome": "approved",
    "reason": f"户主手机{MOBILE}已核实",
    "plan_due": date(2024, 6, 17),
    "plan_id": "P-3",
    "measure_types": ["industry", "health"],
    "violations": ["contact_cadre_required"],
    "task": "plan_due",
}


@pytest.fixture(scope="module")
def catalog():
    return default_catalog()


def test_every_kind_has_a_chinese_and_an_english_template(catalog) -> None:
    assert set(catalog.kinds) == set(EventKind)
    for kind in EventKind:
        assert set(catalog.kinds[kind]) == {"zh-CN", "en"}


def test_clue_verification_for_the_contact_cadre_in_chinese(catalog) -> None:
    context = {
        "household_id": "H0001",
        "household_name": "张三丰",
        "due_date": date(2024, 6, 7),
        "working_days": 5,
        "source": "department_warning",
        "risk_types": ["illness", "disaster"],
        "id_number": ID_NUMBER,
        "phone": MOBILE,
        "health_detail": "尿毒症透析",
    }
    message = render(catalog, "clue_verification_due", context, roles={Role.CONTACT_CADRE})
    assert message.locale == "zh-CN"
    assert message.subject == "【待核实】农户H0001有风险线索待入户核实"
    assert message.body.splitlines() == [
        "请于2024年6月7日前完成入户核实（不少于2名干部到户）。",
        "时限：线索受理后5个工作日内。",
        "线索来源：部门筛查预警",
        "风险类型：因病、因自然灾害",
        "户主：张三丰",
        "身份证号：652827********3756",
        "联系电话：138****5678",
        "健康状况：尿毒症透析",
    ]


def test_measure_dispatched_names_measure_type_and_department_in_chinese(catalog) -> None:
    message = render(
        catalog,
        EventKind.MEASURE_DISPATCHED,
        {
            "measure_id": "M-9",
            "measure_type": "industry",
            "dept": "agriculture",
            "due_date": date(2024, 6, 10),
            "household_id": "H0001",
            "household_name": "张三丰",
        },
        roles={Role.DEPT_DUTY},
    )
    assert message.subject == "【帮扶任务】产业帮扶措施已派发至农业农村局"
    assert message.body.splitlines() == [
        "措施M-9由农业农村局牵头落实，请于2024年6月10日前反馈是否接收。",
        "农户：H0001（张**）",
    ]


def test_village_cadre_sees_masked_phone_but_no_id_number_or_health(catalog) -> None:
    message = render(catalog, "clue_verification_due", EVERYTHING, roles={Role.VILLAGE_CADRE})
    assert "联系电话：138****5678" in message.body
    assert "身份证号" not in message.body
    assert "健康状况" not in message.body


def test_county_bureau_sees_neither_phone_nor_id_and_only_the_masked_name(catalog) -> None:
    message = render(catalog, "case_overdue", EVERYTHING, roles={Role.COUNTY_BUREAU})
    assert "农户：H0001（张**）" in message.body
    assert "张三丰" not in message.body
    assert "138" not in message.body


def test_department_sees_the_masked_id_number_only(catalog) -> None:
    message = render(catalog, "measure_dispatched", EVERYTHING, roles={Role.DEPT_DUTY})
    assert "身份证号：652827********3756" in message.body


def test_a_recipient_with_two_roles_sees_what_the_more_trusted_role_may(catalog) -> None:
    message = render(
        catalog, "visit_due", EVERYTHING, roles={Role.COUNTY_BUREAU, Role.CONTACT_CADRE}
    )
    assert "户主：张三丰" in message.body
    assert "健康状况：尿毒症透析" in message.body


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_no_kind_ever_renders_a_full_id_number_phone_or_bank_account(
    catalog, kind: EventKind, role: Role, locale: str
) -> None:
    for phase in (None, *Phase):
        message = render(catalog, kind, EVERYTHING, roles={role}, locale=locale, phase=phase)
        text = message.subject + "\n" + message.body
        assert not FULL_ID.search(text)
        assert not FULL_MOBILE.search(text)
        assert BANK not in text and BANK[-8:] not in text


def test_free_text_fields_are_masked_too(catalog) -> None:
    message = render(catalog, "scale_risk_alert", EVERYTHING, roles={Role.COUNTY_BUREAU})
    assert "情况说明：村民反映户主652827********3756电话138****5678" in message.body
    assert "当前值：0.35（预警线0.3）" in message.body


def test_english_is_the_fallback_for_a_locale_without_templates(catalog) -> None:
    message = render(catalog, "visit_due", EVERYTHING, roles={Role.CONTACT_CADRE}, locale="ug-CN")
    assert message.locale == "en"
    assert message.subject == "[Visit due] Visit household H0001 on time"
    assert message.body.startswith("Visit by 2024-06-07: income, the three guarantees")


def test_language_without_region_picks_the_matching_locale(catalog) -> None:
    assert catalog.resolve_locale("zh") == "zh-CN"
    assert catalog.resolve_locale("en_US") == "en"


@pytest.mark.parametrize(
    ("phase", "tag"),
    [
        (Phase.BEFORE, "【待签批·还有2天到期】"),
        (Phase.DUE, "【待签批·今日到期】"),
        (Phase.ESCALATION, "【待签批·已逾期3天】"),
    ],
)
def test_reminder_phase_is_shown_in_the_subject_tag(catalog, phase: Phase, tag: str) -> None:
    message = render(
        catalog, "signature_awaited", EVERYTHING, roles={Role.TOWN_REVIEWER}, phase=phase
    )
    assert message.subject == f"{tag}案件C-1“乡镇审核”环节等待您审核签字"


def test_optional_lines_without_data_are_left_out(catalog) -> None:
    message = render(
        catalog,
        "income_collection_due",
        {"quarter": "2024年第二季度", "due_date": date(2024, 7, 10)},
        roles={Role.VILLAGE_CADRE},
    )
    assert (
        message.body
        == "请于2024年7月10日前完成2024年第二季度所有监测对象家庭人均纯收入的采集和录入。"
    )


def test_missing_required_field_is_an_error_naming_it(catalog) -> None:
    with pytest.raises(TemplateError, match=r"case_overdue.*\['due_date'\]"):
        render(catalog, "case_overdue", {"case_id": "C-1", "step": "town_review"}, roles=set())


def test_digest_lists_the_titles_under_one_chinese_subject(catalog) -> None:
    message = render_digest(catalog, date(2024, 6, 5), ["【走访提醒】甲", "【待核实】乙"])
    assert message.subject == "【每日汇总】2024年6月5日您有2条待办事项"
    assert message.body.splitlines()[1:] == ["1. 【走访提醒】甲", "2. 【待核实】乙"]


def _shipped_yaml() -> dict[str, Any]:
    text = resources.files("fangpin_notify").joinpath("templates/messages.yaml").read_text()
    return yaml.safe_load(text)


def test_catalog_rejects_a_title_using_an_optional_field() -> None:
    data = _shipped_yaml()
    data["kinds"]["visit_due"]["zh-CN"]["title"] = "请走访{household_name}"
    with pytest.raises(TemplateError, match=r"visit_due.zh-CN.title.*household_name"):
        load_catalog(yaml.safe_dump(data, allow_unicode=True))


def test_catalog_rejects_a_kind_without_english() -> None:
    data = _shipped_yaml()
    del data["kinds"]["visit_due"]["en"]
    with pytest.raises(TemplateError, match=r"kinds.visit_due.en"):
        load_catalog(yaml.safe_dump(data, allow_unicode=True))


def test_catalog_rejects_unknown_and_missing_kinds() -> None:
    data = _shipped_yaml()
    data["kinds"]["birthday"] = data["kinds"].pop("visit_due")
    with pytest.raises(TemplateError, match=r"unknown kinds \['birthday'\].*visit_due"):
        load_catalog(yaml.safe_dump(data, allow_unicode=True))


def test_catalog_rejects_attribute_access_and_conversions_in_placeholders() -> None:
    data = _shipped_yaml()
    data["kinds"]["visit_due"]["zh-CN"]["lines"].append("{household_id.__class__}{due_date!r}")
    with pytest.raises(TemplateError, match="plain field name"):
        load_catalog(yaml.safe_dump(data, allow_unicode=True))


def test_catalog_rejects_a_sensitive_required_field() -> None:
    data = _shipped_yaml()
    data["kinds"]["visit_due"]["required"].append("phone")
    with pytest.raises(TemplateError, match="sensitive"):
        load_catalog(yaml.safe_dump(data, allow_unicode=True))


def test_a_never_full_field_cannot_be_granted_in_full() -> None:
    with pytest.raises(TemplateError):
        FieldRule(str, {Role.CONTACT_CADRE: Visibility.FULL}, never_full=True)
