"""`fangpin dept simulate`: answers a dispatched measure over the bus like a department system."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from typer.testing import CliRunner

from fangpin_cli.main import app as cli
from fangpin_contracts.cloudevents import CloudEvent, headers_for, new_event
from fangpin_contracts.events import MeasureDispatched, Region
from fangpin_contracts.subjects import stream_name, subject
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import wait_until

DISPATCHED_AT = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)  # Monday 10:00 in China


def dispatch(county: str, dept: str, attempt: int = 1) -> CloudEvent:
    payload = MeasureDispatched(
        measure_id="P-H00001-1-001",
        dispatch_id="d-1",
        plan_id="P-H00001-1",
        household_id="H00001",
        region=Region(county=county, village=f"{county}100011"),
        type="employment",
        sub_measure="job_placement",
        dept=dept,
        attempt=attempt,
        reply_due=DISPATCHED_AT + timedelta(hours=72),
        beneficiary="m1",
        term_kind="none",
    )
    return new_event(
        domain="measure",
        event="dispatched",
        county=county,
        source="test",
        data=payload,
        event_id="d-1" if attempt == 1 else f"d-1.attempt-{attempt}",
        time=DISPATCHED_AT,
    )


async def test_simulated_department_accepts_then_completes_and_exits_after_once(
    nats_server: EmbeddedNats, county: str
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    answers: list[CloudEvent] = []

    async def collect(msg: nats.aio.msg.Msg) -> None:
        answers.append(CloudEvent.model_validate_json(msg.data))

    await nc.subscribe(f"fp.{county}.measure.*", cb=collect)
    command = [
        str(Path(sys.executable).parent / "fangpin"),
        "dept",
        "simulate",
        "--dept",
        "hrss",
        "--nats",
        nats_server.url,
        "--county",
        county,
        "--always",
        "complete",
        "--reply-after",
        "0",
        "--complete-after",
        "0",
        "--once",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "FANGPIN_LOG_LEVEL": "WARNING"},
    )
    # the simulator's durable consumer exists once it listens: then the dispatch goes out
    await wait_until(lambda: _consumer_ready(js, county), timeout=20)
    event = dispatch(county, "hrss")
    await js.publish(
        subject(county, "measure", "dispatched", "hrss"),
        event.model_dump_json().encode(),
        headers=headers_for(event),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    [handled] = [json.loads(line) for line in stdout.decode().splitlines() if line]
    assert handled == {
        "dispatch_id": "d-1",
        "measure_id": "P-H00001-1-001",
        "attempt": 1,
        "behaviour": "complete",
        "replies": ["accepted", "completed"],
    }
    await wait_until(lambda: len(answers) == 2, timeout=10)
    assert [a.type for a in answers] == [
        "cn.fangpin.measure.accepted.v1",
        "cn.fangpin.measure.completed.v1",
    ]
    assert all(a.data["dispatch_id"] == "d-1" and a.data["dept"] == "hrss" for a in answers)
    assert answers[0].data["started_on"] is not None
    await nc.close()


async def _consumer_ready(js: nats.js.JetStreamContext, county: str) -> bool:
    try:
        await js.consumer_info(stream_name(county, "measure"), "dept-sim-hrss")
    except Exception:
        return False
    return True


def test_unknown_department_is_refused_naming_the_option() -> None:
    result = CliRunner().invoke(cli, ["dept", "simulate", "--dept", "tax_office"])
    assert result.exit_code == 2
    assert "--dept" in result.output and "tax_office" in result.output
