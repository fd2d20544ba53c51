"""Delivery of one notice over one channel: state machine, retry with backoff, dead-lettering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.parameters import NotifyParameters


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"  # attempts exhausted or permanent error: goes to the dead-letter subject
    DEAD_LETTERED = "dead_lettered"


_ALLOWED: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PENDING: frozenset({DeliveryStatus.SENDING}),
    DeliveryStatus.SENDING: frozenset(
        {DeliveryStatus.DELIVERED, DeliveryStatus.RETRYING, DeliveryStatus.FAILED}
    ),
    DeliveryStatus.RETRYING: frozenset({DeliveryStatus.SENDING}),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.DEAD_LETTERED}),
    DeliveryStatus.DELIVERED: frozenset(),
    DeliveryStatus.DEAD_LETTERED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A delivery asked to move where its state machine does not go."""


@dataclass(frozen=True)
class DeliveryResult:
    """What a channel reports for one attempt; channels return it rather than raise."""

    ok: bool
    retryable: bool = False
    detail: str = ""
    retry_after: float | None = None  # seconds the endpoint asked us to wait
    provider_ref: str | None = None  # the endpoint's id for the message, when it gives one

    @classmethod
    def delivered(cls, detail: str = "", provider_ref: str | None = None) -> DeliveryResult:
        return cls(ok=True, detail=detail, provider_ref=provider_ref)

    @classmethod
    def transient(cls, detail: str, retry_after: float | None = None) -> DeliveryResult:
        return cls(ok=False, retryable=True, detail=detail, retry_after=retry_after)

    @classmethod
    def permanent(cls, detail: str) -> DeliveryResult:
        return cls(ok=False, retryable=False, detail=detail)


@dataclass(frozen=True)
class Attempt:
    number: int
    at: datetime
    ok: bool
    detail: str


def backoff_seconds(attempt: int, params: NotifyParameters) -> float:
    """Wait after failed attempt `attempt` (1-based): base, 2 x base, 4 x base ... capped."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    wait = params.retry_backoff_base_seconds * 2 ** (attempt - 1)
    return min(wait, params.retry_backoff_max_seconds)


@dataclass
class Delivery:
    """投递状态 of one notice over one channel, persisted by the store and queryable."""

    notice_id: str
    channel: ChannelKind
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    provider_ref: str | None = None
    history: list[Attempt] = field(default_factory=list)

    def _move(self, to: DeliveryStatus) -> None:
        if to not in _ALLOWED[self.status]:
            raise InvalidTransition(f"delivery {self.notice_id}: {self.status} -> {to}")
        self.status = to

    @property
    def finished(self) -> bool:
        return self.status in {DeliveryStatus.DELIVERED, DeliveryStatus.DEAD_LETTERED}

    def is_due(self, now: datetime) -> bool:
        """Waiting for an attempt and its backoff has elapsed."""
        waiting = self.status in {DeliveryStatus.PENDING, DeliveryStatus.RETRYING}
        return waiting and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def begin_attempt(self, now: datetime) -> int:
        """Mark an attempt as under way; returns its number."""
        if not self.is_due(now):
            raise InvalidTransition(f"delivery {self.notice_id}: not due ({self.status})")
        self._move(DeliveryStatus.SENDING)
        self.attempts += 1
        self.next_attempt_at = None
        return self.attempts

    def record(self, result: DeliveryResult, now: datetime, params: NotifyParameters) -> None:
        """Outcome of the attempt under way: delivered, retry after a backoff, or failed."""
        if self.status is not DeliveryStatus.SENDING:
            raise InvalidTransition(f"delivery {self.notice_id}: no attempt under way")
        self.history.append(Attempt(self.attempts, now, result.ok, result.detail))
        if result.ok:
            self._move(DeliveryStatus.DELIVERED)
            self.delivered_at = now
            self.provider_ref = result.provider_ref
            self.last_error = None
            return
        self.last_error = result.detail
        if result.retryable and self.attempts < params.retry_max_attempts:
            wait = max(backoff_seconds(self.attempts, params), result.retry_after or 0.0)
            self._move(DeliveryStatus.RETRYING)
            self.next_attempt_at = now + timedelta(seconds=wait)
        else:
            self._move(DeliveryStatus.FAILED)

    def recover_interrupted(self, now: datetime, params: NotifyParameters) -> None:
        """After a restart, an attempt left `sending` may or may not have gone out: retry it
        (receivers dedupe on the notice id) unless the attempts are used up."""
        if self.status is not DeliveryStatus.SENDING:
            return
        self.record(DeliveryResult.transient("interrupted by a restart"), now, params)

    def mark_dead_lettered(self) -> None:
        """The failure was published on the dead-letter subject."""
        self._move(DeliveryStatus.DEAD_LETTERED)

    @property
    def failure_reason(self) -> str:
        return f"{self.channel} delivery failed after {self.attempts} attempt(s): {self.last_error}"
