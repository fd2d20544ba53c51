"""Human output: tables in the cadre's words and China time on a terminal, JSON lines otherwise."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import date, datetime
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
    common_pb2,
    intake_pb2,
    intake_pb2_grpc,
    notify_pb2,
)
from fangpin_cli import output
from fangpin_cli.case import PROCEDURES
from fangpin_cli.main import app
from fangpin_cli.names import head_name, head_names
from fangpin_cli.ops import import_summary
from fangpin_cli.output import Labels, local_time
from fangpin_contracts.subjects import SERVICES
from fangpin_kit.clock import in_china
from fangpin_kit.testing_grpc import binding, serving_in_thread

VILLAGE = "652827101001"
CLUE_DAY = date(2026, 6, 1)
OPENED = in_china(CLUE_DAY, 9, 30)  # 01:30 UTC
SIGNED = in_china(date(2026, 6, 3), 16, 5)
LATE_EVENING = in_china(date(2026, 12, 31), 23, 59)  # 15:59 UTC, still 2026-12-31 in China


def render(renderable: RenderableType, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None)
    output.show(renderable, console)
    return console.export_text()


def as_dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def iso(instant: datetime) -> str:
    return instant.isoformat()


def a_case(**fields: Any) -> approval_pb2.Case:
    base: dict[str, Any] = {
        "case_id": "C-0001",
        "kind": "identification",
        "household_id": "H00001",
        "region": common_pb2.Region(county="652827", town="652827101", village=VILLAGE),
        "step": "verification",
        "status": "open",
        "category": "marginal",
        "risk_types": ["illness", "education"],
        "due": {"verification": "2026-06-08", "approval": "2026-06-16"},
        "version": 2,
        "overdue": True,
        "opened_at": iso(OPENED),
        "clue_on": CLUE_DAY.isoformat(),
    }
    return approval_pb2.Case(**(base | fields))


def signed_timeline() -> list[approval_pb2.TimelineEntry]:
    cadre = approval_pb2.Actor(id="V-01", name="李支书", level="village", region=VILLAGE)
    return [
        approval_pb2.TimelineEntry(
            seq=1,
            at=iso(OPENED),
            action="record_screening",
            step="application",
            to_step="application",
            details_json=json.dumps({"category": "marginal", "risk_types": ["illness"]}),
        ),
        approval_pb2.TimelineEntry(
            seq=2,
            at=iso(SIGNED),
            action="sign",
            step="application",
            to_step="verification",
            actor=cadre,
            comment="代申请",
        ),
    ]


# ------------------------------------------------------------------------------ time


def test_instants_are_shown_in_china_local_time() -> None:
    assert local_time(iso(OPENED)) == "2026-06-01 09:30"
    assert local_time("2026-12-31T15:59:00Z") == local_time(iso(LATE_EVENING))
    assert local_time(iso(LATE_EVENING)) == "2026-12-31 23:59"
    assert local_time("2026-12-31T16:30:00+00:00") == "2027-01-01 00:30"  # already tomorrow


def test_dates_blanks_and_naive_instants() -> None:
    assert local_time("2026-06-08") == "2026-06-08"
    assert local_time("") == "" and local_time(None) == ""
    assert local_time("2026-06-01T01:30:00") == "2026-06-01 09:30"  # the services store UTC


# ----------------------------------------------------------------------------- cases


def test_case_list_shows_names_labels_and_the_village() -> None:
    text = render(output.case_table([as_dict(a_case())], Labels(names={"H00001": "王大山"})))
    for shown in ("C-0001", "王大山", VILLAGE, "识别认定", "入户核实", "办理中", "边缘易致贫户"):
        assert shown in text
    assert "因病、因学" in text
    assert "农户" in text and "当前环节" in text  # column names in Chinese
    assert "共 1 条" in text


def test_case_list_in_english_shows_the_codes() -> None:
    text = render(output.case_table([as_dict(a_case())], Labels(lang="en")))
    assert "verification" in text and "marginal" in text and "illness, education" in text
    assert "入户核实" not in text
    assert "1 row(s)" in text


def test_case_view_shows_progress_due_dates_and_the_timeline_in_local_time() -> None:
    case = as_dict(a_case(timeline=signed_timeline()))
    text = render(output.case_view(case, Labels(), procedures=PROCEDURES))
    assert "✓农户申请 → ▶入户核实 → 村级民主评议和公示 → 乡镇审核 → 县级审批" in text
    assert "入户核实 2026-06-08；县级审批 2026-06-16" in text
    assert "2026-06-03 16:05" in text  # the signature, China time
    assert "村（社区）李支书" in text and "代申请" in text
    assert "农户申请 → 入户核实" in text  # the signature moved the case
    assert "边缘易致贫户 因病" in text  # the screening entry, named


def test_a_refused_case_marks_the_step_it_stopped_at() -> None:
    case = as_dict(a_case(status="rejected", step="town_review", kind="elimination"))
    text = render(output.case_view(case, Labels(), procedures=PROCEDURES))
    assert "✓村级提名 → ✓入户核实 → ✓村级民主评议和公示 → ✗乡镇审核 → 县级审批" in text
    assert "不予通过" in text


def test_register_views_name_the_status_and_its_history() -> None:
    entry = approval_pb2.RegisterEntry(
        household_id="H00001",
        region=common_pb2.Region(county="652827", village=VILLAGE),
        status="eliminated",
        category="sudden_hardship",
        risk_types=["disaster"],
        identified_on="2026-06-16",
        elimination_mode="assisted",
        history=[
            approval_pb2.RegisterChange(on="2026-06-16", to_status="monitored", case_id="C-1"),
            approval_pb2.RegisterChange(
                on="2026-12-20", from_status="monitored", to_status="eliminated", case_id="C-2"
            ),
        ],
    )
    listed = render(output.register_table([as_dict(entry)], Labels()))
    assert "风险已消除" in listed and "突发严重困难户" in listed and "因自然灾害" in listed
    shown = render(output.register_view(as_dict(entry), Labels()))
    assert "监测帮扶中 → 风险已消除" in shown and "帮扶消除" in shown


# ------------------------------------------------------------------------ assistance


def a_measure(**fields: Any) -> assistance_pb2.Measure:
    base: dict[str, Any] = {
        "measure_id": "M-1",
        "household_id": "H00001",
        "type": "finance",
        "sub_measure": "microcredit",
        "dept": "finance",
        "status": "dispatched",
        "name_zh": "脱贫人口小额信贷",
        "reply_due": "2026-06-20",
        "overdue": True,
    }
    return assistance_pb2.Measure(**(base | fields))


def test_measures_are_named_by_the_catalog_and_departments_by_the_vocabulary() -> None:
    without_name = a_measure(measure_id="M-2", name_zh="", type="health", dept="health")
    without_name.sub_measure = "family_doctor"
    rows = [as_dict(a_measure()), as_dict(without_name)]
    text = render(output.measures_table(rows, Labels()))
    assert "脱贫人口小额信贷" in text and "金融帮扶" in text and "财政局（金融办）" in text
    assert "家庭医生签约服务" in text and "健康帮扶" in text and "卫健委" in text
    assert "已派发" in text


def test_plan_view_names_rule_violations_with_their_subject() -> None:
    plan = assistance_pb2.Plan(
        plan_id="P-1",
        household_id="H00001",
        status="proposed",
        due="2026-06-26",
        violations=["risk_not_covered:illness", "contact_cadre_required"],
        measures=[a_measure()],
        contact_cadres=["cadre-7"],
    )
    text = render(output.plan_view(as_dict(plan), Labels(names={"H00001": "王大山"})))
    assert "风险未对应帮扶措施：因病；须明确帮扶联系人" in text
    assert "王大山（H00001）" in text and "待确认" in text and "脱贫人口小额信贷" in text


def test_tasks_show_kind_period_and_assignees() -> None:
    task = assistance_pb2.Task(
        task_id="T-1",
        kind="income_collection",
        household_id="H00001",
        due="2026-07-10",
        status="open",
        assignees=["cadre-7"],
        period_start="2026-04-01",
        period_end="2026-06-30",
    )
    text = render(output.tasks_table([as_dict(task)], Labels()))
    assert "收入采集" in text and "2026-04-01 ~ 2026-06-30" in text and "待办" in text


# ---------------------------------------------------------------------------- notify


def test_notices_deadlines_and_subscriptions_are_named() -> None:
    notice = notify_pb2.Notice(
        notice_id="N-1",
        kind="signature_awaited",
        recipient="V-01",
        channel="sms",
        state="delivered",
        phase="escalation",
        household_id="H00001",
        created_at=iso(SIGNED),
        history=[notify_pb2.DeliveryAttempt(number=1, at=iso(SIGNED), ok=True)],
    )
    listed = render(output.notices_table([as_dict(notice)], Labels()))
    assert "待您签字审核" in listed and "短信" in listed and "已送达" in listed
    assert "逾期督办" in listed and "2026-06-03 16:05" in listed
    assert "已送达" in render(output.notice_view(as_dict(notice), Labels()))
    deadline = notify_pb2.NotifyDeadline(
        key="case:C-1:verification", kind="clue_verification_due", due="2026-06-08", status="open"
    )
    assert "风险线索待入户核实" in render(output.deadlines_table([as_dict(deadline)], Labels()))
    subscription = notify_pb2.NotifySubscription(
        recipient_id="V-01", role="village_cadre", channel="log", active=True
    )
    assert "村干部" in render(output.subscriptions_table([as_dict(subscription)], Labels()))


# ------------------------------------------------------------------ screening and ops


def test_decisions_show_scope_labels_and_income() -> None:
    decision = {
        "household_id": "H00001",
        "as_of": "2026-06-01",
        "decided_at": iso(OPENED),
        "reason": "clue",
        "in_scope": True,
        "eligible": False,
        "category": "marginal",
        "risk_types": ["illness"],
        "excluded_by": ["vehicle_machinery"],
        "referrals": [],
        "per_capita": 5200.0,
        "threshold": 7500.0,
        "trace": [{"rule": "income_below_threshold", "hit": True, "values": {"x": 1}}],
    }
    text = render(output.decisions_table([decision], Labels()))
    assert "风险线索" in text and "拥有小汽车、工程机械或大型农机" in text
    assert "5,200.00" in text and "7,500.00" in text and "2026-06-01 09:30" in text
    assert "income_below_threshold" in text  # the trace below


def test_ops_stats_is_a_table_per_service() -> None:
    stats = {
        "intake": {"households": 60, "clues_open": 3},
        "approval": {"cases": 4, "cases_open": 3, "cases_approved": 1},
        "notify": {"notices_delivered": 2},
        "assistance": {},
    }
    text = render(output.stats_view(stats, Labels()))
    named = ("线索登记（intake）", "户数", "待核实线索", "认定案件（办理中）", "认定案件（已批准）")
    for shown in named:
        assert shown in text
    assert "通知（已送达）" in text
    assert "（无应答）" in text  # assistance did not answer
    english = render(output.stats_view(stats, Labels(lang="en")))
    assert "clues awaiting verification" in english and "cases (open)" in english


def test_the_demo_line_is_a_sentence() -> None:
    assert import_summary({"created": 60}) == (
        "households created 60, updated 0, unchanged 0, rejected 0"
    )
    assert import_summary({"updated": 2, "odd": 1}).endswith("rejected 0, odd 1")


def test_a_household_is_known_by_its_head() -> None:
    head = {"name": "王大山", "relation": "head"}
    assert head_name({"members": [{"name": "王小", "relation": "child"}, head]}) == "王大山"
    assert head_name({"members": [{"name": "李四", "relation": "spouse"}]}) == "李四"
    assert head_name({}) == ""


# ---------------------------------------------------- the commands, against fake servers


class Approval(approval_pb2_grpc.ApprovalServiceServicer):
    def ListCases(self, request: Any, context: Any) -> approval_pb2.ListCasesResponse:
        return approval_pb2.ListCasesResponse(
            cases=[a_case(), a_case(case_id="C-0002", household_id="H00002", overdue=False)]
        )

    def GetCase(self, request: Any, context: Any) -> approval_pb2.Case:
        return a_case(case_id=request.case_id, timeline=signed_timeline())

    def GetStats(self, request: Any, context: Any) -> common_pb2.StatsResponse:
        return common_pb2.StatsResponse(service="approval", counts={"cases": 4, "cases_open": 3})


class Intake(intake_pb2_grpc.IntakeServiceServicer):
    def GetHousehold(self, request: Any, context: Any) -> intake_pb2.HouseholdRecord:
        if request.household_id != "H00001":
            context.abort(grpc.StatusCode.NOT_FOUND, request.household_id)
        record = {"household_id": "H00001", "members": [{"name": "王大山", "relation": "head"}]}
        return intake_pb2.HouseholdRecord(json=json.dumps(record, ensure_ascii=False))


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    """Approval and intake answering from this process; the other services are not there."""
    fakes = [
        binding(Approval()),
        binding(Intake()),
    ]
    with serving_in_thread(fakes) as target:
        yield {f"FANGPIN_{service.upper()}_ADDR": target for service in SERVICES}


def fangpin(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env | {"COLUMNS": "200"})


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of `text`, each checked to be written as before (one compact line)."""
    lines = text.splitlines()
    for line in lines:
        assert line == json.dumps(json.loads(line), ensure_ascii=False)
    return [json.loads(line) for line in lines]


