"""Shared reading of HTTP answers into delivery results (webhook and SMS gateway)."""

from __future__ import annotations

import httpx

from fangpin_kit.masking import mask_text
from fangpin_notify.domain.delivery import DeliveryResult

# Worth another try: the request timed out, too early, rate limited, or a server-side error.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def result_from_response(response: httpx.Response, what: str) -> DeliveryResult:
    """2xx delivered; 408/425/429/5xx transient (honouring Retry-After); other codes permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryResult.delivered(f"{what} answered {status}", _provider_ref(response))
    detail = f"{what} answered {status}"
    if status in _RETRYABLE_STATUS or status >= 500:
        return DeliveryResult.transient(detail, retry_after=_retry_after(response))
    return DeliveryResult.permanent(detail)


def result_from_error(exc: httpx.HTTPError, what: str) -> DeliveryResult:
    """Timeouts and connection errors are transient; a malformed request is not."""
    detail = mask_text(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
        return DeliveryResult.transient(detail)
    return DeliveryResult.permanent(detail)


def _provider_ref(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        ref = data.get("id") or data.get("message_id")
        return str(ref) if ref is not None else None
    return None
