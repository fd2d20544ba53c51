"""`fangpin plan|measures|followup ...`: household plans, measures and follow-up (assistance)."""

from __future__ import annotations

from typing import Any

import typer
from google.protobuf import json_format
from google.protobuf.message import Message

from fangpin.v1 import assistance_pb2, assistance_pb2_grpc
from fangpin_cli.endpoints import call
from fangpin_cli.output import (
    JsonFlag,
    LangOption,
    cadres_view,
    emit_one,
    emit_rows,
    income_view,
    measures_table,
    plan_view,
    tasks_table,
    visit_view,
)
from fangpin_cli.paging import After, AllPages, follow, limit_option, next_page_hint

plan_app = typer.Typer(no_args_is_help=True, help="Household plans (一户一策).")
measures_app = typer.Typer(no_args_is_help=True, help="Measures dispatched to departments.")
followup_app = typer.Typer(no_args_is_help=True, help="Visits, incomes and due tasks.")

Stub = assistance_pb2_grpc.AssistanceServiceStub


def register(app: typer.Typer) -> None:
    """Add `plan`, `measures` and `followup` to the `fangpin` command."""
    app.add_typer(plan_app, name="plan")
    app.add_typer(measures_app, name="measures")
    app.add_typer(followup_app, name="followup")


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _ask(method: str, request: Message) -> Message:
    async def run(stub: Stub) -> Message:
        return await getattr(stub, method)(request)  # type: ignore[no-any-return]

    return call("assistance", Stub, run)


def _ask_pages(method: str, request: Any, items: str, after: str, all_pages: bool) -> Any:
    """A List* call from the page after `after`, and every later page with `all_pages`."""

    async def run(stub: Stub) -> Any:
        return await follow(getattr(stub, method), request, items, after=after, all_pages=all_pages)

    return call("assistance", Stub, run)


def _waivers(items: list[str]) -> list[assistance_pb2.WaiverInput]:
    """`RULE=REASON` pairs (e.g. `developmental_required=elderly couple, no labor market`)."""
    waivers = []
    for item in items:
        violation, sep, reason = item.partition("=")
        if not sep or not violation.strip():
            raise typer.BadParameter(f"{item!r}: expected RULE=REASON", param_hint="--waive")
        waivers.append(assistance_pb2.WaiverInput(violation=violation.strip(), reason=reason))
    return waivers


def _measure_input(item: str) -> assistance_pb2.MeasureInput:
    """`type.sub[@member]`, e.g. `finance.microcredit` or `employment.job_placement@m2`."""
    key, _, member = item.partition("@")
    return assistance_pb2.MeasureInput(measure_key=key.strip(), beneficiary=member.strip())


def _emit_plan(plan: Message, as_json: bool, lang: str) -> None:
    """The plan as one JSON line, or on a terminal its view with the measures."""
    emit_one(as_dict(plan), as_json=as_json, lang=lang, view=plan_view, with_names=True)


@plan_app.command("show")
def show(household_id: str, as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """A household's plan: measures, rule violations, contact cadres, replacements."""
    plan = _ask("GetPlan", assistance_pb2.GetPlanRequest(household_id=household_id))
    _emit_plan(plan, as_json, lang)


@plan_app.command("confirm")
def confirm(
    household_id: str,
    by: str = typer.Option(..., "--by", help="the confirming cadre"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Adopt a proposed plan; its measures go out to the departments."""
    request = assistance_pb2.ConfirmPlanRequest(
        household_id=household_id, by=by, waivers=_waivers(waive)
    )
    _emit_plan(_ask("ConfirmPlan", request), as_json, lang)


@plan_app.command("adjust")
def adjust(
    household_id: str,
    by: str = typer.Option(..., "--by", help="the adjusting cadre"),
    reason: str = typer.Option(..., "--reason"),
    add: list[str] = typer.Option([], "--add", help="type.sub[@member], repeatable"),
    withdraw: list[str] = typer.Option([], "--withdraw", help="measure id, repeatable"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Add or withdraw measures; a change that breaks a plan rule is refused by its name."""
    request = assistance_pb2.AdjustPlanRequest(
        household_id=household_id,
        by=by,
        reason=reason,
        add=[_measure_input(item) for item in add],
        withdraw=withdraw,
        waivers=_waivers(waive),
    )
    _emit_plan(_ask("AdjustPlan", request), as_json, lang)


@plan_app.command("replace")
def replace(
    measure_id: str,
    by: str = typer.Option(..., "--by"),
    reason: str = typer.Option(..., "--reason"),
    with_: str = typer.Option("", "--with", help="type.sub[@member]; default: the proposal"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Replace a rejected (or escalated) measure."""
    chosen = _measure_input(with_) if with_ else assistance_pb2.MeasureInput()
    request = assistance_pb2.ReplaceMeasureRequest(
        measure_id=measure_id,
        by=by,
        reason=reason,
        measure_key=chosen.measure_key,
        beneficiary=chosen.beneficiary,
        waivers=_waivers(waive),
    )
    _emit_plan(_ask("ReplaceMeasure", request), as_json, lang)


@plan_app.command("assign-cadre")
def assign_cadre(
    cadre_id: str,
    household: str = typer.Option("", "--household", help="that household's plan"),
    region: str = typer.Option("", "--region", help="village/town/county roster for new plans"),
    by: str = typer.Option("", "--by"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Name a contact cadre (帮扶联系人) of a household, or of every new plan in a region."""
    request = assistance_pb2.AssignContactCadreRequest(
        household_id=household, region=region, cadre_id=cadre_id, by=by
    )
    reply = as_dict(_ask("AssignContactCadre", request))
    emit_one(reply, as_json=as_json, lang=lang, view=cadres_view, with_names=True)


@measures_app.command("list")
def list_measures(
    dept: str = typer.Option("", "--dept", help="lead department code, e.g. civil_affairs"),
    status: str = typer.Option(
        "",
        "--status",
        help="proposed | dispatched | accepted | in_progress | completed | rejected | expired "
        "| withdrawn",
    ),
    household: str = typer.Option("", "--household", help="one household's measures"),
    overdue: bool = typer.Option(False, "--overdue", help="escalated, still unanswered"),
    limit: int = limit_option(100, "by measure id"),
    after: str = After,
    all_pages: bool = AllPages,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Measures by department and status: a table on a terminal, else one JSON line each."""
    request = assistance_pb2.ListMeasuresRequest(
        dept=dept, status=status, household_id=household, overdue=overdue, limit=limit
    )
    reply = _ask_pages("ListMeasures", request, "measures", after, all_pages)
    measures = [as_dict(measure) for measure in reply.measures]
    emit_rows(measures, as_json=as_json, lang=lang, view=measures_table, with_names=True)
    next_page_hint(reply)


@followup_app.command("visit")
def visit(
    household_id: str,
    cadre: str = typer.Option(..., "--cadre"),
    on: str = typer.Option("", "--on", help="YYYY-MM-DD, default today"),
    mode: str = typer.Option("in_person", "--mode", help="in_person | phone | message"),
    note: str = typer.Option("", "--note"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Record a visit (走访); the household's open visit tasks are done."""
    request = assistance_pb2.RecordVisitRequest(
        household_id=household_id, visited_on=on, cadre_id=cadre, mode=mode, note=note
    )
    reply = as_dict(_ask("RecordVisit", request))
    emit_one(reply, as_json=as_json, lang=lang, view=visit_view, with_names=True)


@followup_app.command("income")
def income(
    household_id: str,
    period: str = typer.Option(..., "--period", help="first day of the period, e.g. 2024-04-01"),
    members: int = typer.Option(..., "--members"),
    by: str = typer.Option(..., "--by", help="the collecting cadre"),
    wage: float = typer.Option(0.0, "--wage"),
    business: float = typer.Option(0.0, "--business"),
    property_: float = typer.Option(0.0, "--property"),
    transfer: float = typer.Option(0.0, "--transfer"),
    production_costs: float = typer.Option(0.0, "--production-costs"),
    method: str = typer.Option("in_person", "--method", help="in_person | phone | proxy"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Record one period's income (收入采集); screening receives it for the elimination check."""
    request = assistance_pb2.RecordIncomeRequest(
        household_id=household_id,
        period_start=period,
        wage=wage,
        business=business,
        property=property_,
        transfer=transfer,
        production_costs=production_costs,
        members=members,
        method=method,
        collected_by=by,
    )
    reply = as_dict(_ask("RecordIncome", request))
    emit_one(reply, as_json=as_json, lang=lang, view=income_view, with_names=True)


@followup_app.command("tasks")
def tasks(
    overdue: bool = typer.Option(False, "--overdue", help="open and past due"),
    household: str = typer.Option("", "--household", help="one household's tasks"),
    kind: str = typer.Option(
        "", "--kind", help="plan_due | visit | income_collection | measure_replacement"
    ),
    status: str = typer.Option("", "--status", help="open | done | cancelled"),
    cadre: str = typer.Option("", "--cadre", help="tasks assigned to this cadre"),
    limit: int = limit_option(100, "earliest due first"),
    after: str = After,
    all_pages: bool = AllPages,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Follow-up tasks (visits, income collection, plan due, replacements): a table on a
    terminal, else one JSON line each."""
    request = assistance_pb2.ListTasksRequest(
        household_id=household,
        kind=kind,
        status=status,
        overdue=overdue,
        cadre_id=cadre,
        limit=limit,
    )
    reply = _ask_pages("ListTasks", request, "tasks", after, all_pages)
    tasks = [as_dict(task) for task in reply.tasks]
    emit_rows(tasks, as_json=as_json, lang=lang, view=tasks_table, with_names=True)
    next_page_hint(reply)
