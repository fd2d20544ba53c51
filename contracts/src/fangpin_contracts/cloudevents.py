"""The CloudEvents 1.0 structured-mode envelope every bus message uses (CONTRACT section 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fangpin_contracts.subjects import event_type

MSG_ID_HEADER = "Nats-Msg-Id"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 JSON document; `county` and `correlationid` are extensions."""

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    county: str
    correlationid: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def domain(self) -> str:
        """`clue` for `cn.fangpin.clue.accepted.v1`."""
        return self.type.split(".")[2]


def new_event(
    *,
    domain: str,
    event: str,
    county: str,
    source: str,
    data: BaseModel | dict[str, Any],
    subject: str | None = None,
    event_id: str | None = None,
    correlation_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Build an envelope; `event_id` should be deterministic when the fact can be re-emitted."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type(domain, event),
        time=time or datetime.now(UTC),
        subject=subject,
        county=county,
        correlationid=correlation_id,
        data=payload,
    )


def headers_for(event: CloudEvent) -> dict[str, str]:
    """NATS headers of an event: the dedupe id (`Nats-Msg-Id` = CloudEvents id) and correlation."""
    headers = {MSG_ID_HEADER: event.id, "ce-type": event.type}
    if event.correlationid:
        headers["x-correlation-id"] = event.correlationid
    return headers
