"""Screening's bus subscriptions: clues to decide, case decisions, income, measures."""

from __future__ import annotations

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import EventBus
from fangpin_kit.db import UnitOfWork
from fangpin_screening.service_layer import handlers
from fangpin_screening.service_layer.handlers import ScreeningContext


def subscribe(bus: EventBus, ctx: ScreeningContext) -> None:
    async def on_clue(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.on_clue_accepted(uow, ctx, event)

    async def on_case(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.on_case_decided(uow, ctx, event)

    async def on_income(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.on_income_recorded(uow, ctx, event)

    async def on_measure(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.on_measure_event(uow, ctx, event)

    bus.subscribe("clues", subject(bus.county, "clue", "accepted"), on_clue)
    bus.subscribe("cases", subject(bus.county, "case", "decided"), on_case)
    bus.subscribe("income", subject(bus.county, "followup", "income_recorded"), on_income)
    bus.subscribe("measures", subject(bus.county, "measure", ">"), on_measure)
