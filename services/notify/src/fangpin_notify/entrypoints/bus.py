"""Notify's bus subscriptions: the events that become notices, deadlines and their closing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import EventBus
from fangpin_kit.db import UnitOfWork
from fangpin_notify.service_layer import handlers
from fangpin_notify.service_layer.context import NotifyContext

UseCase = Callable[[UnitOfWork, NotifyContext, CloudEvent], Awaitable[None]]


def subscribe(bus: EventBus, ctx: NotifyContext) -> None:
    county = bus.county

    def bind(use_case: UseCase) -> Callable[[CloudEvent, UnitOfWork], Awaitable[None]]:
        async def handle(event: CloudEvent, uow: UnitOfWork) -> None:
            await use_case(uow, ctx, event)

        return handle

    bus.subscribe("clues", subject(county, "clue", "accepted"), bind(handlers.on_clue_accepted))
    bus.subscribe("cases", subject(county, "case", "*"), bind(handlers.on_case_event))
    bus.subscribe("plans", subject(county, "plan", "created"), bind(handlers.on_plan_created))
    bus.subscribe(
        "dispatches",
        subject(county, "measure", "dispatched", "*"),
        bind(handlers.on_measure_dispatched),
    )
    bus.subscribe(
        "measures_overdue",
        subject(county, "measure", "overdue"),
        bind(handlers.on_measure_overdue),
    )
    bus.subscribe("tasks", subject(county, "task", "due"), bind(handlers.on_task_due))
    bus.subscribe(
        "scale_risk", subject(county, "screening", "scale_risk"), bind(handlers.on_scale_risk)
    )
    bus.subscribe(
        "screening_decided",
        subject(county, "screening", "decided"),
        bind(handlers.on_screening_decided),
    )
    bus.subscribe(
        "incomes",
        subject(county, "followup", "income_recorded"),
        bind(handlers.on_income_recorded),
    )
