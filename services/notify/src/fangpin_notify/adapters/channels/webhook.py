"""Webhook channel: HTTP POST of the notice as JSON, signed with HMAC-SHA256 over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from fangpin_notify.adapters.channels._http import result_from_error, result_from_response
from fangpin_notify.domain.delivery import DeliveryResult
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice

SIGNATURE_HEADER = "X-Fangpin-Signature"
TIMESTAMP_HEADER = "X-Fangpin-Timestamp"
NOTICE_ID_HEADER = "X-Fangpin-Notice-Id"
SIGNATURE_PREFIX = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes) -> str:
    """Header value `sha256=<hex HMAC-SHA256 of the raw body>`."""
    return SIGNATURE_PREFIX + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """For receivers: constant-time check of the signature header against the raw body."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def notice_payload(notice: Notice) -> dict[str, Any]:
    """The JSON document a webhook receives (the address itself is not repeated)."""
    return {
        "notice_id": notice.notice_id,
        "kind": notice.kind,
        "recipient_id": notice.recipient_id,
        "locale": notice.locale,
        "subject": notice.subject,
        "body": notice.body,
        "household_id": notice.household_id,
        "source_event": notice.source_event,
        "created_at": notice.created_at.isoformat(),
    }


class WebhookChannel:
    """POSTs to the notice's address (the subscriber's URL), signed with the shared secret.

    Receivers verify `X-Fangpin-Signature` over the raw body, may reject stale
    `X-Fangpin-Timestamp` values, and deduplicate on `X-Fangpin-Notice-Id` (a retry resends
    the same notice).
    """

    kind = ChannelKind.WEBHOOK

    def __init__(
        self,
        secret: str | bytes,
        *,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("webhook secret must not be empty")
        self._secret = _key(secret)
        self._timeout = httpx.Timeout(timeout)
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        self._owns_client = client is None
        self._clock = clock

    async def send(self, notice: Notice) -> DeliveryResult:
        body = json.dumps(notice_payload(notice), ensure_ascii=False, separators=(",", ":"))
        raw = body.encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self._secret, raw),
            TIMESTAMP_HEADER: str(int(self._clock())),
            NOTICE_ID_HEADER: notice.notice_id,
            "User-Agent": "fangpin-notify",
        }
        try:
            response = await self._client.post(
                notice.address, content=raw, headers=headers, timeout=self._timeout
            )
        except httpx.InvalidURL as exc:
            return DeliveryResult.permanent(f"webhook: invalid URL: {exc}")
        except httpx.HTTPError as exc:
            return result_from_error(exc, "webhook")
        return result_from_response(response, "webhook")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> WebhookChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
