"""Outbox/log channel: always delivers and never logs a full ID number or phone."""

from __future__ import annotations

from collections.abc import Callable

from structlog.testing import capture_logs

from fangpin_notify.adapters.channels import ChannelSet, LogChannel
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice


async def test_log_channel_delivers_and_logs_a_masked_line(
    make_notice: Callable[..., Notice],
) -> None:
    notice = make_notice(ChannelKind.LOG, "", body="户主身份证652827198001113756 电话13812345678")
    with capture_logs() as logs:
        result = await LogChannel().send(notice)
    assert result.ok
    (line,) = logs
    assert line["event"] == "notice"
    assert line["notice_id"] == notice.notice_id
    assert line["body"] == "户主身份证652827********3756 电话138****5678"


async def test_channel_set_dispatches_by_kind_and_fails_unconfigured_ones(
    make_notice: Callable[..., Notice],
) -> None:
    channels = ChannelSet({ChannelKind.LOG: LogChannel()})
    with capture_logs():
        assert (await channels.send(make_notice(ChannelKind.LOG, ""))).ok
    missing = await channels.send(make_notice(ChannelKind.SMS, "13812345678"))
    assert not missing.ok and not missing.retryable
    assert missing.detail == "no sms channel configured"
