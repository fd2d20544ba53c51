"""Outbox/log channel (default): the notice is written to the log and kept in the notify store."""

from __future__ import annotations

from typing import Any

import structlog

from fangpin_kit.masking import mask_sensitive
from fangpin_notify.domain.delivery import DeliveryResult
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice


class LogChannel:
    """Always delivers: the store's notice row is what `fangpin notify list` shows, and the
    log line (masked) is the trail. Useful where a county has no SMS or mail yet."""

    kind = ChannelKind.LOG

    def __init__(self, logger: Any | None = None) -> None:
        self._log = logger or structlog.get_logger("fangpin.notify.channel.log")

    async def send(self, notice: Notice) -> DeliveryResult:
        fields = mask_sensitive(
            {
                "notice_id": notice.notice_id,
                "kind": notice.kind,
                "recipient_id": notice.recipient_id,
                "locale": notice.locale,
                "subject": notice.subject,
                "body": notice.body,
                "household_id": notice.household_id,
            }
        )
        self._log.info("notice", **fields)
        return DeliveryResult.delivered("logged", provider_ref=notice.notice_id)
