"""Intake's bus subscriptions: department warnings in, screening decisions close clues."""

from __future__ import annotations

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_intake.service_layer import handlers
from fangpin_intake.service_layer.handlers import IntakeContext
from fangpin_kit.bus import EventBus
from fangpin_kit.db import UnitOfWork


def subscribe(bus: EventBus, ctx: IntakeContext) -> None:
    async def on_warning(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.receive_warning(uow, ctx, event)

    async def on_decision(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.close_clue(uow, event)

    bus.subscribe("warnings", subject(bus.county, "warning", "*"), on_warning)
    bus.subscribe("decisions", subject(bus.county, "screening", "decided"), on_decision)
