"""Human output of the remaining commands: views in the cadre's words on a terminal, and the
JSON lines scripts read left exactly as they were."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from rich.console import Console, RenderableType
from typer.testing import CliRunner, Result

from fangpin.v1 import (
    approval_pb2,
    approval_pb2_grpc,
    assistance_pb2,
    assistance_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    notify_pb2,
    notify_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)
from fangpin_cli import output
from fangpin_cli.main import app
from fangpin_cli.output import Labels
from fangpin_contracts.subjects import SERVICES
from fangpin_kit.testing_grpc import binding, serving_in_thread

ID_NUMBER = "652827198001113756"
PHONE = "13812345678"


def render(renderable: RenderableType) -> str:
    console = Console(record=True, width=120, color_system=None)
    output.show(renderable, console)
    return console.export_text()


def as_dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def a_record() -> dict[str, Any]:
    return {
        "household_id": "H00001",
        "region": {"county": "652827", "village": "652827101001"},
        "members": [
            {
                "id_number": ID_NUMBER,
                "name": "王大山",
                "relation": "head",
                "birth_date": "1980-01-11",
                "labor_capacity": "weak",
                "illness": "chronic",
            },
            {
                "id_number": "652827201001011234",
                "name": "王小",
                "relation": "child",
                "birth_date": "2010-01-01",
                "school_stage": "junior",
            },
        ],
        "income": {"wage": 12000, "transfer": 1500.5, "production_costs": 800},
        "expenses": {"medical_self_paid": 3000},
        "housing_safe": False,
        "safety_net": "dibao",
    }


def eligible_check(**fields: Any) -> dict[str, Any]:
    values = {
        "threshold": 7500.0,
        "stable_months": 6,
        "stable_months_required": 6,
        "failed_guarantees": [],
        "remaining_risks": ["illness"],
        "new_risks": [],
        "measures_implemented": 2,
        "in_scope": False,
    }
    line = {
        "household_id": "H00001",
        "as_of": "2026-07-01",
        "ruleset": "cn-65@2026-07-01",
        "status": "eligible",
        "mode": "assisted",
        "monitoring_status": "monitored",
        "identified_risks": ["illness"],
        "income": [{"quarter": "2026Q2", "per_capita": 8200.0}],
        "measures_implemented": 2,
        "values": values,
    }
    return line | fields


# --------------------------------------------------------------------------- the views


def test_a_household_file_masks_id_numbers_and_shows_yuan() -> None:
    text = render(output.household_view(a_record(), Labels()))
    assert ID_NUMBER not in text and "652827********3756" in text
    assert "王大山" in text and "户主" in text and "子女" in text and "初中" in text
    assert "弱劳动力" in text and "慢性病" in text and "低保" in text
    assert "工资性收入" in text and "12,000.00" in text and "1,500.50" in text
    assert "合规自付医疗费用" in text and "3,000.00" in text
    assert "身份证号" in text and "家庭成员" in text


def test_a_household_file_in_english_keeps_codes() -> None:
    text = render(output.household_view(a_record(), Labels(lang="en")))
    assert "652827********3756" in text and ID_NUMBER not in text
    assert "income.wage" in text and "head" in text


def test_elimination_shows_each_condition_met_or_not_with_its_figures() -> None:
    text = render(output.elimination_view([eligible_check()], Labels(names={"H00001": "王大山"})))
    assert "王大山（H00001）" in text and "符合风险消除条件" in text and "帮扶消除" in text
    assert "收入持续稳定高于监测范围" in text and "连续 6 个月高于监测范围 7,500.00 元" in text
    assert "不满足" not in text and text.count("满足") == 5 + 1  # 5 rows and the column name
    assert "2026Q2 8,200.00" in text


def test_elimination_not_yet_names_the_failing_conditions() -> None:
    values = eligible_check()["values"] | {
        "stable_months": 3,
        "in_scope": True,
        "failed_guarantees": ["housing"],
        "new_risks": ["disaster"],
    }
    line = eligible_check(
        status="not_yet",
        mode="natural",
        failing=["income_not_stable", "still_in_scope", "guarantees_not_consolidated", "new_risks"],
        values=values,
    )
    text = render(output.elimination_view([line], Labels()))
    assert "暂不符合风险消除条件" in text
    assert text.count("不满足") == 4
    assert "仍在监测范围内" in text and "因自然灾害" in text
    english = render(output.elimination_view([line], Labels(lang="en")))
    assert "not met" in english and "3 month(s) above 7,500.00 (needs 6)" in english


def test_elimination_of_an_eliminated_household_says_whether_the_risk_returned() -> None:
    line = {
        "household_id": "H00002",
        "status": "eliminated",
        "eliminated_on": "2026-01-10",
        "rollback": True,
        "rollback_reasons": ["income_below_threshold"],
        "values": {"quarters_below": ["2026Q2"]},
    }
    error = {"household_id": "H00003", "error": "NOT_FOUND: H00003"}
    text = render(output.elimination_view([line, error], Labels()))
    assert "风险已消除" in text and "是：收入低于监测范围" in text and "2026Q2" in text
    assert "NOT_FOUND: H00003" in text and "条件" not in text


def test_scale_risk_alerts_are_named_with_their_figures() -> None:
    alerts = [
        {"alert_id": "A-1", "village": "652827101001", "indicator": "unresolved_share",
         "value": 0.125, "limit": 0.1, "opened_on": "2026-06-01", "details": {}},
        {"alert_id": "A-2", "village": "652827101002", "indicator": "low_mean_income",
         "value": 6100.0, "limit": 7500.0, "opened_on": "2026-05-01",
         "cleared_on": "2026-06-01"},
    ]  # fmt: skip
    text = render(output.scale_risk_table(alerts, Labels()))
    assert "未消除风险监测对象占比较高" in text and "12.5%" in text and "10.0%" in text
    assert "人均纯收入较低" in text and "6,100.00" in text and "持续中" in text
    assert "共 2 条" in text and "预警指标" in text


def test_dead_letters_show_service_subject_reason_and_china_time() -> None:
    letter = {
        "id": "dlq:approval:c:E-1",
        "time": "2026-06-01T01:30:00Z",
        "data": {
            "service": "approval",
            "consumer": "approval-screening",
            "original_subject": "fp.652827.screening.decided",
            "reason": f"bad household {ID_NUMBER} tel {PHONE}",
            "deliveries": 5,
            "failed_at": "2026-06-01T01:30:00Z",
        },
    }
    text = render(output.dlq_table([letter], Labels()))
    assert "fp.652827.screening.decided" in text and "2026-06-01 09:30" in text
    assert ID_NUMBER not in text and PHONE not in text
    assert "652827********3756" in text and "138****5678" in text
    assert "投递次数" in text and "5" in text and "approval" in text


def test_followup_and_cadre_replies_are_named() -> None:
    visit = {"household_id": "H00001", "visited_on": "2026-06-02", "cadre_id": "cadre-7",
             "mode": "phone", "closed_tasks": ["T-1", "T-2"]}  # fmt: skip
    text = render(output.visit_view(visit, Labels()))
    assert "电话" in text and "T-1、T-2" in text and "走访日期" in text
    income = {"household_id": "H00001", "period_start": "2026-04-01",
              "period_end": "2026-06-30", "net": 24000.0, "per_capita": 8000.0,
              "members": 3, "revision": 1}  # fmt: skip
    text = render(output.income_view(income, Labels()))
    assert "2026-04-01 ~ 2026-06-30" in text and "24,000.00" in text and "8,000.00" in text
    reply = {"household_id": "H00001", "cadres": ["cadre-7"], "violations": []}
    text = render(output.cadres_view(reply, Labels()))
    assert "帮扶联系人" in text and "cadre-7" in text and "无" in text


def test_a_subscription_shows_an_sms_number_masked() -> None:
    sub = {"subscription_id": "S-1", "recipient_id": "V-01", "role": "village_cadre",
           "region": "652827101001", "channel": "sms", "address": PHONE,
           "active": True}  # fmt: skip
    text = render(output.subscription_view(sub, Labels()))
    assert PHONE not in text and "138****5678" in text
    assert "村干部" in text and "短信" in text and "按角色默认" in text
    assert "已取消 2 个订阅" in render(output.unsubscribe_view({"removed": 2}, Labels()))


# ------------------------------------------------------- the commands, against fake servers

VISIT = assistance_pb2.Visit(
    household_id="H00001", visited_on="2026-06-02", cadre_id="c7", mode="phone",
    closed_tasks=["T-1"],
)  # fmt: skip
INCOME = assistance_pb2.Income(
    household_id="H00001", period_start="2026-04-01", period_end="2026-06-30", net=24000.0,
    per_capita=8000.0, members=3, revision=1,
)  # fmt: skip
CADRES = assistance_pb2.AssignContactCadreResponse(household_id="H00001", cadres=["c7"])
SUBSCRIPTION = notify_pb2.NotifySubscription(
    subscription_id="S-1", recipient_id="V-01", role="village_cadre", channel="sms",
    address="138****5678", active=True,
)  # fmt: skip
ALERT = screening_pb2.ScaleRiskAlert(
    alert_id="A-1", village="652827101001", indicator="unresolved_share", value=0.125,
    limit=0.1, details_json='{"share": 0.125}', opened_on="2026-06-01",
)  # fmt: skip
NOTICE = approval_pb2.NoticeText(
    village="652827101001", published_on="2026-06-05", case_ids=["C-1"], text="公示\n王**"
)


class Assistance(assistance_pb2_grpc.AssistanceServiceServicer):
    def RecordVisit(self, request: Any, context: Any) -> Any:
        return VISIT

    def RecordIncome(self, request: Any, context: Any) -> Any:
        return INCOME

    def AssignContactCadre(self, request: Any, context: Any) -> Any:
        return CADRES


class Notify(notify_pb2_grpc.NotifyServiceServicer):
    def Subscribe(self, request: Any, context: Any) -> Any:
        return SUBSCRIPTION

    def Unsubscribe(self, request: Any, context: Any) -> Any:
        return notify_pb2.UnsubscribeResponse(removed=2)


class Screening(screening_pb2_grpc.ScreeningServiceServicer):
    def ListScaleRiskAlerts(self, request: Any, context: Any) -> Any:
        return screening_pb2.ListScaleRiskAlertsResponse(alerts=[ALERT])

    def CheckElimination(self, request: Any, context: Any) -> Any:
        if request.household_id != "H00001":
            context.abort(grpc.StatusCode.NOT_FOUND, request.household_id)
        line = eligible_check()
        values = line.pop("values")
        income = line.pop("income")
        return screening_pb2.EliminationCheck(
            **line,
            values_json=json.dumps(values),
            income=[screening_pb2.QuarterIncome(**q) for q in income],
        )


class Intake(intake_pb2_grpc.IntakeServiceServicer):
    def GetHousehold(self, request: Any, context: Any) -> Any:
        return intake_pb2.HouseholdRecord(json=json.dumps(a_record(), ensure_ascii=False))


class Approval(approval_pb2_grpc.ApprovalServiceServicer):
    def ExportNotice(self, request: Any, context: Any) -> Any:
        return NOTICE


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    fakes = [
        binding(Assistance()),
        binding(Notify()),
        binding(Screening()),
        binding(Intake()),
        binding(Approval()),
    ]
    with serving_in_thread(fakes) as target:
        yield {f"FANGPIN_{service.upper()}_ADDR": target for service in SERVICES}


def fangpin(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env | {"COLUMNS": "120"})


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line compact JSON as `emit_json` writes it."""
    lines = text.splitlines()
    for line in lines:
        assert line == json.dumps(json.loads(line), ensure_ascii=False)
    return [json.loads(line) for line in lines]


