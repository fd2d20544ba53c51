"""`fangpin notify ...` against a running notify: subscribe, list, show, deadlines, errors."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from fangpin_cli.main import app as cli
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import wait_until
from notify_running import DUE, county_case, listed, notify, publish, village_of
from notify_support import MovableClock, at


async def fangpin(address: str, *args: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop), pointed at this notify."""
    runner = CliRunner()
    env = {"FANGPIN_NOTIFY_ADDR": address}
    return await asyncio.to_thread(runner.invoke, cli, ["notify", *args], env=env)


def lines(result: Result) -> list[dict[str, Any]]:
    """The CLI's JSON lines (the in-process service's own log lines land in stdout too)."""
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


async def test_operator_subscribes_and_follows_notices_and_deadlines_from_the_cli(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    clock = MovableClock(at(DUE - timedelta(days=6)))
    async with notify(clock, nats_server, county, tmp_path / "notify.db") as (app, stub):
        assert app.grpc is not None
        address = f"127.0.0.1:{app.grpc.port}"
        town = village_of(county)[:9]
        (sub,) = lines(
            await fangpin(
                address, "subscribe", "reviewer-wang", "--role", "town_reviewer", "--region", town
            )
        )
        assert (sub["recipient_id"], sub["channel"], sub["active"]) == (
            "reviewer-wang",
            "log",
            True,
        )
        opened = county_case(county, "opened", step="town_review", due={"approval": DUE})
        await publish(app, opened)
        await wait_until(lambda: listed(stub, state="delivered"), timeout=15)

        (notice,) = lines(await fangpin(address, "list", "--recipient", "reviewer-wang"))
        assert notice["title"] == "【待签批】案件C-7“乡镇审核”环节等待您审核签字"
        assert "body" not in notice
        (shown,) = lines(await fangpin(address, "show", notice["notice_id"]))
        assert shown["state"] == "delivered"
        assert shown["history"][0]["ok"] is True
        assert shown["body"].startswith("请于2024年6月12日前完成“乡镇审核”审核并签字。")

        (deadline,) = lines(await fangpin(address, "deadlines"))
        assert (deadline["key"], deadline["due"], deadline["roles"]) == (
            "case:C-7:town_review:2024-06-12",
            "2024-06-12",
            ["town_reviewer"],
        )
        assert (
            lines(await fangpin(address, "subscriptions", "--region", town))[0]["subscription_id"]
            == sub["subscription_id"]
        )
        assert lines(await fangpin(address, "unsubscribe", "--recipient", "reviewer-wang")) == [
            {"removed": 1}
        ]
        assert lines(await fangpin(address, "subscriptions")) == []


async def test_cli_reports_a_bad_field_and_exits_2(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    async with notify(MovableClock(), nats_server, county, tmp_path / "notify.db") as (app, _):
        assert app.grpc is not None
        result = await fangpin(
            f"127.0.0.1:{app.grpc.port}",
            "subscribe",
            "x",
            "--role",
            "town_reviewer",
            "--region",
            village_of(county),
        )
    assert result.exit_code == 2
    assert "INVALID_ARGUMENT: region: a town_reviewer subscribes with a [9] digit code" in (
        result.stderr
    )