def test_json_lines_are_unchanged_for_scripts_and_with_json(servers: dict[str, str]) -> None:
    expected = [as_dict(case) for case in Approval().ListCases(None, None).cases]
    piped = fangpin(servers, "case", "list")  # CliRunner's stdout is not a terminal
    forced = fangpin(servers, "case", "list", "--json", "--lang", "en")
    assert piped.exit_code == 0 and forced.exit_code == 0, piped.output + forced.output
    assert json_lines(piped.stdout) == expected
    assert json_lines(forced.stdout) == expected
    shown = fangpin(servers, "case", "show", "C-0009", "--json")
    case = Approval().GetCase(approval_pb2.GetCaseRequest(case_id="C-0009"), None)
    assert json_lines(shown.stdout) == [as_dict(case)]


def test_ops_stats_json_is_the_one_object_it_was(servers: dict[str, str]) -> None:
    result = fangpin(servers, "ops", "stats")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["approval"] == {"cases": 4, "cases_open": 3}
    assert set(stats) == set(SERVICES) and stats["intake"] == {}  # no GetStats there


def test_on_a_terminal_the_case_list_is_a_table_with_the_heads_names(
    servers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "table_mode", lambda as_json: not as_json)
    result = fangpin(servers, "case", "list")
    assert result.exit_code == 0, result.output
    assert "王大山" in result.stdout and "H00002" in result.stdout  # a name intake lacks: blank
    assert "入户核实" in result.stdout and "{" not in result.stdout
    stats = fangpin(servers, "ops", "stats", "--lang", "en")
    assert "cases (open)" in stats.stdout and "(no answer)" in stats.stdout
    assert fangpin(servers, "case", "list", "--json").stdout.startswith("{")