def alert_line() -> dict[str, Any]:
    out = MessageToDict(
        ALERT, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    out["details"] = json.loads(out.pop("details_json"))
    return out


COMMANDS: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = [
    (("followup", "visit", "H00001", "--cadre", "c7"), [as_dict(VISIT)]),
    (
        ("followup", "income", "H00001", "--period", "2026-04-01", "--members", "3", "--by", "c7"),
        [as_dict(INCOME)],
    ),
    (("plan", "assign-cadre", "c7", "--household", "H00001"), [as_dict(CADRES)]),
    (("notify", "subscribe", "V-01", "--role", "village_cadre", "--region", "652827101001"),
     [as_dict(SUBSCRIPTION)]),
    (("notify", "unsubscribe", "S-1"), [{"removed": 2}]),
    (("screening", "scale-risk"), [alert_line()]),
    (("households", "show", "H00001"), [a_record()]),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_json_is_unchanged_piped_and_with_json(
    servers: dict[str, str], args: tuple[str, ...], expected: list[dict[str, Any]]
) -> None:
    piped = fangpin(servers, *args)
    forced = fangpin(servers, *args, "--json", "--lang", "en")
    assert piped.exit_code == 0 and forced.exit_code == 0, piped.output + forced.output
    assert json_lines(piped.stdout) == expected
    assert json_lines(forced.stdout) == expected


def test_elimination_check_json_and_exit_status_are_unchanged(servers: dict[str, str]) -> None:
    result = fangpin(servers, "elimination", "check", "H00001", "H00009")
    assert result.exit_code == 1
    checked, failed = json_lines(result.stdout)
    assert checked["status"] == "eligible" and checked["values"]["stable_months"] == 6
    assert "values_json" not in checked and failed["household_id"] == "H00009"
    assert failed["error"].startswith("NOT_FOUND")


def test_on_a_terminal_the_commands_show_views(
    servers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "table_mode", lambda as_json: not as_json)
    shown = fangpin(servers, "households", "show", "H00001")
    assert shown.exit_code == 0, shown.output
    assert "652827********3756" in shown.stdout and ID_NUMBER not in shown.stdout
    assert "{" not in shown.stdout
    checked = fangpin(servers, "elimination", "check", "H00001", "H00009")
    assert checked.exit_code == 1 and "满足" in checked.stdout and "NOT_FOUND" in checked.stdout
    alerts = fangpin(servers, "screening", "scale-risk", "--lang", "en")
    assert "share of unresolved monitored households" in alerts.stdout
    visit = fangpin(servers, "followup", "visit", "H00001", "--cadre", "c7")
    assert "电话" in visit.stdout and "{" not in visit.stdout
    assert fangpin(servers, "notify", "subscribe", "V-01", "--role", "village_cadre",
                   "--region", "652827101001", "--json").stdout.startswith("{")  # fmt: skip


def test_notice_text_prints_the_text_and_its_record_with_json(servers: dict[str, str]) -> None:
    text = fangpin(servers, "case", "notice-text", "652827101001")
    assert text.exit_code == 0 and text.stdout == "公示\n王**\n"
    record = fangpin(servers, "case", "notice-text", "652827101001", "--json")
    assert json_lines(record.stdout) == [as_dict(NOTICE)]
