"""`fangpin case|register|audit ...`: the approval procedure, the register and the audit ledger."""

from __future__ import annotations

import json
import os
import textwrap
from functools import partial
from typing import Any

import typer
from google.protobuf.json_format import MessageToDict

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_cli.endpoints import call, emit_json
from fangpin_cli.output import (
    JsonFlag,
    LangOption,
    case_table,
    case_view,
    emit_one,
    emit_rows,
    register_table,
    register_view,
)
from fangpin_cli.paging import After, AllPages, OldestFirst, follow, limit_option, next_page_hint
from fangpin_contracts.vocabulary import label

# The step order of each procedure as the approval service enforces it (flow version 2021,
# services/approval/.../domain/procedure.py; cli/tests/test_help.py compares them).
PROCEDURES: dict[str, tuple[str, ...]] = {
    "identification": (
        "application",
        "verification",
        "village_appraisal",
        "town_review",
        "county_approval",
    ),
    "elimination": (
        "nomination",
        "verification",
        "village_appraisal",
        "town_review",
        "county_approval",
    ),
}

# What happens at each step, as the server allows it (one line of `fangpin case --help`).
STEP_RULES: dict[str, str] = {
    "application": "the household signs, or the village signs on its behalf",
    "nomination": "the village nominates a monitored household (`case nominate` signs it)",
    "verification": (
        "village/town cadres visit the household and sign together, at least 2 (--co-signer); "
        "due 5 working days after the clue; may reject"
    ),
    "village_appraisal": (
        "the village holds the democratic appraisal (民主评议), then `case publish-notice` "
        "starts the public notice (公示, at least 5 days, the day of publication is day 1); "
        "an objection (`case object`) during the notice sends the case back to verification; "
        "the village signs from the day after the notice's last day, with --special-reason "
        "when screening listed exclusions; may reject"
    ),
    "town_review": "the town signs, or `case return` to village_appraisal; may reject",
    "county_approval": (
        "the county signs and the case is approved, or `case return` to town_review; may reject"
    ),
}


def _procedure_help(kind: str, opened_by: str, before: tuple[str, ...] = ()) -> str:
    """One procedure's steps in order, one numbered item each (a step of `before`: as above)."""
    lines = [f"\b\n{kind} {label('case_kind', kind)} ({opened_by}):"]
    for n, step in enumerate(PROCEDURES[kind], start=1):
        rule = "as above" if step in before else STEP_RULES[step]
        item = f"{n}. {step} {label('step', step)}: {rule}"
        lines.extend(textwrap.wrap(item, 90, initial_indent="  ", subsequent_indent="     "))
    return "\n".join(lines)


CASE_HELP = "\n\n".join(
    [
        "Identification and elimination cases (approval): queues, signing, notices.",
        "Each procedure runs its steps in this order; `case sign` signs the current step and "
        "the case moves to the next (the county's signature decides it). Time limits are the "
        "county's dated parameters (`fangpin rules list`); the national baseline is shown.",
        _procedure_help("identification", "opened when screening puts a household in scope"),
        _procedure_help(
            "elimination", "risk elimination, 怎么进怎么出", before=PROCEDURES["identification"]
        ),
        "\b\n"
        "green channel 绿色通道 (identification, sudden urgent hardship): `case green-channel`,\n"
        "  confirmed by the village and by the town, registers the household at once and\n"
        "  assistance starts; the steps above must still be completed within 1 month.\n"
        "after approval: `case system-entry` within 10 days (录入全国系统); the household's\n"
        "  plan (一户一策) is due within 10 days.\n"
        "while a case is open: `case withdraw` (identification: the household or the village;\n"
        "  elimination: the village); clue to county approval within 15 days.",
    ]
)

app = typer.Typer(no_args_is_help=True, help=CASE_HELP)
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
ActorLevel = typer.Option(
    None, "--level", help="household | village | town | county (who may sign: see case --help)"
)
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


def _emit_case(case: approval_pb2.Case, as_json: bool, lang: str) -> None:
    """The case as one JSON line, or on a terminal its view with the procedure's progress."""
    view = partial(case_view, procedures=PROCEDURES)
    emit_one(_case_dict(case), as_json=as_json, lang=lang, view=view, with_names=True)


