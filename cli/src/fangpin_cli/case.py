"""`fangpin case|register|audit ...`: the approval procedure, the register and the audit ledger."""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from google.protobuf.json_format import MessageToDict

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_cli.endpoints import call, emit_json

app = typer.Typer(
    no_args_is_help=True,
    help="Identification and elimination cases (approval): queues, signing, notices.",
)
register_app = typer.Typer(no_args_is_help=True, help="Register of monitored households.")
audit_app = typer.Typer(no_args_is_help=True, help="The approval audit ledger.")

Stub = approval_pb2_grpc.ApprovalServiceStub
ACTOR_ENV = "FANGPIN_ACTOR"
ACTOR_FIELDS = ("id", "name", "role", "level", "region")


def install(root: typer.Typer) -> None:
    """Add `case`, `register` and `audit` to the `fangpin` command."""
    root.add_typer(app, name="case")
    root.add_typer(register_app, name="register")
    root.add_typer(audit_app, name="audit")


# Who acts: options, else the JSON object in $FANGPIN_ACTOR (options win field by field).
ActorId = typer.Option(None, "--actor-id", help="signer's id (a household signs as its id)")
ActorName = typer.Option(None, "--actor-name", help="signer's name")
ActorRole = typer.Option(None, "--role", help="signer's function, e.g. village_secretary")
ActorLevel = typer.Option(None, "--level", help="household | village | town | county")
ActorRegion = typer.Option(None, "--region", help="the signer's village/town/county code")
Comment = typer.Option("", "--comment", help="comment recorded with the action")
Attachments = typer.Option([], "--attachment", help="attachment reference (repeatable)")
ExpectedVersion = typer.Option(
    0, "--expected-version", help="the case version you saw; 0 = don't check"
)


def actor_from(
    actor_id: str | None,
    name: str | None,
    role: str | None,
    level: str | None,
    region: str | None,
) -> approval_pb2.Actor:
    """The acting person from the options and $FANGPIN_ACTOR; exit 2 naming a missing field."""
    fields: dict[str, Any] = {}
    raw = os.environ.get(ACTOR_ENV)
    if raw:
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as err:
            _fail(f"{ACTOR_ENV}: not a JSON object: {err}")
        if not isinstance(fields, dict):
            _fail(f"{ACTOR_ENV}: not a JSON object")
    given = {"id": actor_id, "name": name, "role": role, "level": level, "region": region}
    fields |= {k: v for k, v in given.items() if v is not None}
    for key in ("id", "name", "level", "region"):
        if not str(fields.get(key) or "").strip():
            option = {"id": "--actor-id", "name": "--actor-name"}.get(key, f"--{key}")
            _fail(f"actor.{key}: required (option {option} or {ACTOR_ENV})")
    return approval_pb2.Actor(**{k: str(fields.get(k) or "") for k in ACTOR_FIELDS})


def parse_co_signer(spec: str, index: int) -> approval_pb2.Actor:
    """`ID/NAME/LEVEL/REGION[/ROLE]` or a JSON object with those fields."""
    where = f"--co-signer[{index}]"
    if spec.lstrip().startswith("{"):
        try:
            fields = json.loads(spec)
        except json.JSONDecodeError as err:
            _fail(f"{where}: not a JSON object: {err}")
    else:
        parts = spec.split("/")
        if len(parts) not in (4, 5):
            _fail(f"{where}: expected ID/NAME/LEVEL/REGION[/ROLE], got {spec!r}")
        fields = dict(zip(("id", "name", "level", "region", "role"), parts, strict=False))
    if not isinstance(fields, dict):
        _fail(f"{where}: not a JSON object")
    return approval_pb2.Actor(**{k: str(fields.get(k) or "") for k in ACTOR_FIELDS})


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _case_dict(case: approval_pb2.Case) -> dict[str, Any]:
    return MessageToDict(case, preserving_proto_field_name=True)


def _emit_case(case: approval_pb2.Case) -> None:
    emit_json(_case_dict(case))


# ------------------------------------------------------------------------- queries


