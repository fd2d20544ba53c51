"""Approval's gRPC servicer: case queues and actions, the register, the notice, the audit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import grpc
from sqlalchemy.exc import IntegrityError, OperationalError

from fangpin.v1 import approval_pb2, approval_pb2_grpc, common_pb2
from fangpin_approval.adapters.repository import (
    CASE_KEYSET,
    REGISTER_KEYSET,
    RegisterRepository,
    action_values,
    case_row,
    case_timeline,
    case_values,
    counts,
    list_cases,
    list_register,
    open_case_id,
    overdue_on,
    register_history,
)
from fangpin_approval.domain.actors import Actor, Level
from fangpin_approval.domain.case import Case, CaseStatus
from fangpin_approval.domain.codes import EliminationMode, RegisterStatus
from fangpin_approval.domain.errors import Conflict, InvalidTransition, PermissionDenied
from fangpin_approval.domain.procedure import FlowKind, Step
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext, NotFound
from fangpin_kit.clock import china_date
from fangpin_kit.db import Database
from fangpin_kit.logging import get_logger
from fangpin_kit.paging import PagingError

log = get_logger("fangpin.approval.grpc")

T = TypeVar("T")


class FieldError(ValueError):
    """A request field that cannot be used; the message starts with the field's path."""


def _actor(message: approval_pb2.Actor, path: str = "actor") -> Actor:
    if not message.id:
        raise FieldError(f"{path}.id: required")
    if not message.name:
        raise FieldError(f"{path}.name: required")
    try:
        level = Level(message.level)
    except ValueError:
        levels = ", ".join(level.value for level in Level)
        raise FieldError(f"{path}.level: one of {levels}, not {message.level!r}") from None
    try:
        return Actor(message.id, message.name, message.role, level, message.region)
    except ValueError as err:
        raise FieldError(f"{path}.region: {err}") from None


def _choice(value: str, allowed: Sequence[str], path: str) -> str:
    if value and value not in allowed:
        raise FieldError(f"{path}: one of {', '.join(allowed)}, not {value!r}")
    return value


