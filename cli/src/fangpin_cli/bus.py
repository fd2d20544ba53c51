"""Publishing to the county bus from the CLI (department warnings, demo data, replies)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import nats

from fangpin_cli.endpoints import endpoints_file
from fangpin_cli.today import now
from fangpin_contracts.cloudevents import headers_for, new_event
from fangpin_contracts.subjects import subject


def nats_url(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if os.environ.get("FANGPIN_NATS_URL"):
        return os.environ["FANGPIN_NATS_URL"]
    path = endpoints_file()
    if path.exists():
        return str(json.loads(path.read_text())["nats"])
    return "nats://127.0.0.1:4222"


async def publish_one(
    js: nats.js.JetStreamContext, county: str, item: dict[str, Any], source: str
) -> bool:
    """Publish one warning (`{"event_id": ..., "data": {...}}`); False when it was a duplicate."""
    data = item["data"]
    event = new_event(
        domain="warning",
        event=data["dept"],
        county=county,
        source=source,
        data=data,
        subject=data["household_id"],
        event_id=item.get("event_id"),
        time=now(),
    )
    ack = await js.publish(
        subject(county, "warning", data["dept"]),
        event.model_dump_json().encode(),
        headers=headers_for(event),
    )
    return not ack.duplicate


async def publish_warnings(
    url: str, county: str, warnings: Iterable[dict[str, Any]], source: str
) -> tuple[int, int]:
    """Publish warning payloads; returns (published, duplicates the stream dropped)."""
    nc = await nats.connect(url, connect_timeout=5)
    js = nc.jetstream()
    published = duplicates = 0
    try:
        for item in warnings:
            if await publish_one(js, county, item, source):
                published += 1
            else:
                duplicates += 1
    finally:
        await nc.close()
    return published, duplicates
