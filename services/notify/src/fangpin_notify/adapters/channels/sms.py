"""SMS channel through a configurable HTTP gateway: POST JSON {to, text} with an API key header."""

from __future__ import annotations

from types import TracebackType

import httpx

from fangpin_kit.masking import mask_text
from fangpin_notify.adapters.channels._http import result_from_error, result_from_response
from fangpin_notify.domain.delivery import DeliveryResult
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice

ELLIPSIS = "…"


def sms_text(notice: Notice, max_chars: int) -> str:
    """Subject and body in one text, personal data masked, cut to the gateway's limit."""
    text = mask_text(f"{notice.subject}\n{notice.body}")
    if len(text) <= max_chars:
        return text
    return text[: max_chars - len(ELLIPSIS)] + ELLIPSIS


class SmsGatewayChannel:
    """Sends to the notice's address (the recipient's mobile) through one HTTP gateway.

    Only the gateway sees the full number; results and logs never carry it.
    """

    kind = ChannelKind.SMS

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        api_key_header: str = "X-Api-Key",
        timeout: float = 5.0,
        max_chars: int = 500,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("SMS gateway URL must be http(s)")
        if max_chars <= len(ELLIPSIS):
            raise ValueError("max_chars too small")
        self._url = url
        self._headers = {api_key_header: api_key, "User-Agent": "fangpin-notify"}
        self._timeout = httpx.Timeout(timeout)
        self._max_chars = max_chars
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        self._owns_client = client is None

    async def send(self, notice: Notice) -> DeliveryResult:
        to = "".join(notice.address.split())
        payload = {"to": to, "text": sms_text(notice, self._max_chars)}
        headers = {**self._headers, "X-Fangpin-Notice-Id": notice.notice_id}
        try:
            response = await self._client.post(
                self._url, json=payload, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            return result_from_error(exc, "sms gateway")
        return result_from_response(response, "sms gateway")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> SmsGatewayChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