def test_a_language_we_do_not_have_is_refused_naming_the_option(servers: dict[str, str]) -> None:
    result = fangpin(servers, "case", "list", "--lang", "fr")
    assert result.exit_code == 2
    assert "--lang" in result.output and "'fr'" in result.output


def test_a_case_view_leaves_out_what_the_case_does_not_have() -> None:
    case = as_dict(a_case(overdue=False, green_channel_state="none"))
    text = render(output.case_view(case, Labels(), procedures=PROCEDURES))
    assert "逾期" not in text and "绿色通道" not in text and "排除情形" not in text
    assert "当前环节" in text


def test_text_from_people_is_shown_as_written_never_as_markup() -> None:
    entry = signed_timeline()[1]
    entry.comment = "见附件 [/ROLE] [bold]已核实[/bold]"
    case = as_dict(a_case(timeline=[entry], special_reason="[red]因灾[/red]"))
    text = render(output.case_view(case, Labels(), procedures=PROCEDURES))
    assert "见附件 [/ROLE] [bold]已核实[/bold]" in text
    assert "[red]因灾[/red]" in text


def test_names_are_best_effort_when_intake_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("FANGPIN_INTAKE_ADDR", f"127.0.0.1:{port}")
    assert head_names(["H00001", "H00002"], timeout=1.0) == {}


def test_names_come_from_intake_and_unknown_households_stay_blank(
    servers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANGPIN_INTAKE_ADDR", servers["FANGPIN_INTAKE_ADDR"])
    assert head_names(["H00001", "H00002", ""]) == {"H00001": "王大山"}
