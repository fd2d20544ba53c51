"""Assistance's gRPC servicer: plans, measures, contact cadres, visits, incomes and tasks."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from fangpin.v1 import assistance_pb2, assistance_pb2_grpc, common_pb2
from fangpin_assistance.adapters.orm import TaskRow
from fangpin_assistance.adapters.repository import (
    MEASURE_KEYSET,
    TASK_KEYSET,
    FollowUpRepository,
    PlanRepository,
    counts,
    list_measures,
    list_tasks,
    measure_from_row,
)
from fangpin_assistance.domain.codes import MeasureStatus
from fangpin_assistance.domain.measure import Measure
from fangpin_assistance.domain.plan import (
    UNWAIVABLE_RULES,
    MeasureSpec,
    PlanError,
    PlanRulesViolated,
    Rule,
)
from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext, InvalidInput, NotFound
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.paging import Keyset, PageRequest, PagingError

T = TypeVar("T")
WRITE_ATTEMPTS = 3
TASK_KINDS = ("plan_due", "visit", "income_collection", handlers.REPLACEMENT_TASK)
TASK_STATUSES = (handlers.OPEN, handlers.DONE, handlers.CANCELLED)


class AssistanceServicer(assistance_pb2_grpc.AssistanceServiceServicer):
    def __init__(self, database: Database, ctx: AssistanceContext) -> None:
        self.database = database
        self.ctx = ctx

    # -- plans -----------------------------------------------------------------------------

    async def GetPlan(
        self, request: assistance_pb2.GetPlanRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Plan:
        await _required(context, "household_id", request.household_id)
        return await self._plan_reply(context, request.household_id)

    async def ConfirmPlan(
        self, request: assistance_pb2.ConfirmPlanRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Plan:
        await _required(context, "household_id", request.household_id)
        waivers = await _waivers(context, request.waivers)
        await self._write(
            context,
            lambda uow: handlers.confirm_plan(
                uow, self.ctx, request.household_id, request.by, waivers
            ),
        )
        return await self._plan_reply(context, request.household_id)

    async def AdjustPlan(
        self, request: assistance_pb2.AdjustPlanRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Plan:
        await _required(context, "household_id", request.household_id)
        waivers = await _waivers(context, request.waivers)
        add = [
            MeasureSpec(item.measure_key, item.beneficiary or None, tuple(item.basis))
            for item in request.add
        ]
        for index, spec in enumerate(add):
            await _required(context, f"add[{index}].measure_key", spec.measure_key)
        if not add and not request.withdraw and not waivers:
            await _invalid(context, "add: nothing to add, withdraw or waive")
        await self._write(
            context,
            lambda uow: handlers.adjust_plan(
                uow,
                self.ctx,
                request.household_id,
                by=request.by,
                reason=request.reason,
                add=add,
                withdraw=list(request.withdraw),
                waivers=waivers,
            ),
        )
        return await self._plan_reply(context, request.household_id)

    async def ReplaceMeasure(
        self, request: assistance_pb2.ReplaceMeasureRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Plan:
        await _required(context, "measure_id", request.measure_id)
        waivers = await _waivers(context, request.waivers)
        spec = (
            MeasureSpec(request.measure_key, request.beneficiary or None)
            if request.measure_key
            else None
        )
        plan, _ = await self._write(
            context,
            lambda uow: handlers.replace_measure(
                uow,
                self.ctx,
                request.measure_id,
                by=request.by,
                reason=request.reason,
                spec=spec,
                waivers=waivers,
            ),
        )
        return await self._plan_reply(context, plan.household.household_id)

    async def AssignContactCadre(
        self,
        request: assistance_pb2.AssignContactCadreRequest,
        context: grpc.aio.ServicerContext,
    ) -> assistance_pb2.AssignContactCadreResponse:
        if bool(request.household_id) == bool(request.region):
            await _invalid(context, "household_id: give exactly one of household_id or region")
        if request.region:
            cadres = await self._write(
                context,
                lambda uow: handlers.assign_region_cadre(
                    uow, self.ctx, request.region, request.cadre_id, request.by
                ),
            )
            return assistance_pb2.AssignContactCadreResponse(region=request.region, cadres=cadres)
        plan = await self._write(
            context,
            lambda uow: handlers.assign_contact_cadre(
                uow, self.ctx, request.household_id, request.cadre_id
            ),
        )
        params = self.ctx.params_on(self.ctx.today())
        return assistance_pb2.AssignContactCadreResponse(
            household_id=request.household_id,
            cadres=plan.contact_cadres,
            violations=[v.name for v in plan.open_violations(self.ctx.catalog, params)],
        )

    # -- measures --------------------------------------------------------------------------

    async def ListMeasures(
        self, request: assistance_pb2.ListMeasuresRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.ListMeasuresResponse:
        if request.status and request.status not in {s.value for s in MeasureStatus}:
            allowed = ", ".join(s.value for s in MeasureStatus)
            await _invalid(context, f"status: one of {allowed}")
        filters = {
            "dept": request.dept,
            "status": request.status,
            "household_id": request.household_id,
            "overdue": request.overdue,
        }
        page = await _page(context, MEASURE_KEYSET, request, filters)
        async with self.database.sessions() as session:
            found = await list_measures(session, page=page, **filters)
        return assistance_pb2.ListMeasuresResponse(
            measures=[_measure_message(measure_from_row(row)) for row in found.rows],
            next_page_token=found.next_page_token,
        )

    # -- follow-up -------------------------------------------------------------------------

    async def RecordVisit(
        self, request: assistance_pb2.RecordVisitRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Visit:
        await _required(context, "household_id", request.household_id)
        visited_on = await _date(context, "visited_on", request.visited_on, self.ctx.today())
        row, closed = await self._write(
            context,
            lambda uow: handlers.record_household_visit(
                uow,
                self.ctx,
                request.household_id,
                visited_on=visited_on,
                cadre_id=request.cadre_id,
                mode=request.mode,
                note=request.note or None,
            ),
        )
        return assistance_pb2.Visit(
            household_id=row.household_id,
            visited_on=row.visited_on.isoformat(),
            cadre_id=row.cadre_id,
            mode=row.mode,
            closed_tasks=closed,
        )

    async def RecordIncome(
        self, request: assistance_pb2.RecordIncomeRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.Income:
        await _required(context, "household_id", request.household_id)
        await _required(context, "period_start", request.period_start)
        period_start = await _date(context, "period_start", request.period_start, None)
        figures = {
            name: getattr(request, name)
            for name in ("wage", "business", "property", "transfer", "production_costs")
        }
        for name, value in figures.items():
            if not math.isfinite(value):
                await _invalid(context, f"{name}: must be a finite number")
        row = await self._write(
            context,
            lambda uow: handlers.record_household_income(
                uow,
                self.ctx,
                request.household_id,
                period_start=period_start,
                figures=figures,
                members=request.members,
                method=request.method,
                collected_by=request.collected_by,
            ),
        )
        return assistance_pb2.Income(
            household_id=row.household_id,
            period_start=row.period_start.isoformat(),
            period_end=row.period_end.isoformat(),
            net=row.net,
            per_capita=round(row.net / row.members, 2),
            members=row.members,
            revision=row.revision,
        )

    async def ListTasks(
        self, request: assistance_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> assistance_pb2.ListTasksResponse:
        if request.kind and request.kind not in TASK_KINDS:
            await _invalid(context, f"kind: one of {', '.join(TASK_KINDS)}")
        if request.status and request.status not in TASK_STATUSES:
            await _invalid(context, f"status: one of {', '.join(TASK_STATUSES)}")
        filters = {
            "household_id": request.household_id,
            "kind": request.kind,
            "status": request.status,
            "cadre_id": request.cadre_id,
            "overdue": request.overdue,
        }
        page = await _page(context, TASK_KEYSET, request, filters)
        today = self.ctx.today()
        async with self.database.sessions() as session:
            found = await list_tasks(session, page=page, today=today, **filters)
        return assistance_pb2.ListTasksResponse(
            tasks=[_task_message(r, today) for r in found.rows],
            next_page_token=found.next_page_token,
        )

    async def GetStats(
        self, request: common_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatsResponse:
        async with self.database.sessions() as session:
            return common_pb2.StatsResponse(
                service="assistance", counts=await counts(session, self.ctx.today())
            )

    # -- plumbing --------------------------------------------------------------------------

    async def _write(
        self, context: grpc.aio.ServicerContext, work: Callable[[UnitOfWork], Awaitable[T]]
    ) -> T:
        """Run a use case in one unit of work; its errors become gRPC statuses.

        A plan changed meanwhile (a department reply, the sweep) makes the save fail on the
        version check: the whole command runs again on the fresh plan, a few times at most.
        """
        try:
            for _ in range(WRITE_ATTEMPTS - 1):
                try:
                    return await self._once(work)
                except StaleDataError:
                    continue
            return await self._once(work)
        except InvalidInput as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except NotFound as err:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(err))
        except PlanRulesViolated as err:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(err))
        except PlanError as err:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(err))
        except StaleDataError:
            await context.abort(
                grpc.StatusCode.ABORTED, "the plan kept changing meanwhile; try again"
            )
        raise AssertionError("unreachable: context.abort raises")

    async def _once(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self.database.uow() as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def _plan_reply(
        self, context: grpc.aio.ServicerContext, household_id: str
    ) -> assistance_pb2.Plan:
        async with self.database.sessions() as session:
            message = await plan_message(session, self.ctx, household_id)
        if message is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"household {household_id} has no plan")
        return message


async def plan_message(
    session: AsyncSession, ctx: AssistanceContext, household_id: str
) -> assistance_pb2.Plan | None:
    """The household's plan as the API shows it (live plan, else the latest stopped one)."""
    plans = PlanRepository(session)
    plan = await plans.latest_for_household(household_id)
    if plan is None:
        return None
    row = plans.row(plan)
    today = ctx.today()
    violations = plan.open_violations(ctx.catalog, ctx.params_on(today))
    replacements = await FollowUpRepository(session).replacements(plan.plan_id)
    return assistance_pb2.Plan(
        plan_id=plan.plan_id,
        household_id=plan.household.household_id,
        region=common_pb2.Region(county=row.county, town=row.town or "", village=row.village),
        status=plan.status.value,
        due=plan.due_on.isoformat(),
        measures=[_measure_message(m) for m in plan.measures],
        violations=[v.name for v in violations],
        case_id=row.case_id or "",
        contact_cadres=plan.contact_cadres,
        waivers=[
            assistance_pb2.Waiver(
                violation=w.violation, reason=w.reason, by=w.by, at=w.at.isoformat()
            )
            for w in plan.waivers.values()
        ],
        green_channel=plan.household.green_channel,
        category=plan.household.category.value if plan.household.category else "",
        risk_types=[r.value for r in plan.household.risk_types],
        identified_on=plan.identified_on.isoformat(),
        confirmed_at=_iso(plan.confirmed_at),
        confirmed_by=plan.confirmed_by or "",
        risk_eliminated_on=_iso(plan.risk_eliminated_on),
        stopped_at=_iso(plan.stopped_at),
        stop_reason=plan.stop_reason or "",
        has_implemented_measures=plan.has_implemented_measures,
        replacements=[
            assistance_pb2.ReplacementProposal(
                measure_id=r.measure_id,
                proposed_key=r.proposed_key or "",
                beneficiary=r.beneficiary or "",
                reason=r.reason,
                status=r.status,
                replaced_by=r.replaced_by or "",
            )
            for r in replacements
        ],
        overdue=plan.is_overdue(today),
    )


