"""Intake's gRPC servicer: registry import, household lookup, declarations, clues."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import grpc

from fangpin.v1 import common_pb2, intake_pb2, intake_pb2_grpc
from fangpin_contracts.household import RecordError
from fangpin_intake.adapters.repository import (
    CLUE_KEYSET,
    ClueRepository,
    HouseholdRepository,
    counts,
)
from fangpin_intake.domain.clues import CLUE_SOURCES, Clue
from fangpin_intake.service_layer import handlers
from fangpin_intake.service_layer.handlers import IntakeContext
from fangpin_kit.clock import china_date
from fangpin_kit.db import Database
from fangpin_kit.paging import PagingError

IMPORT_BATCH = 200
EXPORT_PAGE = 1000


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, database: Database, ctx: IntakeContext) -> None:
        self.database = database
        self.ctx = ctx

    async def ImportHouseholds(
        self,
        request_iterator: AsyncIterator[intake_pb2.HouseholdRecord],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[intake_pb2.ImportOutcome]:
        batch: list[intake_pb2.HouseholdRecord] = []
        async for record in request_iterator:
            batch.append(record)
            if len(batch) >= IMPORT_BATCH:
                for outcome in await self._import_batch(batch):
                    yield outcome
                batch = []
        if batch:
            for outcome in await self._import_batch(batch):
                yield outcome

    async def _import_batch(
        self, batch: list[intake_pb2.HouseholdRecord]
    ) -> list[intake_pb2.ImportOutcome]:
        """One transaction per batch; each record in its own savepoint, so a bad one is skipped
        whole while the good ones around it are written."""
        outcomes = []
        async with self.database.uow() as uow:
            for item in batch:
                household_id = ""
                try:
                    obj = json.loads(item.json)
                    if isinstance(obj, dict):
                        household_id = str(obj.get("household_id") or "")
                    household_id, status = await handlers.import_household(uow, self.ctx, obj)
                    outcomes.append(
                        intake_pb2.ImportOutcome(
                            line=item.line, household_id=household_id, status=status
                        )
                    )
                except json.JSONDecodeError as err:
                    outcomes.append(_rejected(item.line, household_id, f"invalid JSON: {err}"))
                except RecordError as err:
                    outcomes.append(_rejected(item.line, household_id, str(err)))
            await uow.commit()
        return outcomes

    async def GetHousehold(
        self, request: intake_pb2.GetHouseholdRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.HouseholdRecord:
        async with self.database.sessions() as session:
            row = await HouseholdRepository(session).get(request.household_id)
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"household {request.household_id}")
        return intake_pb2.HouseholdRecord(json=json.dumps(row.record, ensure_ascii=False))

    async def ExportHouseholds(
        self, request: intake_pb2.ExportHouseholdsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[intake_pb2.HouseholdRecord]:
        after = request.after
        line = 0
        while True:
            async with self.database.sessions() as session:
                page = await HouseholdRepository(session).page(
                    after=after, region_prefix=request.village, limit=EXPORT_PAGE
                )
            for row in page:
                line += 1
                yield intake_pb2.HouseholdRecord(
                    line=line, json=json.dumps(row.record, ensure_ascii=False)
                )
            if len(page) < EXPORT_PAGE:
                return
            after = page[-1].household_id

    async def DeclareRisk(
        self, request: intake_pb2.DeclareRiskRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Clue:
        source = request.source or "self_declaration"
        if source not in CLUE_SOURCES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"source: one of {', '.join(CLUE_SOURCES)}",
            )
        if not request.kind:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "kind: required")
        try:
            observed = (
                date.fromisoformat(request.observed_at)
                if request.observed_at
                else china_date(self.ctx.clock())
            )
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "observed_at: not YYYY-MM-DD")
        async with self.database.uow() as uow:
            try:
                clue = await handlers.declare_risk(
                    uow,
                    self.ctx,
                    household_id=request.household_id,
                    kind=request.kind,
                    source=source,
                    observed_at=observed,
                )
            except RecordError as err:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(err))
            await uow.commit()
        return _clue_message(clue)

    async def ListClues(
        self, request: intake_pb2.ListCluesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ListCluesResponse:
        try:
            page = CLUE_KEYSET.request(
                size=request.limit,
                token=request.page_token,
                descending=not request.oldest_first,
                filters={"household_id": request.household_id, "status": request.status},
                size_field="limit",
            )
        except PagingError as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        async with self.database.sessions() as session:
            found = await ClueRepository(session).list(page, request.household_id, request.status)
        return intake_pb2.ListCluesResponse(
            clues=[_clue_message(c) for c in found.rows], next_page_token=found.next_page_token
        )

    async def GetStats(
        self, request: common_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatsResponse:
        async with self.database.sessions() as session:
            return common_pb2.StatsResponse(service="intake", counts=await counts(session))


def _rejected(line: int, household_id: str, error: str) -> intake_pb2.ImportOutcome:
    return intake_pb2.ImportOutcome(
        line=line, household_id=household_id, status="rejected", error=error
    )


def _clue_message(clue: Clue) -> intake_pb2.Clue:
    return intake_pb2.Clue(
        clue_id=clue.clue_id,
        household_id=clue.household_id,
        source=clue.source,
        dept=clue.dept or "",
        kind=clue.kind,
        status=clue.status,
        observed_at=clue.observed_at.isoformat(),
        registered_at=clue.registered_at.isoformat(),
        verification_due=clue.verification_due.isoformat(),
        warnings=clue.warnings,
    )
