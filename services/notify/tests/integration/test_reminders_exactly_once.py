"""Exactly-once reminders across notify restarts, against the real notify store and service.

An overdue case gets one reminder before its due date, one on the day and one escalation
(to the signer and the level above), delivered to a real local webhook, however often
notify is stopped and started and sweeps again.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import wait_until
from notify_running import (
    DUE,
    SECRET,
    all_delivered,
    county_case,
    listed,
    notify,
    publish,
    staff,
    swept_today,
)
from notify_support import MovableClock, at

if TYPE_CHECKING:
    from conftest import ScriptedHTTPServer


async def test_reminders_are_sent_once_across_notify_restarts(
    tmp_path: Path, nats_server: EmbeddedNats, county: str, http_endpoint: ScriptedHTTPServer
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=3)))
    store = tmp_path / "notify.db"
    webhook = {"channel": "webhook", "address": f"{http_endpoint.url}/oa"}
    async with notify(clock, nats_server, county, store, webhook_secret=SECRET) as (app, stub):
        await staff(stub, county, **webhook)
        opened = county_case(county, "opened", step="town_review", due={"approval": DUE})
        await publish(app, opened)
        await wait_until(lambda: listed(stub, source_event=opened.id), timeout=15)
        # stopped mid-send, an attempt waits out a backoff this frozen clock never reaches
        await wait_until(lambda: all_delivered(stub), timeout=15)
    day = DUE - timedelta(days=3)
    while day <= DUE + timedelta(days=2):
        for hour in (9, 16):  # notify stopped and started twice a day, sweeping each time
            clock.set_day(day, hour)
            async with notify(clock, nats_server, county, store, webhook_secret=SECRET) as (
                app,
                stub,
            ):
                await wait_until(lambda: swept_today(app, clock), timeout=15)
                await asyncio.sleep(0.3)
                await wait_until(lambda: all_delivered(stub), timeout=15)
        day += timedelta(days=1)
    posts = [json.loads(r.body) for r in http_endpoint.received]
    reminders = [(p["recipient_id"], p["subject"]) for p in posts if "·" in p["subject"]]
    assert reminders[:2] == [
        ("reviewer-wang", "【待签批·还有2天到期】案件C-7“乡镇审核”环节等待您审核签字"),
        ("reviewer-wang", "【待签批·今日到期】案件C-7“乡镇审核”环节等待您审核签字"),
    ]
    assert sorted(reminders[2:]) == [
        ("bureau-zhao", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
        ("reviewer-wang", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
    ]
