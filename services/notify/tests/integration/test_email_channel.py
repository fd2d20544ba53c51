"""E-mail channel against a real local SMTP server (aiosmtpd): UTF-8 mail, refusals, retries."""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import TYPE_CHECKING

from fangpin_notify.adapters.channels import SmtpEmailChannel, deliver_with_retries
from fangpin_notify.domain.delivery import Delivery, DeliveryStatus
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.parameters import NotifyParameters

if TYPE_CHECKING:
    from conftest import FakeTime, SMTPEndpoint

SENDER = "fangpin@hejing.gov.cn"
TO = "li@cun.cn"


def channel_for(smtp: SMTPEndpoint) -> SmtpEmailChannel:
    return SmtpEmailChannel(smtp.host, smtp.port, SENDER, timeout=5)


async def test_mail_arrives_with_chinese_subject_and_body(
    smtp_endpoint: SMTPEndpoint, make_notice: Callable[..., Notice]
) -> None:
    notice = make_notice(ChannelKind.EMAIL, TO)
    result = await channel_for(smtp_endpoint).send(notice)
    assert result.ok
    (envelope,) = smtp_endpoint.handler.accepted
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [TO]
    received = email.message_from_bytes(envelope.content, policy=default_policy)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "【走访提醒】请按时走访农户H0001"
    assert received["X-Fangpin-Notice-Id"] == notice.notice_id
    assert received["Message-ID"] == f"<{notice.notice_id}@hejing.gov.cn>"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().splitlines() == [
        "请于2024年6月7日前入户走访。",
        "联系电话：138****5678",
    ]


async def test_temporary_refusal_is_retried_until_accepted(
    smtp_endpoint: SMTPEndpoint,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    smtp_endpoint.handler.data_replies = ["451 4.3.0 try again later"]
    notice = make_notice(ChannelKind.EMAIL, TO)
    delivery = Delivery(notice.notice_id, ChannelKind.EMAIL)
    await deliver_with_retries(
        channel_for(smtp_endpoint),
        notice,
        delivery,
        params,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.attempts == 2
    assert "451" in delivery.history[0].detail
    assert fake_time.waits == [30]
    assert len(smtp_endpoint.handler.accepted) == 1


async def test_unknown_mailbox_fails_at_once_and_is_dead_lettered(
    smtp_endpoint: SMTPEndpoint,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    smtp_endpoint.handler.refuse.add(TO)
    notice = make_notice(ChannelKind.EMAIL, TO)
    delivery = Delivery(notice.notice_id, ChannelKind.EMAIL)
    dead: list[str] = []

    async def dead_letter(n: Notice, d: Delivery) -> None:
        dead.append(d.failure_reason)

    await deliver_with_retries(
        channel_for(smtp_endpoint),
        notice,
        delivery,
        params,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        dead_letter=dead_letter,
    )
    assert delivery.status is DeliveryStatus.DEAD_LETTERED
    assert delivery.attempts == 1
    assert dead == [
        "email delivery failed after 1 attempt(s): smtp: recipient refused: "
        "550 5.1.1 mailbox unavailable"
    ]


async def test_server_down_retries_with_backoff_then_fails(
    closed_port: int,
    make_notice: Callable[..., Notice],
    params: NotifyParameters,
    fake_time: FakeTime,
) -> None:
    notice = make_notice(ChannelKind.EMAIL, TO)
    delivery = Delivery(notice.notice_id, ChannelKind.EMAIL)
    channel = SmtpEmailChannel("127.0.0.1", closed_port, SENDER, timeout=2)
    await deliver_with_retries(
        channel, notice, delivery, params, clock=fake_time.clock, sleep=fake_time.sleep
    )
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert fake_time.waits == [30, 60]
    assert "ConnectionRefusedError" in (delivery.last_error or "")


async def test_message_that_cannot_be_built_fails_permanently_without_connecting(
    closed_port: int, make_notice: Callable[..., Notice]
) -> None:
    notice = make_notice(ChannelKind.EMAIL, TO, subject="第一行\r\nBcc: x@evil.example")
    result = await SmtpEmailChannel("127.0.0.1", closed_port, SENDER).send(notice)
    assert not result.ok and not result.retryable
    assert "cannot build" in result.detail