@app.command("list")
def list_(
    region: str = typer.Option("", help="county (6), town (9) or village (12) code"),
    step: str = typer.Option("", help="application | verification | village_appraisal | ..."),
    status: str = typer.Option("", help="open | approved | rejected | withdrawn"),
    kind: str = typer.Option("", help="identification | elimination"),
    household: str = typer.Option("", "--household", help="one household's cases"),
    overdue: bool = typer.Option(False, "--overdue", help="only cases past a time limit"),
    limit: int = typer.Option(100, help="at most this many (max 1000), oldest first"),
) -> None:
    """A queue of cases, one JSON line each (no timelines)."""
    request = approval_pb2.ListCasesRequest(
        region=region,
        step=step,
        status=status,
        kind=kind,
        household_id=household,
        overdue_only=overdue,
        limit=limit,
    )

    async def run(stub: Stub) -> approval_pb2.ListCasesResponse:
        return await stub.ListCases(request)

    for case in call("approval", Stub, run).cases:
        _emit_case(case)


@app.command("show")
def show(case_id: str) -> None:
    """One case with its timeline (JSON)."""

    async def run(stub: Stub) -> approval_pb2.Case:
        return await stub.GetCase(approval_pb2.GetCaseRequest(case_id=case_id))

    _emit_case(call("approval", Stub, run))


@app.command("notice-text")
def notice_text(
    village: str = typer.Argument(..., help="12-digit village code"),
    village_name: str = typer.Option("本村", help="the village's name as printed"),
    published_on: str = typer.Option("", help="YYYY-MM-DD; default the latest notice"),
    full_names: bool = typer.Option(False, help="print full names (county practice)"),
) -> None:
    """The public notice (公示) text of a village, to post in that village only."""
    request = approval_pb2.ExportNoticeRequest(
        village=village,
        village_name=village_name,
        published_on=published_on,
        full_names=full_names,
    )

    async def run(stub: Stub) -> approval_pb2.NoticeText:
        return await stub.ExportNotice(request)

    typer.echo(call("approval", Stub, run).text)


# ------------------------------------------------------------------------- actions


@app.command("sign")
def sign(
    case_id: str,
    step: str = typer.Option("", help="the step you sign (checked against the case's)"),
    comment: str = Comment,
    attachment: list[str] = Attachments,
    co_signer: list[str] = typer.Option(
        [], "--co-signer", help="another cadre signing the visit: ID/NAME/LEVEL/REGION[/ROLE]"
    ),
    special_reason: str = typer.Option(
        "", help="village appraisal: why an excluded household is admitted anyway"
    ),
    expected_version: int = ExpectedVersion,
    actor_id: str | None = ActorId,
    actor_name: str | None = ActorName,
    role: str | None = ActorRole,
    level: str | None = ActorLevel,
    region: str | None = ActorRegion,
) -> None:
    """Sign the case's current step; prints the case after it."""
    request = approval_pb2.SignStepRequest(
        case_id=case_id,
        step=step,
        actor=actor_from(actor_id, actor_name, role, level, region),
        comment=comment,
        attachments=attachment,
        expected_version=expected_version,
        special_reason=special_reason,
        co_signers=[parse_co_signer(s, i) for i, s in enumerate(co_signer)],
    )

    async def run(stub: Stub) -> approval_pb2.Case:
        return await stub.SignStep(request)

    _emit_case(call("approval", Stub, run))


def _text_action(
    rpc: str,
    case_id: str,
    text: str,
    attachments: list[str],
    expected_version: int,
    actor: approval_pb2.Actor,
) -> None:
    request = approval_pb2.CaseActionRequest(
        case_id=case_id,
        actor=actor,
        comment=text,
        attachments=attachments,
        expected_version=expected_version,
    )

    async def run(stub: Stub) -> approval_pb2.Case:
        return await getattr(stub, rpc)(request)  # type: ignore[no-any-return]

    _emit_case(call("approval", Stub, run))


def _text_command(name: str, rpc: str, doc: str, text: Any = Comment) -> None:
    """Register `fangpin case <name> CASE_ID`: an action with a text (`--comment` by
    default), attachments and the actor, sent as `rpc` (a CaseActionRequest)."""

    def command(
        case_id: str,
        text: str = text,
        attachment: list[str] = Attachments,
        expected_version: int = ExpectedVersion,
        actor_id: str | None = ActorId,
        actor_name: str | None = ActorName,
        role: str | None = ActorRole,
        level: str | None = ActorLevel,
        region: str | None = ActorRegion,
    ) -> None:
        actor = actor_from(actor_id, actor_name, role, level, region)
        _text_action(rpc, case_id, text, attachment, expected_version, actor)

    command.__doc__ = doc
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)


