"""An overdue case: one reminder before, one on the due date, one escalation, across restarts.

The notify store is stood in for by a SQLite file with a unique dedupe key, reopened for every
sweep (a restart); each claimed reminder is rendered and delivered to a real local webhook.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fangpin_notify.adapters.channels import WebhookChannel
from fangpin_notify.domain.kinds import ChannelKind, EventKind, Role
from fangpin_notify.domain.notices import compose_notices
from fangpin_notify.domain.parameters import NotifyParameters
from fangpin_notify.domain.reminders import Deadline, Reminder, reminders_due
from fangpin_notify.domain.subscriptions import (
    Endpoint,
    Recipient,
    Subscription,
    resolve_recipients,
)
from fangpin_notify.domain.templates import default_catalog, render

if TYPE_CHECKING:
    from conftest import ScriptedHTTPServer

VILLAGE = "652827101001"
DUE = date(2024, 6, 12)
CASE = {
    "case_id": "C-7",
    "step": "town_review",
    "procedure": "identification",
    "household_id": "H0001",
    "household_name": "张三丰",
    "id_number": "652827198001113756",
}


class SqliteLedger:
    """The part of the notify store that makes reminders exactly-once: UNIQUE(dedupe_key)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS notice (dedupe_key TEXT PRIMARY KEY, sent_on TEXT)"
        )

    def sent(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT dedupe_key FROM notice")}

    def claim(self, reminder: Reminder, today: date) -> bool:
        with self.conn:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO notice VALUES (?, ?)",
                (reminder.dedupe_key, today.isoformat()),
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        self.conn.close()


async def sweep(
    ledger: SqliteLedger,
    deadline: Deadline,
    recipients: dict[str, Recipient],
    params: NotifyParameters,
    today: date,
    channel: WebhookChannel,
    *,
    trust_sent_keys: bool,
) -> None:
    # Without the read of sent keys (a second replica racing) the unique key still holds.
    sent = ledger.sent() if trust_sent_keys else set()
    for reminder in reminders_due(deadline, params, today, sent=sent):
        if not ledger.claim(reminder, today):
            continue
        recipient = recipients[reminder.recipient_id]
        message = render(
            default_catalog(),
            reminder.kind,
            CASE | reminder.context(today),
            roles=recipient.roles,
            locale=recipient.locale,
            phase=reminder.phase,
        )
        created = datetime.combine(today, datetime.min.time(), UTC)
        for notice in compose_notices(reminder.dedupe_key, recipient, message, created_at=created):
            assert (await channel.send(notice)).ok


async def test_overdue_case_sends_before_due_and_escalation_once_across_restarts(
    tmp_path: Path, http_endpoint: ScriptedHTTPServer, params: NotifyParameters
) -> None:
    subscriptions = [
        Subscription(
            "reviewer",
            Role.TOWN_REVIEWER,
            VILLAGE[:9],
            Endpoint(ChannelKind.WEBHOOK, f"{http_endpoint.url}/reviewer"),
        ),
        Subscription(
            "bureau",
            Role.COUNTY_BUREAU,
            VILLAGE[:6],
            Endpoint(ChannelKind.WEBHOOK, f"{http_endpoint.url}/bureau"),
        ),
    ]
    signers = resolve_recipients(
        EventKind.SIGNATURE_AWAITED,
        VILLAGE,
        None,
        (),
        subscriptions,
        target_roles={Role.TOWN_REVIEWER},
    )
    above = resolve_recipients(
        EventKind.CASE_OVERDUE,
        VILLAGE,
        None,
        (),
        subscriptions,
        target_roles={Role.COUNTY_BUREAU},
    )
    deadline = Deadline(
        key="case:C-7:town_review",
        kind=EventKind.SIGNATURE_AWAITED,
        due=DUE,
        recipients=tuple(r.recipient_id for r in signers),
        escalation_recipients=tuple(r.recipient_id for r in above),
        escalation_kind=EventKind.CASE_OVERDUE,
    )
    recipients = {r.recipient_id: r for r in [*signers, *above]}

    async with WebhookChannel("secret") as channel:
        day = DUE - timedelta(days=4)
        while day <= DUE + timedelta(days=4):
            for trust in (True, False):  # two sweeps a day, each after a restart
                ledger = SqliteLedger(tmp_path / "notify.db")
                try:
                    await sweep(
                        ledger, deadline, recipients, params, day, channel, trust_sent_keys=trust
                    )
                finally:
                    ledger.close()
            day += timedelta(days=1)

    got = [(r.path, json.loads(r.body)["subject"]) for r in http_endpoint.received]
    assert got == [
        ("/reviewer", "【待签批·还有2天到期】案件C-7“乡镇审核”环节等待您审核签字"),
        ("/reviewer", "【待签批·今日到期】案件C-7“乡镇审核”环节等待您审核签字"),
        ("/reviewer", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
        ("/bureau", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
    ]
    bureau_body = json.loads(http_endpoint.received[-1].body)["body"]
    assert "农户：H0001（张**）" in bureau_body
    assert "652827198001113756" not in bureau_body
