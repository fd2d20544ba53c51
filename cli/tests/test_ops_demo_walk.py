"""`fangpin demo walk` takes a demo household of a running suite through the whole procedure:
it stops at the public notice with the clock offset to restart with, and after the restart
resumes the same case through town and county approval to the household's plan."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_cli.demo import DemoCounty
from fangpin_cli.launcher import Suite
from fangpin_cli.ops import load_demo
from fangpin_cli.walk import PAUSED, Paused, pause_advice
from fangpin_contracts.subjects import SERVICES
from fangpin_kit.clock import in_china, offset_to
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import free_port
from fangpin_kit.testing import wait_until

pytestmark = pytest.mark.e2e

# Monday 14 September 2026, 10:00 in China: the demo county is loaded and walked that day
START = in_china(date(2026, 9, 14))
DAY = 86400


async def running(var_dir: Path, offset: float) -> Suite:
    suite = Suite(
        var_dir=var_dir,
        env={
            "FANGPIN_EMBEDDED_NATS_PORT": "0",
            "FANGPIN_LOG_LEVEL": "WARNING",
            "FANGPIN_CLOCK_OFFSET_SECONDS": str(offset),
        },
    )
    suite.ports = {service: free_port() for service in SERVICES}
    suite.start()
    await suite.wait_healthy(timeout=90)
    suite.write_endpoints()
    return suite


@pytest.fixture
async def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Suite]:
    offset = offset_to(START)
    monkeypatch.setenv("FANGPIN_CLOCK_OFFSET_SECONDS", str(offset))  # the demo's "today"
    started = await running(tmp_path, offset)
    try:
        yield started
    finally:
        started.stop()


async def walk(suite: Suite, offset: float) -> subprocess.CompletedProcess[str]:
    """`fangpin demo walk` as an operator runs it, beside the suite (var/endpoints.json)."""
    env = {
        **os.environ,
        "FANGPIN_VAR_DIR": str(suite.var_dir),
        "FANGPIN_CLOCK_OFFSET_SECONDS": str(offset),
    }
    for service in SERVICES:
        env.pop(f"FANGPIN_{service.upper()}_ADDR", None)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "fangpin_cli.main", "demo", "walk"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


async def application_cases(suite: Suite) -> list[approval_pb2.Case]:
    async with channel(suite.address("approval")) as ch:
        reply = await approval_pb2_grpc.ApprovalServiceStub(ch).ListCases(
            approval_pb2.ListCasesRequest(step="application", status="open")
        )
    return [c for c in reply.cases if not c.excluded_by and c.category]


async def test_the_walk_pauses_at_the_notice_and_after_the_restart_reaches_the_plan(
    suite: Suite,
) -> None:
    offset = float(suite.env["FANGPIN_CLOCK_OFFSET_SECONDS"])
    await load_demo(suite, DemoCounty(households=40))
    await wait_until(lambda: application_cases(suite), timeout=60)

    first = await walk(suite, offset)
    assert first.returncode == PAUSED, first.stdout + first.stderr
    out = first.stdout
    for step in ("application", "verification", "village_appraisal"):
        assert f"{step} " in out
    assert "by hand: fangpin case sign " in out and "--co-signer " in out
    assert "by hand: fangpin case publish-notice " in out
    # published on the day the suite reads (14 September), 5 days, signed from the 19th
    assert "published on 2026-09-14 runs until 2026-09-18" in out
    assert "the village signs the appraisal from 2026-09-19" in out
    moved = re.search(r"FANGPIN_CLOCK_OFFSET_SECONDS=(-?\d+) make run", out)
    assert moved is not None, out
    ahead = float(moved.group(1))
    assert round((ahead - offset) / DAY) == 5
    case_id = re.search(r"demo walk: case (\S+),", out).group(1)  # type: ignore[union-attr]

    # the recipe: stop the suite and start it again with the clock moved ahead
    for service in reversed(SERVICES):
        suite.stop_service(service)
    suite.env["FANGPIN_CLOCK_OFFSET_SECONDS"] = str(ahead)
    for service in SERVICES:
        suite.start_service(service)
    await suite.wait_healthy(timeout=90)

    second = await walk(suite, ahead)
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout
    assert f"demo walk: case {case_id}," in out  # the same case, resumed
    assert "step 3/5 village_appraisal" in out and "publish-notice" not in out
    for step in ("town_review", "county_approval"):
        assert f"{step} " in out
    assert "signed: case " in out and " approved" in out
    assert re.search(r"plan \S+ \((proposed|active), due 2026-09-\d\d\)", out), out
    assert "demo walk: done" in out

    async with channel(suite.address("approval")) as ch:
        stub = approval_pb2_grpc.ApprovalServiceStub(ch)
        case = await stub.GetCase(approval_pb2.GetCaseRequest(case_id=case_id))
        entry = await stub.GetRegisterEntry(
            approval_pb2.GetRegisterEntryRequest(household_id=case.household_id)
        )
    assert case.status == "approved"
    assert entry.status == "monitored"

    # walked to the end: the next walk takes another household, from its application
    third = await walk(suite, ahead)
    assert third.returncode == PAUSED, third.stdout + third.stderr
    assert f"demo walk: case {case_id}," not in third.stdout
    assert "step 1/5 application" in third.stdout


def test_the_advice_moves_the_clock_by_the_notice_days_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offset = offset_to(START)
    monkeypatch.setenv("FANGPIN_CLOCK_OFFSET_SECONDS", str(offset))
    paused = Paused("2026-09-14", "2026-09-18", date(2026, 9, 19))
    advice = pause_advice(paused)
    assert f"FANGPIN_CLOCK_OFFSET_SECONDS={offset + 5 * DAY:.0f} make run" in advice
    assert f"FANGPIN_CLOCK_OFFSET_SECONDS={offset + 5 * DAY:.0f} fangpin demo walk" in advice
    assert "let the 5 day(s) pass" in advice


def test_the_advice_names_a_clock_the_services_do_not_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # this terminal already reads the 20th, yet the services refused to sign: their clock lags
    offset = offset_to(in_china(date(2026, 9, 20)))
    monkeypatch.setenv("FANGPIN_CLOCK_OFFSET_SECONDS", str(offset))
    advice = pause_advice(Paused("2026-09-14", "2026-09-18", date(2026, 9, 19)))
    assert "the services' is earlier" in advice
    assert f"the same FANGPIN_CLOCK_OFFSET_SECONDS as this terminal ({offset:.0f})" in advice


def test_a_walk_without_a_running_suite_exits_2_naming_the_service(tmp_path: Path) -> None:
    env = {**os.environ, "FANGPIN_VAR_DIR": str(tmp_path)}
    env["FANGPIN_APPROVAL_ADDR"] = env["FANGPIN_ASSISTANCE_ADDR"] = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "fangpin_cli.main", "demo", "walk"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "fangpin demo walk: UNAVAILABLE" in result.stderr