def _required(flag: str, help: str) -> Any:
    return typer.Option(..., flag, help=help)


_text_command(
    "publish-notice",
    "PublishNotice",
    "Start the village public notice (公示) after the democratic appraisal.",
)
_text_command(
    "object",
    "Object",
    "Record an objection raised during the notice: the case goes back to verification.",
    _required("--comment", "the objection's content"),
)
_text_command(
    "return",
    "ReturnCase",
    "Send the case back one step (退回) from town review or county approval.",
    _required("--comment", "why the case goes back"),
)
_text_command(
    "reject",
    "RejectCase",
    "Refuse the case at its current step (不予认定 / 不予消除).",
    _required("--reason", "why the case is refused"),
)
_text_command(
    "withdraw",
    "WithdrawCase",
    "The household (or the nominating village) withdraws the case.",
    _required("--reason", "why the application is withdrawn"),
)
_text_command(
    "green-channel",
    "OpenGreenChannel",
    "Confirm urgent hardship (绿色通道); village and town both confirm, then it opens.",
    _required("--comment", "the sudden, urgent hardship"),
)
_text_command(
    "system-entry",
    "RecordSystemEntry",
    "Record that the county entered the approved case in the national system.",
)


@app.command("nominate")
def nominate(
    household_id: str,
    mode: str = typer.Option(..., "--mode", help="assisted | natural"),
    measure: list[str] = typer.Option([], "--measure", help="implemented measure (repeatable)"),
    comment: str = Comment,
    attachment: list[str] = Attachments,
    actor_id: str | None = ActorId,
    actor_name: str | None = ActorName,
    role: str | None = ActorRole,
    level: str | None = ActorLevel,
    region: str | None = ActorRegion,
) -> None:
    """The village nominates a monitored household for risk elimination (风险消除)."""
    request = approval_pb2.NominateEliminationRequest(
        household_id=household_id,
        actor=actor_from(actor_id, actor_name, role, level, region),
        mode=mode,
        measures=measure,
        comment=comment,
        attachments=attachment,
    )

    async def run(stub: Stub) -> approval_pb2.Case:
        return await stub.NominateElimination(request)

    _emit_case(call("approval", Stub, run))


# ------------------------------------------------------------------ register, audit


@register_app.command("show")
def register_show(household_id: str) -> None:
    """A household's register entry with its history (JSON)."""

    async def run(stub: Stub) -> approval_pb2.RegisterEntry:
        return await stub.GetRegisterEntry(
            approval_pb2.GetRegisterEntryRequest(household_id=household_id)
        )

    emit_json(MessageToDict(call("approval", Stub, run), preserving_proto_field_name=True))


@register_app.command("list")
def register_list(
    region: str = typer.Option("", help="county (6), town (9) or village (12) code"),
    status: str = typer.Option("", help="monitored | eliminated | held | rolled_back | removed"),
    limit: int = typer.Option(100, help="at most this many (max 1000)"),
) -> None:
    """Households in the register, one JSON line each."""
    request = approval_pb2.ListRegisterRequest(region=region, status=status, limit=limit)

    async def run(stub: Stub) -> approval_pb2.ListRegisterResponse:
        return await stub.ListRegister(request)

    for entry in call("approval", Stub, run).entries:
        emit_json(MessageToDict(entry, preserving_proto_field_name=True))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the ledger's hash chain; exit 1 naming the first edited or deleted entry."""

    async def run(stub: Stub) -> approval_pb2.AuditVerification:
        return await stub.VerifyAudit(approval_pb2.VerifyAuditRequest())

    result = call("approval", Stub, run)
    if result.ok:
        typer.echo(f"audit ledger intact: {result.checked} entries, head {result.head[:16]}")
        return
    typer.echo(
        f"audit ledger BROKEN at entry {result.seq} ({result.problem}): {result.message}",
        err=True,
    )
    raise typer.Exit(1)