def _iso(value: dt.date | dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def _actor_message(record: dict[str, Any] | None) -> approval_pb2.Actor | None:
    if not record:
        return None
    return approval_pb2.Actor(
        id=record["id"],
        name=record["name"],
        role=record.get("role", ""),
        level=record["level"],
        region=record["region"],
    )


def _timeline_entry(a: Mapping[str, Any]) -> approval_pb2.TimelineEntry:
    return approval_pb2.TimelineEntry(
        seq=a["seq"],
        at=a["at"].isoformat(),
        action=a["action"],
        step=a["step"],
        to_step=a["to_step"],
        actor=_actor_message(a["actor"]),
        co_signers=[_actor_message(s) for s in a["co_signers"]],
        comment=a["comment"],
        attachments=a["attachments"],
        reason=a["reason"] or "",
        details_json=json.dumps(a["details"], ensure_ascii=False) if a["details"] else "",
    )


_DUE_COLUMNS = (
    ("verification", "due_verification"),
    ("approval", "due_approval"),
    ("notice_last_day", "due_notice_last_day"),
    ("green_channel", "due_green_channel"),
    ("system_entry", "due_system_entry"),
    ("plan", "due_plan"),
)


def case_message(
    c: Mapping[str, Any], today: dt.date, timeline: Sequence[Mapping[str, Any]] = ()
) -> approval_pb2.Case:
    """The wire form of a case from its columns by name (a queue has no timeline, measures).

    Only fields with a value are passed: a queue builds a hundred of these per call, and the
    message constructor's cost grows with the arguments it is given.
    """
    fields: dict[str, Any] = {
        "case_id": c["case_id"],
        "kind": c["kind"],
        "household_id": c["household_id"],
        "region": common_pb2.Region(county=c["county"], town=c["town"], village=c["village"]),
        "step": c["step"],
        "status": c["status"],
        "flow_version": c["flow_version"],
        "due": {name: c[column].isoformat() for name, column in _DUE_COLUMNS if c[column]},
        "version": c["version"],
        "opened_at": c["opened_at"].isoformat(),
        "clue_on": c["clue_on"].isoformat(),
        "ruleset": c["ruleset"],
        "green_channel_state": c["green_state"],
    }
    optional = {
        "category": c["category"],
        "risk_types": c["risk_types"],
        "excluded_by": c["exclusions"],
        "green_channel": c["green_state"] == "open",
        "overdue": overdue_on(c, today),
        "elimination_mode": c["elimination_mode"],
        "measures": c.get("measures"),
        "special_reason": c["special_reason"],
        "notice_published_on": c["notice_published_on"],
        "decided_at": c["decided_at"],
        "system_entry_on": c["system_entry_on"],
    }
    for name, value in optional.items():
        if value:
            fields[name] = value.isoformat() if isinstance(value, dt.date) else value
    if timeline:
        fields["timeline"] = [_timeline_entry(a) for a in timeline]
    return approval_pb2.Case(**fields)


def register_message(
    row: Any, history: Sequence[Any] = (), open_case_id: str = ""
) -> approval_pb2.RegisterEntry:
    return approval_pb2.RegisterEntry(
        household_id=row.household_id,
        region=common_pb2.Region(county=row.county, town=row.town, village=row.village),
        status=row.status,
        category=row.category or "",
        risk_types=row.risk_types,
        identified_on=row.identified_on.isoformat(),
        green_channel=row.green_channel,
        eliminated_on=_iso(row.eliminated_on),
        elimination_mode=row.elimination_mode or "",
        held_reason=row.held_reason or "",
        history=[
            approval_pb2.RegisterChange(
                on=h.on.isoformat(),
                from_status=h.from_status or "",
                to_status=h.to_status,
                case_id=h.case_id or "",
                reason=h.reason,
                actor_id=h.actor_id or "",
            )
            for h in history
        ],
        open_case_id=open_case_id,
    )


class ApprovalServicer(approval_pb2_grpc.ApprovalServiceServicer):
    def __init__(self, database: Database, ctx: ApprovalContext) -> None:
        self.database = database
        self.ctx = ctx

    # ----------------------------------------------------------------- plumbing

    async def _guarded(
        self, context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Run `call`, turning domain refusals into the documented status codes."""
        try:
            return await call()
        except (FieldError, PagingError) as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except PermissionDenied as err:
            log.warning("action refused", reason=err.reason)
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, err.reason)
        except Conflict as err:
            await _abort(context, grpc.StatusCode.ABORTED, str(err))
        except InvalidTransition as err:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(err))
        except NotFound as err:
            await _abort(context, grpc.StatusCode.NOT_FOUND, f"{err}: not found")
        except IntegrityError:
            await _abort(
                context,
                grpc.StatusCode.ABORTED,
                "the case or household was changed at the same time by someone else; try again",
            )
        except OperationalError as err:
            log.warning("store busy", error=type(err.orig).__name__)
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "the store is busy; try again")

    async def _case_reply(self, case_id: str) -> approval_pb2.Case:
        async with self.database.sessions() as session:
            row = await case_row(session, case_id)
            if row is None:
                raise NotFound(f"case {case_id}")
            timeline = await case_timeline(session, case_id)
        return case_message(
            row._asdict(), china_date(self.ctx.clock()), [a._asdict() for a in timeline]
        )

    def _acted(self, case: Case) -> approval_pb2.Case:
        """The reply to an action: the case as just saved (no second read)."""
        return case_message(
            case_values(case),
            china_date(self.ctx.clock()),
            [action_values(a) for a in case.history],
        )

    async def _text_action(
        self,
        action: str,
        request: approval_pb2.CaseActionRequest,
        context: grpc.aio.ServicerContext,
        *,
        text_required: str = "",
    ) -> approval_pb2.Case:
        async def call() -> approval_pb2.Case:
            if not request.case_id:
                raise FieldError("case_id: required")
            actor = _actor(request.actor)
            if text_required and not request.comment.strip():
                raise FieldError(f"comment: {text_required}")
            async with self.database.uow() as uow:
                case = await handlers.take_action(
                    uow,
                    self.ctx,
                    action,
                    case_id=request.case_id,
                    actor=actor,
                    text=request.comment,
                    attachments=list(request.attachments),
                    expected_version=request.expected_version,
                )
                await uow.commit()
            return self._acted(case)

        return await self._guarded(context, call)

    # ------------------------------------------------------------------- queries

    async def ListCases(
        self, request: approval_pb2.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.ListCasesResponse:
        async def call() -> approval_pb2.ListCasesResponse:
            _choice(request.step, [s.value for s in Step], "step")
            _choice(request.status, [s.value for s in CaseStatus], "status")
            _choice(request.kind, [k.value for k in FlowKind], "kind")
            filters = {
                "region": request.region,
                "step": request.step,
                "status": request.status,
                "kind": request.kind,
                "household_id": request.household_id,
                "overdue_only": request.overdue_only,
            }
            page = CASE_KEYSET.request(
                size=request.limit,
                token=request.page_token,
                descending=not request.oldest_first,
                filters=filters,
                size_field="limit",
            )
            today = china_date(self.ctx.clock())
            try:
                async with self.database.sessions() as session:
                    found = await list_cases(session, today=today, page=page, **filters)
            except ValueError as err:
                raise FieldError(str(err)) from None
            return approval_pb2.ListCasesResponse(
                cases=[case_message(r._asdict(), today) for r in found.rows],
                next_page_token=found.next_page_token,
            )

        return await self._guarded(context, call)

    async def GetCase(
        self, request: approval_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        async def call() -> approval_pb2.Case:
            if not request.case_id:
                raise FieldError("case_id: required")
            return await self._case_reply(request.case_id)

        return await self._guarded(context, call)

    async def GetStats(
        self, request: common_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatsResponse:
        async with self.database.sessions() as session:
            return common_pb2.StatsResponse(service="approval", counts=await counts(session))

    async def GetRegisterEntry(
        self, request: approval_pb2.GetRegisterEntryRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.RegisterEntry:
        async def call() -> approval_pb2.RegisterEntry:
            if not request.household_id:
                raise FieldError("household_id: required")
            async with self.database.sessions() as session:
                row = await RegisterRepository(session).row(request.household_id)
                open_case = await open_case_id(session, request.household_id)
                if row is None:
                    detail = f"; open case {open_case}" if open_case else ""
                    raise NotFound(f"household {request.household_id} in the register{detail}")
                history = await register_history(session, request.household_id)
            return register_message(row, history, open_case or "")

        return await self._guarded(context, call)

    async def ListRegister(
        self, request: approval_pb2.ListRegisterRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.ListRegisterResponse:
        async def call() -> approval_pb2.ListRegisterResponse:
            _choice(request.status, [s.value for s in RegisterStatus], "status")
            filters = {"region": request.region, "status": request.status}
            page = REGISTER_KEYSET.request(
                size=request.limit,
                token=request.page_token,
                descending=not request.oldest_first,
                filters=filters,
                size_field="limit",
            )
            try:
                async with self.database.sessions() as session:
                    found = await list_register(session, page=page, **filters)
            except ValueError as err:
                raise FieldError(str(err)) from None
            return approval_pb2.ListRegisterResponse(
                entries=[register_message(r) for r in found.rows],
                next_page_token=found.next_page_token,
            )

        return await self._guarded(context, call)

    async def ExportNotice(
        self, request: approval_pb2.ExportNoticeRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.NoticeText:
        async def call() -> approval_pb2.NoticeText:
            village = request.village
            if not (village.isascii() and village.isdigit() and len(village) == 12):
                raise FieldError("village: a 12-digit village code")
            published_on = None
            if request.published_on:
                try:
                    published_on = dt.date.fromisoformat(request.published_on)
                except ValueError:
                    raise FieldError("published_on: not YYYY-MM-DD") from None
            async with self.database.sessions() as session:
                try:
                    notice = await handlers.notice_text(
                        session,
                        self.ctx,
                        village=village,
                        village_name=request.village_name or "本村",
                        published_on=published_on,
                        full_names=request.full_names,
                    )
                except ValueError as err:
                    raise FieldError(f"village_name: {err}") from None
            return approval_pb2.NoticeText(
                village=notice.village,
                published_on=notice.published_on.isoformat(),
                last_day=notice.last_day.isoformat(),
                case_ids=notice.case_ids,
                text=notice.text,
            )

        return await self._guarded(context, call)

    async def VerifyAudit(
        self, request: approval_pb2.VerifyAuditRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.AuditVerification:
        async with self.database.sessions() as session:
            result = await handlers.verify_audit(session)
        v = result.verification
        if not v.ok:
            log.error("audit ledger broken", problem=str(v.problem), seq=v.seq)
        return approval_pb2.AuditVerification(
            ok=v.ok,
            checked=v.checked,
            problem=v.problem.value if v.problem else "",
            seq=v.seq or 0,
            message=v.message,
            head=result.head,
        )

    # ------------------------------------------------------------------- actions

    async def SignStep(
        self, request: approval_pb2.SignStepRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        async def call() -> approval_pb2.Case:
            if not request.case_id:
                raise FieldError("case_id: required")
            step = (
                Step(_choice(request.step, [s.value for s in Step], "step"))
                if request.step
                else None
            )
            actor = _actor(request.actor)
            co_signers = [_actor(c, f"co_signers[{i}]") for i, c in enumerate(request.co_signers)]
            async with self.database.uow() as uow:
                case = await handlers.sign_step(
                    uow,
                    self.ctx,
                    case_id=request.case_id,
                    step=step,
                    actor=actor,
                    expected_version=request.expected_version,
                    comment=request.comment,
                    attachments=list(request.attachments),
                    co_signers=co_signers,
                    special_reason=request.special_reason,
                )
                await uow.commit()
            return self._acted(case)

        return await self._guarded(context, call)

    async def PublishNotice(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action("publish_notice", request, context)

    async def Object(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action(
            "object", request, context, text_required="the objection's content is required"
        )

    async def ReturnCase(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action(
            "return", request, context, text_required="the reason for the return is required"
        )

    async def RejectCase(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action(
            "reject", request, context, text_required="the reason for the rejection is required"
        )

    async def WithdrawCase(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action(
            "withdraw", request, context, text_required="the reason for withdrawing is required"
        )

    async def OpenGreenChannel(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action(
            "confirm_urgent", request, context, text_required="state the urgent hardship"
        )

    async def RecordSystemEntry(
        self, request: approval_pb2.CaseActionRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.Case:
        return await self._text_action("record_system_entry", request, context)

    async def NominateElimination(
        self,
        request: approval_pb2.NominateEliminationRequest,
        context: grpc.aio.ServicerContext,
    ) -> approval_pb2.Case:
        async def call() -> approval_pb2.Case:
            if not request.household_id:
                raise FieldError("household_id: required")
            actor = _actor(request.actor)
            modes = [m.value for m in EliminationMode]
            if not request.mode:
                raise FieldError(f"mode: required, one of {', '.join(modes)}")
            mode = EliminationMode(_choice(request.mode, modes, "mode"))
            async with self.database.uow() as uow:
                case = await handlers.nominate_elimination(
                    uow,
                    self.ctx,
                    household_id=request.household_id,
                    actor=actor,
                    mode=mode,
                    measures=list(request.measures),
                    comment=request.comment,
                    attachments=list(request.attachments),
                )
                await uow.commit()
            return self._acted(case)

        return await self._guarded(context, call)


async def _abort(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str
) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover
