"""A service killed (SIGKILL) with events in flight loses none and applies none twice."""

from __future__ import annotations

import asyncio
import signal
from datetime import date
from pathlib import Path

import nats
import pytest

from fangpin_cli.bus import publish_warnings
from fangpin_cli.demo import DemoCounty, generate_households
from fangpin_kit.clock import in_china
from fangpin_kit.testing import wait_until

from .harness import import_households, running_suite, store_count, store_rows

pytestmark = pytest.mark.e2e

N = 300
TODAY = date(2026, 1, 12)  # a Monday, a week after the warnings were observed
START = in_china(TODAY)


async def test_sigkilled_intake_processes_every_warning_exactly_once(tmp_path: Path) -> None:
    demo = DemoCounty(county="652827", households=N, seed=7)
    households = generate_households(demo, TODAY)
    # a killed consumer's unacknowledged messages come back after ack_wait
    env = {"FANGPIN_ACK_WAIT_SECONDS": "3"}
    async with running_suite(tmp_path, start=START, services=("intake",), env=env) as suite:
        assert suite.nats is not None
        await import_households(suite, households)
        warnings = [
            {
                "event_id": f"crash-{n}",
                "data": {
                    "dept": "medical_insurance",
                    "kind": "high_medical_expense",
                    "household_id": h["household_id"],
                    "observed_at": "2026-01-05",
                    "amount": 20000.0 + n,
                },
            }
            for n, h in enumerate(households)
        ]
        publisher = asyncio.create_task(
            publish_warnings(suite.nats.url, suite.county, warnings, "test/crash")
        )
        # kill intake while it is working through the warnings
        await wait_until(lambda: store_count(suite, "intake", "warnings") > 20, timeout=30)
        suite.stop_service("intake", sig=signal.SIGKILL)
        killed_at = store_count(suite, "intake", "warnings")
        await publisher
        assert killed_at < N, "intake finished before it was killed; the test proves nothing"
        suite.start_service("intake")
        await suite.wait_healthy(services=("intake",))

        await wait_until(lambda: store_count(suite, "intake", "warnings") == N, timeout=60)
        await wait_until(
            lambda: store_count(suite, "intake", "outbox", "published_at IS NULL") == 0,
            timeout=30,
        )
        assert store_count(suite, "intake", "clues") == N
        assert store_count(suite, "intake", "inbox") == N
        # one clue.accepted per household on the bus, none twice
        nc = await nats.connect(suite.nats.url)
        try:
            info = await nc.jetstream().stream_info(f"FP_{suite.county}_CLUE")
            assert info.state.messages == N
        finally:
            await nc.close()
        households_with_clue = store_rows(
            suite, "intake", "SELECT household_id, count(*) FROM clues GROUP BY household_id"
        )
        assert {count for _, count in households_with_clue} == {1}
