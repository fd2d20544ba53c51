"""Notify as a running service on the real bus and store: exactly once, retries, dead letters."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import nats

from fangpin.v1 import common_pb2, notify_pb2
from fangpin_contracts.cloudevents import MSG_ID_HEADER, CloudEvent
from fangpin_contracts.events import DeadLetter, NoticeSent
from fangpin_contracts.subjects import subject
from fangpin_kit.clock import RunningClock, china_date
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import wait_until
from notify_running import (
    DUE,
    SECRET,
    all_delivered,
    county_case,
    fast_retry_rulesets,
    listed,
    notify,
    publish,
    staff,
    subscribe,
    swept_today,
    village_of,
)
from notify_support import ID_NUMBER, MovableClock, at, event, household, region

if TYPE_CHECKING:
    from conftest import ScriptedHTTPServer, SMTPEndpoint


async def test_an_event_delivered_twice_records_one_notice(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=6)))
    async with notify(clock, nats_server, county, tmp_path / "notify.db") as (app, stub):
        await staff(stub, county)
        opened = county_case(county, "opened", due={"approval": DUE})
        await publish(app, opened, msg_id="first-delivery")
        await publish(app, opened, msg_id="redelivered-by-upstream")
        later = county_case(county, "opened", case_id="C-8", due={"approval": DUE})
        await publish(app, later)  # consumed after both copies of the first
        await wait_until(lambda: listed(stub, source_event=later.id), timeout=15)
        got = await listed(stub, source_event=opened.id)
        assert [(n.recipient, n.kind) for n in got] == [("reviewer-wang", "signature_awaited")]


async def test_overdue_case_reminds_before_on_the_day_and_escalates_once_each(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=5)))
    async with notify(clock, nats_server, county, tmp_path / "notify.db") as (app, stub):
        await staff(stub, county)
        opened = county_case(county, "opened", step="town_review", due={"approval": DUE})
        await publish(app, opened)
        await wait_until(lambda: listed(stub, source_event=opened.id), timeout=15)
        for day in [DUE - timedelta(days=n) for n in (3, 2, 1, 0, -1, -2)]:
            clock.set_day(day)
            await wait_until(lambda: swept_today(app, clock), timeout=15)
            await asyncio.sleep(0.3)  # a few more sweeps of the same day
        phases = {
            phase: sorted((n.recipient, n.title) for n in await listed(stub, phase=phase))
            for phase in ("before", "due", "escalation")
        }
        assert phases == {
            "before": [
                ("reviewer-wang", "【待签批·还有2天到期】案件C-7“乡镇审核”环节等待您审核签字")
            ],
            "due": [("reviewer-wang", "【待签批·今日到期】案件C-7“乡镇审核”环节等待您审核签字")],
            "escalation": [
                ("bureau-zhao", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
                ("reviewer-wang", "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限"),
            ],
        }
        assert await listed(stub, recipient="cadre-li") == []
        reply = await stub.ListDeadlines(notify_pb2.ListDeadlinesRequest(ref="case:C-7"))
        (deadline,) = reply.deadlines
        assert (deadline.key, deadline.status, deadline.notices) == (
            "case:C-7:town_review:2024-06-12",
            "open",
            4,
        )


async def test_failing_webhook_is_retried_then_dead_lettered_on_the_bus(
    tmp_path: Path, nats_server: EmbeddedNats, county: str, http_endpoint: ScriptedHTTPServer
) -> None:
    http_endpoint.always(503)
    rulesets = fast_retry_rulesets(tmp_path / "rulesets")
    clock = RunningClock(at(DUE - timedelta(days=6)))  # real speed: the backoff is waited out
    nc = await nats.connect(nats_server.url)
    try:
        async with notify(
            clock,
            nats_server,
            county,
            tmp_path / "notify.db",
            rulesets_dir=rulesets,
            webhook_secret=SECRET,
        ) as (app, stub):
            dlq = await nc.jetstream().subscribe(subject(county, "dlq", "notify"), durable="ops")
            hook = f"{http_endpoint.url}/oa?token=abc"
            await subscribe(
                stub,
                "reviewer-wang",
                "town_reviewer",
                f"{county}101",
                channel="webhook",
                address=hook,
            )
            opened = county_case(
                county, "opened", due={"approval": china_date(clock()) + timedelta(days=30)}
            )
            await publish(app, opened)
            msg = await dlq.next_msg(timeout=20)
            letter_event = CloudEvent.model_validate_json(msg.data)
            assert letter_event.type == "cn.fangpin.dlq.notify.v1"
            assert msg.headers[MSG_ID_HEADER] == letter_event.id
            letter = DeadLetter.model_validate(letter_event.data)
            assert (letter.service, letter.consumer, letter.deliveries) == (
                "notify",
                "delivery.webhook",
                3,
            )
            assert letter.reason.endswith("webhook answered 503")
            notice_id = json.loads(letter.original_data)["notice_id"]
            notice = await stub.GetNotice(notify_pb2.GetNoticeRequest(notice_id=notice_id))
            assert (notice.state, notice.attempts, notice.last_error) == (
                "dead_lettered",
                3,
                "webhook answered 503",
            )
            assert [a.ok for a in notice.history] == [False, False, False]
            assert notice.address == f"{http_endpoint.url}/oa"  # the token is not shown
            assert len(http_endpoint.received) == 3
    finally:
        await nc.close()


async def test_every_step_of_the_walking_skeleton_records_a_notice(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=6)))
    village = village_of(county)
    due = {"verification": DUE - timedelta(days=3), "approval": DUE}
    facts = [
        event(
            "clue",
            "accepted",
            {
                "clue_id": "CL-1",
                "household_id": "H0001",
                "region": region(village),
                "source": "department_warning",
                "kind": "new_dibao",
                "observed_at": "2024-06-01",
                "registered_at": "2024-06-03T02:00:00+00:00",
                "verification_due": (DUE - timedelta(days=3)).isoformat(),
                "household": household(village=village),
            },
            county=county,
        ),
        county_case(county, "opened", step="verification", due=due),
        county_case(county, "advanced", step="town_review", due=due),
        county_case(
            county,
            "decided",
            step="county_approval",
            status="approved",
            outcome="approved",
            due=due,
        ),
        event(
            "plan",
            "created",
            {
                "plan_id": "P-1",
                "household_id": "H0001",
                "region": region(village),
                "case_id": "C-7",
                "due": (DUE + timedelta(days=10)).isoformat(),
                "measures": [
                    {"measure_id": "M-1", "type": "employment", "dept": "hrss", "status": "x"}
                ],
            },
            county=county,
        ),
        event(
            "measure",
            "dispatched",
            {
                "measure_id": "M-1",
                "dispatch_id": "D-1",
                "plan_id": "P-1",
                "household_id": "H0001",
                "region": region(village),
                "type": "employment",
                "dept": "hrss",
                "reply_due": "2024-06-20T09:00:00+00:00",
            },
            county=county,
        ),
    ]
    nc = await nats.connect(nats_server.url)
    try:
        async with notify(clock, nats_server, county, tmp_path / "notify.db") as (app, stub):
            sent = await nc.jetstream().subscribe(subject(county, "notice", "sent"), durable="t")
            for fact in facts:
                await publish(app, fact)
            for fact in facts:
                await wait_until(lambda f=fact: listed(stub, source_event=f.id), timeout=15)
            await wait_until(lambda: all_delivered(stub), timeout=15)
            recorded = await listed(stub, limit=1000)
            announced = set()
            for _ in recorded:
                msg = await sent.next_msg(timeout=10)
                announced.add(
                    NoticeSent.model_validate(
                        CloudEvent.model_validate_json(msg.data).data
                    ).notice_id
                )
            assert announced == {n.notice_id for n in recorded}
            stats = await stub.GetStats(common_pb2.StatsRequest())
            assert stats.counts["notices"] == len(recorded) >= len(facts)
            assert stats.counts["unassigned"] >= len(facts)
    finally:
        await nc.close()


async def test_configured_email_and_sms_channels_deliver_through_the_service(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    county: str,
    http_endpoint: ScriptedHTTPServer,
    smtp_endpoint: SMTPEndpoint,
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=6)))
    settings = {
        "smtp_host": smtp_endpoint.host,
        "smtp_port": smtp_endpoint.port,
        "smtp_sender": "notify@fangpin.example.cn",
        "sms_gateway_url": f"{http_endpoint.url}/sms",
        "sms_api_key": "gateway-key",
    }
    store = tmp_path / "notify.db"
    async with notify(clock, nats_server, county, store, **settings) as (app, stub):
        village = village_of(county)
        await subscribe(
            stub, "cadre-li", "village_cadre", village, channel="email", address="li@cun.example.cn"
        )
        await subscribe(
            stub, "cadre-li", "village_cadre", village, channel="sms", address="13812345678"
        )
        subs = await stub.ListSubscriptions(notify_pb2.ListSubscriptionsRequest())
        assert sorted(s.address for s in subs.subscriptions) == ["138****5678", "li@cun.example.cn"]
        opened = county_case(county, "opened", step="verification", due={"verification": DUE})
        await publish(app, opened)
        await wait_until(lambda: listed(stub, source_event=opened.id), timeout=15)
        await wait_until(lambda: all_delivered(stub), timeout=15)
    (mail,) = smtp_endpoint.handler.accepted
    assert mail.rcpt_tos == ["li@cun.example.cn"]
    parsed = message_from_bytes(mail.original_content, policy=default_policy)
    assert parsed["Subject"] == "【待签批】案件C-7“入户核实”环节等待您审核签字"
    (sms,) = http_endpoint.received
    assert sms.path == "/sms"
    assert sms.headers["X-Api-Key"] == "gateway-key"
    text = json.loads(sms.body)
    assert text["to"] == "13812345678"
    assert text["text"].startswith("【待签批】案件C-7“入户核实”环节等待您审核签字")
    assert ID_NUMBER not in text["text"]


async def test_subscribing_to_an_unconfigured_channel_is_refused_naming_the_field(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    async with notify(MovableClock(), nats_server, county, tmp_path / "notify.db") as (_, stub):
        try:
            await subscribe(
                stub,
                "cadre-li",
                "village_cadre",
                village_of(county),
                channel="sms",
                address="13812345678",
            )
        except grpc.aio.AioRpcError as err:
            assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert err.details() == "channel: sms is not configured on this notify (enabled: log)"
        else:
            raise AssertionError("subscription to an unconfigured channel was accepted")
