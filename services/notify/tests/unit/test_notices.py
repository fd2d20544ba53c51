"""Notices: one per recipient endpoint, with ids that do not change on redelivery."""

from __future__ import annotations

from datetime import UTC, datetime

from fangpin_notify.domain.kinds import ChannelKind, Role
from fangpin_notify.domain.notices import compose_notices, event_dedupe_key, notice_id_for
from fangpin_notify.domain.subscriptions import Endpoint, Recipient
from fangpin_notify.domain.templates import Message

RECIPIENT = Recipient(
    recipient_id="li",
    roles=frozenset({Role.CONTACT_CADRE}),
    locale="zh-CN",
    endpoints=(Endpoint(ChannelKind.EMAIL, "li@cun.cn"), Endpoint(ChannelKind.SMS, "13812345678")),
)
MESSAGE = Message(kind="visit_due", locale="zh-CN", subject="【走访提醒】", body="请走访")
AT = datetime(2024, 6, 5, tzinfo=UTC)


def test_one_notice_per_endpoint_with_stable_distinct_ids() -> None:
    key = event_dedupe_key("evt-1", "li")
    first = compose_notices(key, RECIPIENT, MESSAGE, created_at=AT, household_id="H0001")
    again = compose_notices(key, RECIPIENT, MESSAGE, created_at=AT, household_id="H0001")
    assert [n.channel for n in first] == [ChannelKind.EMAIL, ChannelKind.SMS]
    assert [n.notice_id for n in first] == [n.notice_id for n in again]
    assert len({n.notice_id for n in first}) == 2
    assert first[1].notice_id == notice_id_for("evt-1|li", ChannelKind.SMS)


def test_notice_repr_does_not_show_the_address() -> None:
    notices = compose_notices("k", RECIPIENT, MESSAGE, created_at=AT)
    assert "13812345678" not in repr(notices)
    assert "li@cun.cn" not in repr(notices)