def _measure_message(measure: Measure) -> assistance_pb2.Measure:
    sub = measure.sub_measure
    dispatched = measure.status is not MeasureStatus.PROPOSED or measure.attempts > 0
    return assistance_pb2.Measure(
        measure_id=measure.measure_id,
        type=sub.measure_type,
        sub_measure=sub.code,
        dept=sub.department.value,
        status=measure.status.value,
        developmental=sub.developmental,
        dispatch_attempts=measure.attempts,
        household_id=measure.household_id,
        reason=measure.close_reason or "",
        plan_id=measure.plan_id,
        name_zh=sub.name_zh,
        beneficiary=measure.beneficiary or "",
        basis=list(measure.basis),
        dispatch_id=measure.dispatch_id if dispatched else "",
        reply_due=_iso(measure.reply_due_at),
        overdue=measure.status is MeasureStatus.DISPATCHED and measure.escalated_at is not None,
        implemented=measure.implemented,
        started_on=_iso(measure.started_on),
        term_end=_iso(measure.continues_until or measure.term_end),
        replaces=measure.replaces or "",
        replaced_by=measure.replaced_by or "",
        first_dispatched_at=_iso(measure.first_dispatched_at),
    )


def _task_message(row: TaskRow, today: date) -> assistance_pb2.Task:
    return assistance_pb2.Task(
        task_id=row.task_id,
        kind=row.kind,
        household_id=row.household_id,
        plan_id=row.plan_id,
        due=row.due_on.isoformat(),
        status=row.status,
        assignees=row.assignees,
        period_start=_iso(row.period_start),
        period_end=_iso(row.period_end),
        overdue=row.status == handlers.OPEN and row.due_on < today,
        details_json=json.dumps(row.details, ensure_ascii=False, sort_keys=True),
    )


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


