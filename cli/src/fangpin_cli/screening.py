"""`fangpin screening ...` and `fangpin elimination check`: decisions, county re-screens,
scale-risk alerts and risk elimination checks (screening)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from fangpin.v1 import screening_pb2, screening_pb2_grpc
from fangpin_cli.endpoints import call, emit_json
from fangpin_cli.output import (
    JsonFlag,
    LangOption,
    decisions_table,
    elimination_view,
    emit_rows,
    scale_risk_table,
)
from fangpin_cli.paging import After, AllPages, OldestFirst, follow, limit_option, next_page_hint
from fangpin_cli.progress import Tracker, progress, shows_progress

app = typer.Typer(
    no_args_is_help=True,
    help="Screening (识别研判): decision history, county re-screens, scale-risk alerts.",
)
elimination_app = typer.Typer(
    no_args_is_help=True, help="Risk elimination (风险消除) and roll-back (回退) checks."
)

Stub = screening_pb2_grpc.ScreeningServiceStub
AsOf = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)")


def _dict(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def run_dict(status: screening_pb2.RescreenStatus) -> dict[str, Any]:
    """A re-screen run as JSON, its counts as numbers (JSON mapping renders int64 as text)."""
    out = _dict(status)
    for key in ("total", "done", "changed", "rejected"):
        out[key] = int(out[key])
    return out


def decision_dict(message: screening_pb2.Decision, with_trace: bool) -> dict[str, Any]:
    """A stored decision: the CONTRACT section 3 line plus where it came from."""
    out = _dict(message)
    out["category"] = out["category"] or None
    for key in ("clue_id", "decision_id"):
        out[key] = out[key] or None
    trace = out.pop("trace")
    if with_trace:
        out["trace"] = [
            {"rule": t["rule"], "hit": t["hit"], "values": json.loads(t["values_json"] or "{}")}
            for t in trace
        ]
    return out


@app.command("decisions")
def decisions(
    household_ids: list[str] = typer.Argument(..., help="household id(s)"),
    limit: int = limit_option(20, "per household, newest first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
    trace: bool = typer.Option(False, "--trace", help="include each decision's rule trace"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """A household's decision history, newest first: a table on a terminal, else one JSON line
    per decision."""
    if after and len(household_ids) > 1:
        raise typer.BadParameter(
            "a page token continues one household's history: give one HOUSEHOLD_ID",
            param_hint="--after",
        )

    async def run(stub: Stub) -> list[screening_pb2.ListDecisionsResponse]:
        replies = []
        for household_id in household_ids:
            request = screening_pb2.ListDecisionsRequest(
                household_id=household_id, limit=limit, oldest_first=oldest_first
            )
            replies.append(
                await follow(
                    stub.ListDecisions, request, "decisions", after=after, all_pages=all_pages
                )
            )
        return replies

    replies = call("screening", Stub, run)
    rows = [decision_dict(message, trace) for reply in replies for message in reply.decisions]
    emit_rows(rows, as_json=as_json, lang=lang, view=decisions_table, with_names=True)
    for household_id, reply in zip(household_ids, replies, strict=True):
        next_page_hint(reply, household_id if len(household_ids) > 1 else "")


def _progress(status: screening_pb2.RescreenStatus) -> str:
    return (
        f"re-screen {status.run_id} ({status.ruleset}, as of {status.as_of}): {status.status}, "
        f"{status.done}/{status.total} households, {status.changed} changed, "
        f"{status.rejected} rejected"
    )


@app.command("rescreen")
def rescreen(
    as_of: str | None = AsOf,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the run to its end"),
    poll: float = typer.Option(1.0, min=0.05, help="seconds between progress lines"),
) -> None:
    """Re-screen the whole county now; prints progress, then the run (exit 1 if it failed).

    Standard error gets a line when the run starts and one when it ends. On a terminal a live
    line shows the progress between them (done of total, rate, changed and rejected so far,
    time left; `fangpin_cli.progress`); elsewhere a line each time the counts change."""

    def show(track: Tracker, status: screening_pb2.RescreenStatus) -> None:
        if status.total and status.total != track.total:
            track.set_total(status.total)
        track.count("changed", status.changed)
        track.advance(status.done - track.done, status.rejected - track.rejected)

    async def run(stub: Stub) -> screening_pb2.RescreenStatus:
        status = await stub.StartRescreen(screening_pb2.StartRescreenRequest(as_of=as_of or ""))
        if not status.started:
            typer.echo(f"already running: {status.run_id}; following it", err=True)
        first = last = _progress(status)
        typer.echo(first, err=True)
        if not wait or status.status != "running":
            return status
        drawn = shows_progress()
        description = f"re-screen {status.run_id}"
        with progress(description, unit="households", counts=("changed",), bar=True) as track:
            show(track, status)
            if not status.started:
                track.rebase()  # the rate counts from now, not from the run's start
            while status.status == "running":
                await asyncio.sleep(poll)
                status = await stub.GetRescreenStatus(
                    screening_pb2.GetRescreenStatusRequest(run_id=status.run_id)
                )
                show(track, status)
                line = _progress(status)
                if line != last and not drawn:
                    typer.echo(line, err=True)
                last = line
        if drawn and last != first:
            typer.echo(last, err=True)  # the summary line of the end, below the live line
        return status

    final = call("screening", Stub, run)
    emit_json(run_dict(final))
    if final.status == "failed":
        raise typer.Exit(1)


@app.command("rescreen-status")
def rescreen_status(
    run_id: str = typer.Argument("", help="a run id (default the latest run)"),
) -> None:
    """A re-screen run and its progress (JSON)."""

    async def run(stub: Stub) -> screening_pb2.RescreenStatus:
        return await stub.GetRescreenStatus(screening_pb2.GetRescreenStatusRequest(run_id=run_id))

    emit_json(run_dict(call("screening", Stub, run)))


@app.command("scale-risk")
def scale_risk(
    village: str = typer.Option("", help="town or village code prefix (default the county)"),
    active: bool = typer.Option(False, "--active", help="only alerts whose condition holds"),
    limit: int = limit_option(100, "newest first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Scale-risk alerts sent (规模性返贫风险): a table on a terminal, else one JSON line each."""
    request = screening_pb2.ListScaleRiskAlertsRequest(
        village=village, active_only=active, limit=limit, oldest_first=oldest_first
    )

    async def run(stub: Stub) -> screening_pb2.ListScaleRiskAlertsResponse:
        return await follow(
            stub.ListScaleRiskAlerts, request, "alerts", after=after, all_pages=all_pages
        )

    reply = call("screening", Stub, run)
    alerts = []
    for alert in reply.alerts:
        out = _dict(alert)
        out["details"] = json.loads(out.pop("details_json") or "{}")
        alerts.append(out)
    emit_rows(alerts, as_json=as_json, lang=lang, view=scale_risk_table)
    next_page_hint(reply)


