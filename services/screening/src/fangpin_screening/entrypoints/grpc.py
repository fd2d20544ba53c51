"""Screening's gRPC servicer: screen a record, decision history, elimination checks, county
re-screens, scale-risk alerts and counts."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Final, NoReturn

import grpc

from fangpin.v1 import common_pb2, screening_pb2, screening_pb2_grpc
from fangpin_contracts.household import RecordError, decode_household
from fangpin_kit.clock import china_date
from fangpin_kit.db import Database
from fangpin_kit.masking import mask_text
from fangpin_kit.paging import PagingError
from fangpin_kit.parameters import ParameterError
from fangpin_screening.adapters.orm import DecisionRow, RescreenRunRow, ScaleAlertRow
from fangpin_screening.adapters.repository import (
    ALERT_KEYSET,
    DECISION_KEYSET,
    DecisionRepository,
    ScaleAlertRepository,
    counts,
)
from fangpin_screening.domain.engine import Decision, decide
from fangpin_screening.service_layer import handlers
from fangpin_screening.service_layer.handlers import (
    EliminationOutcome,
    InvalidInput,
    NotFound,
    NotMonitored,
    ScreeningContext,
)
from fangpin_screening.service_layer.rescreen import Busy, Rescreener

_PROVINCE: Final = re.compile(r"^[0-9]{2}$")


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, text: str) -> NoReturn:
    await context.abort(code, mask_text(text))
    raise AssertionError("abort raises")  # pragma: no cover


def _day(value: str, field: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a YYYY-MM-DD date") from None


def _trace(entries: list[dict[str, Any]]) -> list[screening_pb2.RuleTrace]:
    return [
        screening_pb2.RuleTrace(
            rule=e["rule"],
            hit=bool(e["hit"]),
            values_json=json.dumps(e.get("values", {}), ensure_ascii=False),
        )
        for e in entries
    ]


def decision_message(body: dict[str, Any], **extra: Any) -> screening_pb2.Decision:
    """A CONTRACT section 3 decision as the proto message (category null -> empty)."""
    return screening_pb2.Decision(
        household_id=body["household_id"],
        as_of=body["as_of"],
        ruleset=body["ruleset"],
        in_scope=body["in_scope"],
        eligible=body["eligible"],
        category=body["category"] or "",
        risk_types=body["risk_types"],
        excluded_by=body["excluded_by"],
        needs_appraisal=body["needs_appraisal"],
        referrals=body["referrals"],
        per_capita=body["per_capita"],
        adjusted_per_capita=body["adjusted_per_capita"],
        threshold=body["threshold"],
        trace=_trace(body["trace"]),
        **extra,
    )


def _stored(row: DecisionRow) -> screening_pb2.Decision:
    reasons = (row.rollback_check or {}).get("reasons", []) if row.rollback else []
    return decision_message(
        row.decision,
        decided_at=row.decided_at.isoformat(),
        reason=row.reason,
        decision_id=row.decision_id,
        clue_id=row.clue_id or "",
        rollback=row.rollback,
        rollback_reasons=reasons,
    )


def run_message(row: RescreenRunRow, started: bool = False) -> screening_pb2.RescreenStatus:
    return screening_pb2.RescreenStatus(
        run_id=row.run_id,
        ruleset=row.ruleset,
        as_of=row.as_of.isoformat(),
        trigger=row.trigger,
        status=row.status,
        total=row.total,
        done=row.done,
        changed=row.changed,
        rejected=row.rejected,
        started_at=row.started_at.isoformat(),
        finished_at=row.finished_at.isoformat() if row.finished_at else "",
        error=row.error or "",
        started=started,
    )


def _alert_message(row: ScaleAlertRow) -> screening_pb2.ScaleRiskAlert:
    return screening_pb2.ScaleRiskAlert(
        alert_id=row.alert_id,
        village=row.village,
        indicator=row.indicator,
        warning_kind=row.warning_kind,
        value=row.value,
        limit=row.limit,
        details_json=json.dumps(row.details, ensure_ascii=False),
        opened_on=row.opened_on.isoformat(),
        cleared_on=row.cleared_on.isoformat() if row.cleared_on else "",
        ruleset=row.ruleset,
    )


def elimination_message(outcome: EliminationOutcome) -> screening_pb2.EliminationCheck:
    monitoring = outcome.monitoring
    message = screening_pb2.EliminationCheck(
        household_id=outcome.household_id,
        as_of=outcome.as_of.isoformat(),
        ruleset=outcome.ruleset,
        status=outcome.status,
        monitoring_status=monitoring.status,
        identified_risks=list(monitoring.risk_types),
        income=[
            screening_pb2.QuarterIncome(quarter=f"{q.year}Q{q.quarter}", per_capita=q.per_capita)
            for q in outcome.income
        ],
        measures_implemented=outcome.measures_implemented,
        eliminated_on=monitoring.eliminated_on.isoformat() if monitoring.eliminated_on else "",
    )
    if outcome.check is not None:
        message.mode = outcome.check.mode or ""
        message.failing.extend(outcome.check.failing)
        message.values_json = json.dumps(dict(outcome.check.values), ensure_ascii=False)
    if outcome.rollback is not None:
        message.rollback = outcome.rollback.rollback
        message.rollback_reasons.extend(outcome.rollback.reasons)
        message.values_json = json.dumps(dict(outcome.rollback.values), ensure_ascii=False)
    return message


class ScreeningServicer(screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, database: Database, ctx: ScreeningContext, rescreener: Rescreener) -> None:
        self.database = database
        self.ctx = ctx
        self.rescreener = rescreener

    def _today(self) -> date:
        return china_date(self.ctx.clock())

    async def Screen(
        self, request: screening_pb2.ScreenRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.Decision:
        try:
            as_of = _day(request.as_of, "as_of", self._today())
            if request.province and not _PROVINCE.match(request.province):
                raise InvalidInput("province", "two digits")
            if not request.household_json.strip():
                raise InvalidInput("household_json", "required")
            household = decode_household(request.household_json)
            ruleset = self.ctx.rules.on(as_of, request.province or None)
            decision: Decision = decide(household, ruleset)
        except InvalidInput as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except RecordError as err:
            text = str(err) if err.path else f"household_json: {err.reason}"
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, text)
        except ParameterError as err:
            text = f"as_of: {handlers.no_ruleset(as_of, err)}"
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, text)
        return decision_message(
            decision.to_dict(), reason="request", decided_at=self.ctx.clock().isoformat()
        )

    async def ListDecisions(
        self, request: screening_pb2.ListDecisionsRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.ListDecisionsResponse:
        try:
            if not request.household_id:
                raise InvalidInput("household_id", "required")
            page = DECISION_KEYSET.request(
                size=request.limit,
                token=request.page_token,
                descending=not request.oldest_first,
                filters={"household_id": request.household_id},
                default_size=20,
                size_field="limit",
            )
        except (InvalidInput, PagingError) as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        async with self.database.sessions() as session:
            found = await DecisionRepository(session).history(request.household_id, page)
        return screening_pb2.ListDecisionsResponse(
            decisions=[_stored(r) for r in found.rows], next_page_token=found.next_page_token
        )

    async def GetStats(
        self, request: common_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatsResponse:
        async with self.database.sessions() as session:
            return common_pb2.StatsResponse(service="screening", counts=await counts(session))

    async def CheckElimination(
        self, request: screening_pb2.CheckEliminationRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.EliminationCheck:
        try:
            as_of = _day(request.as_of, "as_of", self._today())
            async with self.database.uow() as uow:
                outcome = await handlers.elimination_check(
                    uow, self.ctx, request.household_id, as_of
                )
        except InvalidInput as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except NotFound as err:
            await _abort(context, grpc.StatusCode.NOT_FOUND, str(err))
        except NotMonitored as err:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(err))
        return elimination_message(outcome)

    async def StartRescreen(
        self, request: screening_pb2.StartRescreenRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.RescreenStatus:
        try:
            as_of = _day(request.as_of, "as_of", self._today())
            row, started = await self.rescreener.start(as_of, "request")
        except InvalidInput as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except Busy as err:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, str(err))
        return run_message(row, started)

    async def GetRescreenStatus(
        self, request: screening_pb2.GetRescreenStatusRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.RescreenStatus:
        row = await self.rescreener.status(request.run_id)
        if row is None:
            what = f"re-screen run {request.run_id}" if request.run_id else "no re-screen run yet"
            await _abort(context, grpc.StatusCode.NOT_FOUND, what)
        return run_message(row)

    async def ListScaleRiskAlerts(
        self, request: screening_pb2.ListScaleRiskAlertsRequest, context: grpc.aio.ServicerContext
    ) -> screening_pb2.ListScaleRiskAlertsResponse:
        try:
            if request.village and not request.village.isdigit():
                raise InvalidInput("village", "a region code (digits)")
            page = ALERT_KEYSET.request(
                size=request.limit,
                token=request.page_token,
                descending=not request.oldest_first,
                filters={"village": request.village, "active_only": request.active_only},
                size_field="limit",
            )
        except (InvalidInput, PagingError) as err:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        async with self.database.sessions() as session:
            found = await ScaleAlertRepository(session).list(
                request.village, request.active_only, page
            )
        return screening_pb2.ListScaleRiskAlertsResponse(
            alerts=[_alert_message(r) for r in found.rows], next_page_token=found.next_page_token
        )
