"""`fangpin plan|measures|followup ...`: household plans, measures and follow-up (assistance)."""

from __future__ import annotations

from typing import Any

import typer
from google.protobuf import json_format
from google.protobuf.message import Message

from fangpin.v1 import assistance_pb2, assistance_pb2_grpc
from fangpin_cli.endpoints import call, emit_json

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


@plan_app.command("show")
def show(household_id: str) -> None:
    """Print a household's plan (JSON): measures, violations, cadres, replacements."""
    emit_json(as_dict(_ask("GetPlan", assistance_pb2.GetPlanRequest(household_id=household_id))))


@plan_app.command("confirm")
def confirm(
    household_id: str,
    by: str = typer.Option(..., "--by", help="the confirming cadre"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
) -> None:
    """Adopt a proposed plan; its measures go out to the departments."""
    request = assistance_pb2.ConfirmPlanRequest(
        household_id=household_id, by=by, waivers=_waivers(waive)
    )
    emit_json(as_dict(_ask("ConfirmPlan", request)))


@plan_app.command("adjust")
def adjust(
    household_id: str,
    by: str = typer.Option(..., "--by", help="the adjusting cadre"),
    reason: str = typer.Option(..., "--reason"),
    add: list[str] = typer.Option([], "--add", help="type.sub[@member], repeatable"),
    withdraw: list[str] = typer.Option([], "--withdraw", help="measure id, repeatable"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
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
    emit_json(as_dict(_ask("AdjustPlan", request)))


@plan_app.command("replace")
def replace(
    measure_id: str,
    by: str = typer.Option(..., "--by"),
    reason: str = typer.Option(..., "--reason"),
    with_: str = typer.Option("", "--with", help="type.sub[@member]; default: the proposal"),
    waive: list[str] = typer.Option([], "--waive", help="RULE=REASON, repeatable"),
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
    emit_json(as_dict(_ask("ReplaceMeasure", request)))


@plan_app.command("assign-cadre")
def assign_cadre(
    cadre_id: str,
    household: str = typer.Option("", "--household", help="that household's plan"),
    region: str = typer.Option("", "--region", help="village/town/county roster for new plans"),
    by: str = typer.Option("", "--by"),
) -> None:
    """Name a contact cadre (帮扶联系人) of a household, or of every new plan in a region."""
    request = assistance_pb2.AssignContactCadreRequest(
        household_id=household, region=region, cadre_id=cadre_id, by=by
    )
    emit_json(as_dict(_ask("AssignContactCadre", request)))


@measures_app.command("list")
def list_measures(
    dept: str = typer.Option("", "--dept"),
    status: str = typer.Option("", "--status"),
    household: str = typer.Option("", "--household"),
    overdue: bool = typer.Option(False, "--overdue", help="escalated, still unanswered"),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """Measures by department and status, one JSON line each."""
    request = assistance_pb2.ListMeasuresRequest(
        dept=dept, status=status, household_id=household, overdue=overdue, limit=limit
    )
    reply = _ask("ListMeasures", request)
    for measure in reply.measures:  # type: ignore[attr-defined]
        emit_json(as_dict(measure))


@followup_app.command("visit")
def visit(
    household_id: str,
    cadre: str = typer.Option(..., "--cadre"),
    on: str = typer.Option("", "--on", help="YYYY-MM-DD, default today"),
    mode: str = typer.Option("in_person", "--mode", help="in_person | phone | message"),
    note: str = typer.Option("", "--note"),
) -> None:
    """Record a visit (走访); the household's open visit tasks are done."""
    request = assistance_pb2.RecordVisitRequest(
        household_id=household_id, visited_on=on, cadre_id=cadre, mode=mode, note=note
    )
    emit_json(as_dict(_ask("RecordVisit", request)))


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
    emit_json(as_dict(_ask("RecordIncome", request)))


@followup_app.command("tasks")
def tasks(
    overdue: bool = typer.Option(False, "--overdue", help="open and past due"),
    household: str = typer.Option("", "--household"),
    kind: str = typer.Option("", "--kind"),
    status: str = typer.Option("", "--status"),
    cadre: str = typer.Option("", "--cadre"),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """Follow-up tasks (visits, income collection, plan due, replacements), one JSON line each."""
    request = assistance_pb2.ListTasksRequest(
        household_id=household,
        kind=kind,
        status=status,
        overdue=overdue,
        cadre_id=cadre,
        limit=limit,
    )
    reply = _ask("ListTasks", request)
    for task in reply.tasks:  # type: ignore[attr-defined]
        emit_json(as_dict(task))