# ------------------------------------------------------------------------- queries


@app.command("list")
def list_(
    region: str = typer.Option("", help="county (6), town (9) or village (12) code"),
    step: str = typer.Option(
        "",
        help="application | nomination | verification | village_appraisal | town_review "
        "| county_approval",
    ),
    status: str = typer.Option("", help="open | approved | rejected | withdrawn"),
    kind: str = typer.Option("", help="identification | elimination"),
    household: str = typer.Option("", "--household", help="one household's cases"),
    overdue: bool = typer.Option(False, "--overdue", help="only cases past a time limit"),
    limit: int = limit_option(100, "newest first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """A queue of cases: a table on a terminal, else one JSON line each (no timelines)."""
    request = approval_pb2.ListCasesRequest(
        region=region,
        step=step,
        status=status,
        kind=kind,
        household_id=household,
        overdue_only=overdue,
        limit=limit,
        oldest_first=oldest_first,
    )

    async def run(stub: Stub) -> approval_pb2.ListCasesResponse:
        return await follow(stub.ListCases, request, "cases", after=after, all_pages=all_pages)

    reply = call("approval", Stub, run)
    cases = [_case_dict(case) for case in reply.cases]
    emit_rows(cases, as_json=as_json, lang=lang, view=case_table, with_names=True)
    next_page_hint(reply)


@app.command("show")
def show(case_id: str, as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """One case with its progress through the steps and its timeline."""

    async def run(stub: Stub) -> approval_pb2.Case:
        return await stub.GetCase(approval_pb2.GetCaseRequest(case_id=case_id))

    _emit_case(call("approval", Stub, run), as_json, lang)


@app.command("notice-text")
def notice_text(
    village: str = typer.Argument(..., help="12-digit village code"),
    village_name: str = typer.Option("本村", help="the village's name as printed"),
    published_on: str = typer.Option("", help="YYYY-MM-DD; default the latest notice"),
    full_names: bool = typer.Option(False, help="print full names (county practice)"),
    as_json: bool = typer.Option(
        False, "--json", help="the notice as one JSON line (village, dates, case ids, text)"
    ),
) -> None:
    """The public notice (公示) text of a village, to post in that village only: the text
    itself, ready to print (with `--json`, the notice's record as one JSON line)."""
    request = approval_pb2.ExportNoticeRequest(
        village=village,
        village_name=village_name,
        published_on=published_on,
        full_names=full_names,
    )

    async def run(stub: Stub) -> approval_pb2.NoticeText:
        return await stub.ExportNotice(request)

    notice = call("approval", Stub, run)
    if as_json:
        emit_json(MessageToDict(notice, preserving_proto_field_name=True))
        return
    typer.echo(notice.text)


# ------------------------------------------------------------------------- actions


@app.command("sign")
def sign(
    case_id: str,
    step: str = typer.Option("", help="the step you sign (checked against the case's current)"),
    comment: str = Comment,
    attachment: list[str] = Attachments,
    co_signer: list[str] = typer.Option(
        [],
        "--co-signer",
        help="verification: another cadre signing the visit, ID/NAME/LEVEL/REGION[/ROLE] "
        "(repeatable; at least 2 signers in all)",
    ),
    special_reason: str = typer.Option(
        "",
        help="village_appraisal: why a household screening excluded is admitted anyway "
        "(特殊情况由村民主评议认定); required then",
    ),
    expected_version: int = ExpectedVersion,
    actor_id: str | None = ActorId,
    actor_name: str | None = ActorName,
    role: str | None = ActorRole,
    level: str | None = ActorLevel,
    region: str | None = ActorRegion,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Sign the case's current step; the case moves to the next step (prints it after).

    At verification the cadres who visited sign together (--co-signer). At village_appraisal
    the step is signed only once the public notice has run: hold the appraisal, start the
    notice with `case publish-notice`, sign from the day after its last day. The county's
    signature at county_approval approves the case. The order: `fangpin case --help`.
    """
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

    _emit_case(call("approval", Stub, run), as_json, lang)


def _text_action(
    rpc: str,
    case_id: str,
    text: str,
    attachments: list[str],
    expected_version: int,
    actor: approval_pb2.Actor,
    as_json: bool = False,
    lang: str = "zh",
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

    _emit_case(call("approval", Stub, run), as_json, lang)


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
        as_json: bool = JsonFlag,
        lang: str = LangOption,
    ) -> None:
        actor = actor_from(actor_id, actor_name, role, level, region)
        _text_action(rpc, case_id, text, attachment, expected_version, actor, as_json, lang)

    command.__doc__ = doc
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)


def _required(flag: str, help: str) -> Any:
    return typer.Option(..., flag, help=help)


_text_command(
    "publish-notice",
    "PublishNotice",
    "Start the village public notice (公示) at village_appraisal: after the appraisal meeting "
    "(民主评议), before the step is signed. The notice runs at least 5 days (the day of "
    "publication is day 1); objections are taken while it runs (`case object`); the village "
    "signs village_appraisal from the day after its last day.",
)
_text_command(
    "object",
    "Object",
    "Record an objection raised while the public notice runs (village_appraisal, not yet "
    "signed): the case goes back to verification; appraisal and notice are held again.",
    _required("--comment", "the objection's content"),
)
_text_command(
    "return",
    "ReturnCase",
    "Send the case back one step (退回): town_review to village_appraisal, county_approval "
    "to town_review.",
    _required("--comment", "why the case goes back"),
)
_text_command(
    "reject",
    "RejectCase",
    "Refuse the case at its current step (不予认定 / 不予消除): verification, "
    "village_appraisal, town_review or county_approval; a green channel stops.",
    _required("--reason", "why the case is refused"),
)
_text_command(
    "withdraw",
    "WithdrawCase",
    "Withdraw an open case: identification by the household or the village, elimination by "
    "the village; a green channel stops.",
    _required("--reason", "why the application is withdrawn"),
)
_text_command(
    "green-channel",
    "OpenGreenChannel",
    "Confirm sudden urgent hardship for the green channel (绿色通道, identification only); "
    "once the village and the town have both confirmed, the household is registered at once "
    "and assisted; the procedure must still be completed within 1 month.",
    _required("--comment", "the sudden, urgent hardship"),
)
_text_command(
    "system-entry",
    "RecordSystemEntry",
    "After county approval: record that the county entered the decision in the national "
    "system (录入全国系统, within 10 days of approval).",
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
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """The village nominates a monitored household for risk elimination (风险消除).

    Opens an elimination case and signs its first step (nomination); it then runs
    verification, village_appraisal, town_review and county_approval like an identification.
    """
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

    _emit_case(call("approval", Stub, run), as_json, lang)


# ------------------------------------------------------------------ register, audit


@register_app.command("show")
def register_show(household_id: str, as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """A household's register entry with its history."""

    async def run(stub: Stub) -> approval_pb2.RegisterEntry:
        return await stub.GetRegisterEntry(
            approval_pb2.GetRegisterEntryRequest(household_id=household_id)
        )

    entry = MessageToDict(call("approval", Stub, run), preserving_proto_field_name=True)
    emit_one(entry, as_json=as_json, lang=lang, view=register_view, with_names=True)


@register_app.command("list")
def register_list(
    region: str = typer.Option("", help="county (6), town (9) or village (12) code"),
    status: str = typer.Option("", help="monitored | eliminated | held | rolled_back | removed"),
    limit: int = limit_option(100, "most recently changed first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Households in the register: a table on a terminal, else one JSON line each."""
    request = approval_pb2.ListRegisterRequest(
        region=region, status=status, limit=limit, oldest_first=oldest_first
    )

    async def run(stub: Stub) -> approval_pb2.ListRegisterResponse:
        return await follow(stub.ListRegister, request, "entries", after=after, all_pages=all_pages)

    reply = call("approval", Stub, run)
    entries = [MessageToDict(entry, preserving_proto_field_name=True) for entry in reply.entries]
    emit_rows(entries, as_json=as_json, lang=lang, view=register_table, with_names=True)
    next_page_hint(reply)


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
