"""Approval's bus subscription: screening decisions open identification cases."""

from __future__ import annotations

from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import EventBus
from fangpin_kit.db import UnitOfWork


def subscribe(bus: EventBus, ctx: ApprovalContext) -> None:
    async def on_decision(event: CloudEvent, uow: UnitOfWork) -> None:
        await handlers.on_screening_decided(uow, ctx, event)

    bus.subscribe("decisions", subject(bus.county, "screening", "decided"), on_decision)
