"""SMS gateway channel against a real local HTTP server: {to, text}, API key, masking, retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from fangpin_notify.adapters.channels import SmsGatewayChannel, deliver_with_retries
from fangpin_notify.domain.delivery import Delivery, DeliveryStatus
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.parameters import NotifyParameters

if TYPE_CHECKING:
    from conftest import FakeTime, ScriptedHTTPServer

MOBILE = "13912345678"


async def test_gateway_gets_number_and_chinese_text_with_the_api_key(
    http_endpoint: ScriptedHTTPServer, make_notice: Callable[..., Notice]
) -> None:
    notice = make_notice(ChannelKind.SMS, MOBILE)
    async with SmsGatewayChannel(
        f"{http_endpoint.url}/sms/send", "key-123", api_key_header="X-Gateway-Key"
    ) as channel:
        result = await channel.send(notice)
    assert result.ok
    assert result.provider_ref == "gw-1"
    assert MOBILE not in result.detail
    (request,) = http_endpoint.received
    assert request.path == "/sms/send"
    assert request.headers["X-Gateway-Key"] == "key-123"
    assert json.loads(request.body) == {
        "to": MOBILE,
        "text": "【走访提醒】请按时走访农户H0001\n"
        "请于2024年6月7日前入户走访。\n"
        "联系电话：138****5678",
    }


async def test_text_is_masked_and_cut_to_the_gateway_limit(
    http_endpoint: ScriptedHTTPServer, make_notice: Callable[..., Notice]
) -> None:
    notice = make_notice(
        ChannelKind.SMS, MOBILE, body="户主身份证652827198001113756，请核实。" + "备注" * 100
    )
    async with SmsGatewayChannel(http_endpoint.url, "k", max_chars=70) as channel:
        assert (await channel.send(notice)).ok
    text = json.loads(http_endpoint.received[0].body)["text"]
    assert "652827********3756" in text
    assert "652827198001113756" not in text
    assert len(text) == 70 and text.endswith("…")


async def test_gateway_outage_retries_then_dead_letters(
    http_endpoint: ScriptedHTTPServer,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    http_endpoint.always(503)
    notice = make_notice(ChannelKind.SMS, MOBILE)
    delivery = Delivery(notice.notice_id, ChannelKind.SMS)
    dead: list[str] = []

    async def dead_letter(n: Notice, d: Delivery) -> None:
        dead.append(d.failure_reason)

    async with SmsGatewayChannel(http_endpoint.url, "k") as channel:
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
    assert len(http_endpoint.received) == 3
    assert fake_time.waits == [30, 60]
    assert dead == ["sms delivery failed after 3 attempt(s): sms gateway answered 503"]
    assert all(MOBILE not in a.detail for a in delivery.history)


async def test_rejected_api_key_is_permanent(
    http_endpoint: ScriptedHTTPServer, make_notice: Callable[..., Notice]
) -> None:
    http_endpoint.always(401)
    async with SmsGatewayChannel(http_endpoint.url, "wrong") as channel:
        result = await channel.send(make_notice(ChannelKind.SMS, MOBILE))
    assert not result.ok and not result.retryable
