"""Delivery state machine: pending, sending, delivered | retrying | failed -> dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fangpin_notify.domain.delivery import (
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    InvalidTransition,
    backoff_seconds,
)
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.parameters import NotifyParameters

T0 = datetime(2024, 6, 5, 9, 0, tzinfo=UTC)
FAIL = DeliveryResult.transient("gateway answered 503")


def new() -> Delivery:
    return Delivery(notice_id="n-1", channel=ChannelKind.SMS)


def test_backoff_doubles_from_the_base_up_to_the_cap(params: NotifyParameters) -> None:
    assert [backoff_seconds(n, params) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_successful_attempt_delivers(params: NotifyParameters) -> None:
    d = new()
    assert d.begin_attempt(T0) == 1
    assert d.status is DeliveryStatus.SENDING
    d.record(DeliveryResult.delivered(provider_ref="gw-1"), T0, params)
    assert (d.status, d.delivered_at, d.provider_ref) == (DeliveryStatus.DELIVERED, T0, "gw-1")
    assert d.finished


def test_transient_failure_waits_out_the_backoff(params: NotifyParameters) -> None:
    d = new()
    d.begin_attempt(T0)
    d.record(FAIL, T0, params)
    assert d.status is DeliveryStatus.RETRYING
    assert d.next_attempt_at == T0 + timedelta(seconds=10)
    assert not d.is_due(T0 + timedelta(seconds=9))
    assert d.is_due(T0 + timedelta(seconds=10))
    with pytest.raises(InvalidTransition):
        d.begin_attempt(T0 + timedelta(seconds=5))


def test_retry_after_longer_than_the_backoff_is_honoured(params: NotifyParameters) -> None:
    d = new()
    d.begin_attempt(T0)
    d.record(DeliveryResult.transient("429", retry_after=120), T0, params)
    assert d.next_attempt_at == T0 + timedelta(seconds=120)


def test_exhausted_attempts_fail_then_dead_letter(params: NotifyParameters) -> None:
    d, now = new(), T0
    while d.status is not DeliveryStatus.FAILED:
        now = d.next_attempt_at or now
        d.begin_attempt(now)
        d.record(FAIL, now, params)
    assert d.attempts == params.retry_max_attempts
    assert [a.number for a in d.history] == [1, 2, 3, 4]
    assert d.failure_reason == "sms delivery failed after 4 attempt(s): gateway answered 503"
    d.mark_dead_lettered()
    assert d.status is DeliveryStatus.DEAD_LETTERED and d.finished
    with pytest.raises(InvalidTransition):
        d.begin_attempt(now + timedelta(days=1))


def test_permanent_failure_is_not_retried(params: NotifyParameters) -> None:
    d = new()
    d.begin_attempt(T0)
    d.record(DeliveryResult.permanent("webhook answered 404"), T0, params)
    assert (d.status, d.attempts) == (DeliveryStatus.FAILED, 1)


def test_recording_without_an_attempt_under_way_is_refused(params: NotifyParameters) -> None:
    with pytest.raises(InvalidTransition):
        new().record(FAIL, T0, params)


def test_delivered_notice_cannot_be_dead_lettered(params: NotifyParameters) -> None:
    d = new()
    d.begin_attempt(T0)
    d.record(DeliveryResult.delivered(), T0, params)
    with pytest.raises(InvalidTransition):
        d.mark_dead_lettered()


def test_attempt_interrupted_by_a_restart_is_retried(params: NotifyParameters) -> None:
    d = new()
    d.begin_attempt(T0)
    d.recover_interrupted(T0 + timedelta(minutes=1), params)
    assert d.status is DeliveryStatus.RETRYING
    assert d.last_error == "interrupted by a restart"