@elimination_app.command("check")
def check(
    household_ids: list[str] = typer.Argument(..., help="household id(s)"),
    as_of: str | None = AsOf,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Whether monitored households may be nominated for risk elimination (eligible, not_yet
    with the failing conditions, held); for eliminated ones, whether the risk returned.
    Each condition 满足/不满足 with its figures on a terminal, else one JSON line per household;
    exit 1 when any could not be checked."""

    async def run(stub: Stub) -> list[dict[str, Any]]:
        lines = []
        for household_id in household_ids:
            request = screening_pb2.CheckEliminationRequest(
                household_id=household_id, as_of=as_of or ""
            )
            try:
                reply = await stub.CheckElimination(request)
            except grpc.aio.AioRpcError as err:
                if err.code() not in (
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.INVALID_ARGUMENT,
                ):
                    raise
                lines.append(
                    {"household_id": household_id, "error": f"{err.code().name}: {err.details()}"}
                )
                continue
            out = _dict(reply)
            out["values"] = json.loads(out.pop("values_json") or "{}")
            lines.append(out)
        return lines

    lines = call("screening", Stub, run)
    emit_rows(lines, as_json=as_json, lang=lang, view=elimination_view, with_names=True)
    if any("error" in line for line in lines):
        raise typer.Exit(1)