async def _invalid(context: grpc.aio.ServicerContext, message: str) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


async def _required(context: grpc.aio.ServicerContext, path: str, value: str) -> None:
    if not value.strip():
        await _invalid(context, f"{path}: required")


async def _date(
    context: grpc.aio.ServicerContext, path: str, text: str, default: date | None
) -> date:
    if not text and default is not None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        await _invalid(context, f"{path}: not a date YYYY-MM-DD: {text!r}")
        raise


async def _page(
    context: grpc.aio.ServicerContext,
    keyset: Keyset,
    request: assistance_pb2.ListMeasuresRequest | assistance_pb2.ListTasksRequest,
    filters: Mapping[str, Any],
) -> PageRequest:
    """The page a list request asks for (`limit` is its size); INVALID_ARGUMENT names a bad
    size or token."""
    try:
        return keyset.request(
            size=request.limit, token=request.page_token, filters=filters, size_field="limit"
        )
    except PagingError as err:
        await _invalid(context, str(err))
        raise


async def _waivers(
    context: grpc.aio.ServicerContext, items: Sequence[assistance_pb2.WaiverInput]
) -> dict[str, str]:
    """`{violation: reason}`; an unknown rule or a missing reason names the entry."""
    rules = {rule.value for rule in Rule}
    waivers: dict[str, str] = {}
    for index, item in enumerate(items):
        rule = item.violation.partition(":")[0]
        if rule not in rules:
            await _invalid(context, f"waivers[{index}].violation: no such rule {item.violation!r}")
        if Rule(rule) in UNWAIVABLE_RULES:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"{rule} cannot be waived (一兜了之)"
            )
        if not item.reason.strip():
            await _invalid(context, f"waivers[{index}].reason: required")
        waivers[item.violation] = item.reason
    return waivers


__all__ = ["AssistanceServicer", "plan_message"]
