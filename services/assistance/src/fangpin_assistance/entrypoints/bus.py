"""Assistance's bus subscriptions: case decisions in, department replies in."""

from __future__ import annotations

from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import EventBus
from fangpin_kit.db import UnitOfWork


def subscribe(bus: EventBus, ctx: AssistanceContext) -> None:
    async def on_decision(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.decide_case(uow, ctx, event)

    async def on_reply(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.receive_reply(uow, ctx, event)

    bus.subscribe("decisions", subject(bus.county, "case", "decided"), on_decision)
    # One consumer for accepted/completed/rejected keeps a department's replies in order
    # (an `accepted` is applied before the `completed` that follows it); the wildcard also
    # matches our own `measure.overdue`, which the handler passes over.
    bus.subscribe("replies", subject(bus.county, "measure", "*"), on_reply)
