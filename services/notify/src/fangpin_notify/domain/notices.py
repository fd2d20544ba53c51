"""Notices: a rendered message addressed to one recipient endpoint, with deterministic ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.subscriptions import Recipient
from fangpin_notify.domain.templates import Message

# Fixed namespace so the same dedupe key always yields the same notice id, on any replica.
NOTICE_NAMESPACE = uuid.UUID("3f1c1d2e-8f5b-5c3a-9d1e-6a2b7c4d5e6f")


def event_dedupe_key(event_id: str, recipient_id: str) -> str:
    """One notice per recipient per incoming event, however often the event is redelivered."""
    return f"{event_id}|{recipient_id}"


def notice_id_for(dedupe_key: str, channel: ChannelKind) -> str:
    return str(uuid.uuid5(NOTICE_NAMESPACE, f"{dedupe_key}|{ChannelKind(channel).value}"))


@dataclass(frozen=True)
class Notice:
    """通知: what one channel sends to one address. The address is kept out of the repr."""

    notice_id: str
    dedupe_key: str
    kind: str
    recipient_id: str
    channel: ChannelKind
    address: str = field(repr=False)
    subject: str
    body: str
    locale: str
    created_at: datetime
    household_id: str | None = None
    source_event: str | None = None


def compose_notices(
    dedupe_key: str,
    recipient: Recipient,
    message: Message,
    *,
    created_at: datetime,
    household_id: str | None = None,
    source_event: str | None = None,
) -> list[Notice]:
    """One notice per endpoint of the recipient, each with an id derived from the dedupe key."""
    return [
        Notice(
            notice_id=notice_id_for(dedupe_key, endpoint.channel),
            dedupe_key=dedupe_key,
            kind=message.kind,
            recipient_id=recipient.recipient_id,
            channel=endpoint.channel,
            address=endpoint.address,
            subject=message.subject,
            body=message.body,
            locale=message.locale,
            created_at=created_at,
            household_id=household_id,
            source_event=source_event,
        )
        for endpoint in recipient.endpoints
    ]
