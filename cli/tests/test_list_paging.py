"""`fangpin case list` page by page against approval's real servicer and store: --limit,
--after TOKEN (printed on stderr, stdout keeps only the JSON lines) and --all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_approval.adapters.orm import MIGRATIONS, metadata
from fangpin_approval.adapters.repository import CASES
from fangpin_approval.adapters.rules import procedure_rules_provider
from fangpin_approval.entrypoints.grpc import ApprovalServicer
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_cli.main import app
from fangpin_kit import migrations
from fangpin_kit.clock import ManualClock, in_china
from fangpin_kit.db import Database
from fangpin_kit.settings import repo_root
from fangpin_kit.testing_paging import serving
from fangpin_kit.workdays import default_calendar

VILLAGE = "652827100201"
OPENED = in_china(date(2024, 3, 4), 9)  # Monday 09:00 in China


def case_row(n: int) -> dict[str, Any]:
    """An open identification case at application, opened at OPENED + n minutes."""
    return {
        "case_id": f"C-{n:03d}",
        "kind": "identification",
        "household_id": f"H{n:05d}",
        "county": VILLAGE[:6],
        "town": VILLAGE[:9],
        "village": VILLAGE,
        "step": "application",
        "status": "open",
        "version": 1,
        "flow_version": "2021",
        "ruleset": "cn@2021-01-01",
        "params": {},
        "source": "screening:clue",
        "clue_on": date(2024, 3, 4),
        "opened_at": OPENED + timedelta(minutes=n),
        "risk_types": ["illness"],
        "exclusions": [],
        "measures": [],
        "green_state": "none",
        "green_channel": {},
        "due_verification": date(2024, 3, 11),
        "due_approval": date(2024, 3, 19),
    }


@pytest.fixture
async def approval(tmp_path: Path) -> AsyncIterator[str]:
    """Approval's servicer over a SQLite store holding cases C-000 ... C-004; its address."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'approval.db'}"
    migrations.upgrade(MIGRATIONS, url)
    db = Database.connect(url, metadata)
    async with db.engine.begin() as conn:
        await conn.execute(CASES.insert(), [case_row(n) for n in range(5)])
    clock = ManualClock(datetime(2024, 3, 5, 2, tzinfo=UTC))
    ctx = ApprovalContext(
        county=VILLAGE[:6],
        procedure=procedure_rules_provider(repo_root() / "rulesets", "65"),
        calendar=default_calendar(),
        clock=clock,
    )
    name = approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"].full_name
    add = approval_pb2_grpc.add_ApprovalServiceServicer_to_server
    async with serving(ApprovalServicer(db, ctx), add, name) as target:
        yield target
    await db.dispose()


async def fangpin(target: str, *args: str) -> Result:
    env = {"FANGPIN_APPROVAL_ADDR": target}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def case_ids(result: Result) -> list[str]:
    """The case ids of the JSON lines (the in-process server's own log lines are skipped)."""
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line)["case_id"] for line in lines]


def next_token(result: Result) -> str:
    hints = [line for line in result.stderr.splitlines() if line.startswith("next page: ")]
    assert len(hints) <= 1, result.stderr
    return hints[0].removeprefix("next page: --after ") if hints else ""


async def test_limit_and_after_walk_the_queue_two_cases_at_a_time(approval: str) -> None:
    seen: list[str] = []
    pages = 0
    args = ["case", "list", "--region", VILLAGE, "--limit", "2"]
    first = await fangpin(approval, *args)
    token = next_token(first)
    seen += case_ids(first)
    pages += 1
    while token:
        page = await fangpin(approval, *args, "--after", token)
        seen += case_ids(page)
        token = next_token(page)
        pages += 1
    assert pages == 3
    assert seen == ["C-004", "C-003", "C-002", "C-001", "C-000"]  # newest first


async def test_all_follows_the_pages_to_the_end_and_prints_no_next_page(approval: str) -> None:
    every = await fangpin(approval, "case", "list", "--limit", "2", "--all", "--oldest-first")
    assert case_ids(every) == ["C-000", "C-001", "C-002", "C-003", "C-004"]
    assert next_token(every) == ""
    assert "next page" not in every.stderr


async def test_a_bad_limit_or_token_exits_2_naming_the_field(approval: str) -> None:
    too_big = await fangpin(approval, "case", "list", "--limit", "1001")
    assert too_big.exit_code == 2
    assert "INVALID_ARGUMENT: limit: " in too_big.stderr
    garbage = await fangpin(approval, "case", "list", "--after", "garbage")
    assert garbage.exit_code == 2
    assert "INVALID_ARGUMENT: page_token: malformed" in garbage.stderr


def test_a_token_continues_one_households_history_only() -> None:
    result = CliRunner().invoke(
        app, ["screening", "decisions", "H1", "H2", "--after", "token"], env={}
    )
    assert result.exit_code == 2
    assert "--after" in result.output and "one HOUSEHOLD_ID" in result.output
