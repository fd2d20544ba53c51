"""Webhook channel against a real local HTTP server: signed JSON, timeouts, retry, dead-letter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from fangpin_notify.adapters.channels import WebhookChannel, deliver_with_retries, verify_signature
from fangpin_notify.domain.delivery import Delivery, DeliveryStatus
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.parameters import NotifyParameters

if TYPE_CHECKING:
    from conftest import FakeTime, ScriptedHTTPServer

SECRET = "s3cret-shared-with-the-county-oa"


async def test_posts_signed_json_with_timestamp_and_chinese_text(
    http_endpoint: ScriptedHTTPServer, make_notice: Callable[..., Notice]
) -> None:
    notice = make_notice(ChannelKind.WEBHOOK, f"{http_endpoint.url}/hooks/oa")
    async with WebhookChannel(SECRET, clock=lambda: 1717578000.5) as channel:
        result = await channel.send(notice)
    assert result.ok
    (request,) = http_endpoint.received
    assert request.path == "/hooks/oa"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-Fangpin-Timestamp"] == "1717578000"
    assert request.headers["X-Fangpin-Notice-Id"] == notice.notice_id
    assert request.headers["X-Fangpin-Signature"].startswith("sha256=")
    assert verify_signature(SECRET, request.body, request.headers["X-Fangpin-Signature"])
    assert not verify_signature(
        "other-secret", request.body, request.headers["X-Fangpin-Signature"]
    )
    payload = json.loads(request.body.decode("utf-8"))
    assert payload["subject"] == "【走访提醒】请按时走访农户H0001"
    assert payload["notice_id"] == notice.notice_id
    assert "address" not in payload


async def test_server_error_is_retried_with_backoff_until_delivered(
    http_endpoint: ScriptedHTTPServer,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    http_endpoint.queue(503, 502)
    notice = make_notice(ChannelKind.WEBHOOK, http_endpoint.url)
    delivery = Delivery(notice.notice_id, ChannelKind.WEBHOOK)
    async with WebhookChannel(SECRET) as channel:
        await deliver_with_retries(
            channel, notice, delivery, params, clock=fake_time.clock, sleep=fake_time.sleep
        )
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert fake_time.waits == [30, 60]
    assert len(http_endpoint.received) == 3
    assert len({r.headers["X-Fangpin-Notice-Id"] for r in http_endpoint.received}) == 1


async def test_persistent_failure_fails_after_n_attempts_and_lands_on_dead_letter(
    http_endpoint: ScriptedHTTPServer,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    http_endpoint.always(500)
    notice = make_notice(ChannelKind.WEBHOOK, http_endpoint.url)
    delivery = Delivery(notice.notice_id, ChannelKind.WEBHOOK)
    dead: list[tuple[str, str]] = []

    async def dead_letter(n: Notice, d: Delivery) -> None:
        assert d.status is DeliveryStatus.FAILED
        dead.append((n.notice_id, d.failure_reason))

    async with WebhookChannel(SECRET) as channel:
        await deliver_with_retries(
            channel,
            notice,
            delivery,
            params,
            clock=fake_time.clock,
            sleep=fake_time.sleep,
            dead_letter=dead_letter,
        )
    assert delivery.status is DeliveryStatus.DEAD_LETTERED
    assert len(http_endpoint.received) == params.retry_max_attempts == 3
    assert fake_time.waits == [30, 60]
    assert dead == [
        (notice.notice_id, "webhook delivery failed after 3 attempt(s): webhook answered 500")
    ]


async def test_client_error_is_permanent_and_not_retried(
    http_endpoint: ScriptedHTTPServer,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    http_endpoint.always(410)
    notice = make_notice(ChannelKind.WEBHOOK, http_endpoint.url)
    delivery = Delivery(notice.notice_id, ChannelKind.WEBHOOK)
    async with WebhookChannel(SECRET) as channel:
        await deliver_with_retries(
            channel, notice, delivery, params, clock=fake_time.clock, sleep=fake_time.sleep
        )
    assert delivery.status is DeliveryStatus.FAILED
    assert len(http_endpoint.received) == 1
    assert fake_time.waits == []


async def test_rate_limit_retry_after_is_honoured(
    http_endpoint: ScriptedHTTPServer,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    http_endpoint.queue(429, headers={"Retry-After": "300"})
    notice = make_notice(ChannelKind.WEBHOOK, http_endpoint.url)
    delivery = Delivery(notice.notice_id, ChannelKind.WEBHOOK)
    async with WebhookChannel(SECRET) as channel:
        await deliver_with_retries(
            channel, notice, delivery, params, clock=fake_time.clock, sleep=fake_time.sleep
        )
    assert delivery.status is DeliveryStatus.DELIVERED
    assert fake_time.waits == [300]


async def test_slow_endpoint_times_out_as_a_transient_failure(
    http_endpoint: ScriptedHTTPServer, make_notice: Callable[..., Notice]
) -> None:
    http_endpoint.queue(200, delay=1.0)
    notice = make_notice(ChannelKind.WEBHOOK, http_endpoint.url)
    async with WebhookChannel(SECRET, timeout=0.2) as channel:
        result = await channel.send(notice)
    assert not result.ok and result.retryable
    assert "Timeout" in result.detail


async def test_unreachable_endpoint_is_a_transient_failure(
    make_notice: Callable[..., Notice], closed_port: int
) -> None:
    notice = make_notice(ChannelKind.WEBHOOK, f"http://127.0.0.1:{closed_port}/hook")
    async with WebhookChannel(SECRET, timeout=2) as channel:
        result = await channel.send(notice)
    assert not result.ok and result.retryable
