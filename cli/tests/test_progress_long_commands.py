"""Progress lines of the long commands (`fangpin screen FILE`, `fangpin screening rescreen`):
drawn on standard error only when it shows progress (a terminal, or `FANGPIN_PROGRESS=always`),
while standard output and the summary lines stay exactly what they were."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fangpin.v1 import intake_pb2, intake_pb2_grpc, screening_pb2, screening_pb2_grpc
from fangpin_cli.demo import id_number
from fangpin_cli.main import app
from fangpin_cli.progress import MODE_VARIABLE, shows_progress
from fangpin_cli.screen import BLOCK_BYTES
from fangpin_intake.bootstrap import SPEC as INTAKE
from fangpin_kit.clock import china_date
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp
from fangpin_kit.settings import repo_root
from fangpin_kit.testing import running_service, wait_until
from fangpin_screening.adapters.rules import ScreeningRules
from fangpin_screening.adapters.settings import ScreeningSettings
from fangpin_screening.bootstrap import build_spec

CHINA = dt.timezone(dt.timedelta(hours=8))
# Monday 2024-07-15, 10:00 in China: the services' clocks start here.
MONDAY_MORNING = dt.datetime(2024, 7, 15, 10, tzinfo=CHINA)
AS_OF = "2024-06-29"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COUNTY = "652827"


def household(
    household_id: str, per_capita: float, county: str = COUNTY, serial: int = 0
) -> dict[str, Any]:
    """A two-person farming household whose per-capita net income is `per_capita`."""
    serial = serial or sum(map(ord, household_id))
    return {
        "household_id": household_id,
        "region": {"county": county, "town": f"{county}100", "village": f"{county}100011"},
        "members": [
            {
                "id_number": id_number(county, dt.date(1978, 5, 6), serial % 1000),
                "name": "王建军",
                "relation": "head",
                "birth_date": "1978-05-06",
            },
            {
                "id_number": id_number(county, dt.date(1980, 9, 1), (serial + 1) % 1000),
                "name": "李桂兰",
                "relation": "spouse",
                "birth_date": "1980-09-01",
            },
        ],
        "income": {"business": per_capita * 2},
    }


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Household lines over two blocks (so the input is read in several chunks), one
    rejected line among them (a bad ID check digit)."""
    lines = []
    size = n = 0
    while size < 2.5 * BLOCK_BYTES:
        n += 1
        record = household(f"H{n:07d}", per_capita=4000.0 + n % 9000, serial=n)
        if n == 1000:
            number = record["members"][0]["id_number"]
            record["members"][0]["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
        line = json.dumps(record, ensure_ascii=False)
        lines.append(line)
        size += len(line.encode()) + 1
    path = tmp_path_factory.mktemp("screen") / "households.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def shown(text: str) -> str:
    return ANSI.sub("", text)


@pytest.mark.parametrize(
    ("mode", "expected"), [("always", True), ("never", False), ("auto", False), ("", False)]
)
def test_fangpin_progress_overrides_the_terminal_test(
    monkeypatch: pytest.MonkeyPatch, mode: str, expected: bool
) -> None:
    monkeypatch.setenv(MODE_VARIABLE, mode)
    with open(os.devnull, "w") as not_a_terminal:
        assert shows_progress(not_a_terminal) is expected


def test_fangpin_progress_never_silences_even_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv(MODE_VARIABLE, "never")
    assert shows_progress(Terminal()) is False  # type: ignore[arg-type]
    monkeypatch.setenv(MODE_VARIABLE, "auto")
    assert shows_progress(Terminal()) is True  # type: ignore[arg-type]


def screen_in_process(path: Path, mode: str) -> Result:
    env = {MODE_VARIABLE: mode, "COLUMNS": "160"}
    return CliRunner().invoke(app, ["screen", str(path), "--as-of", AS_OF], env=env)


def test_screen_of_a_file_shows_households_rate_and_rejects_and_keeps_stdout(
    big_file: Path,
) -> None:
    quiet = screen_in_process(big_file, "auto")  # CliRunner's stderr is no terminal
    drawn = screen_in_process(big_file, "always")
    lines = big_file.read_bytes().count(b"\n")
    assert (quiet.exit_code, drawn.exit_code) == (1, 1)  # one line rejected
    assert drawn.stdout_bytes == quiet.stdout_bytes
    assert quiet.stdout_bytes.count(b"\n") == lines
    assert quiet.stderr == ""
    text = shown(drawn.stderr)
    assert "screen households.jsonl" in text and "100%" in text
    assert f"{lines:,} households" in text and "1 rejected" in text and "/s" in text


def screen_in_processes(path: Path, mode: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`fangpin screen` in its own process (forked workers write straight to `out`)."""
    env = {**os.environ, MODE_VARIABLE: mode, "COLUMNS": "160"}
    command = [sys.executable, "-m", "fangpin_cli.main", "screen", str(path), "--as-of", AS_OF]
    with out.open("wb") as sink:
        return subprocess.run(
            [*command, "--workers", "2"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )


def test_screen_with_workers_shows_progress_and_writes_the_same_bytes(
    big_file: Path, tmp_path: Path
) -> None:
    quiet = screen_in_processes(big_file, "never", tmp_path / "quiet.jsonl")
    drawn = screen_in_processes(big_file, "always", tmp_path / "drawn.jsonl")
    assert (quiet.returncode, drawn.returncode) == (1, 1), drawn.stderr
    assert (tmp_path / "drawn.jsonl").read_bytes() == (tmp_path / "quiet.jsonl").read_bytes()
    assert quiet.stderr == ""
    lines = big_file.read_bytes().count(b"\n")
    text = shown(drawn.stderr)
    assert "100%" in text and f"{lines:,} households" in text and "1 rejected" in text


def test_screen_of_standard_input_never_shows_progress(big_file: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["screen", "-", "--as-of", AS_OF],
        input=big_file.read_bytes(),
        env={MODE_VARIABLE: "always"},
    )
    assert result.exit_code == 1
    assert result.stderr == ""  # no size to measure against: nothing drawn


# --- `fangpin screening rescreen` against in-process intake and screening services ---------


async def fangpin(address: str, mode: str, *args: str) -> Result:
    env = {"FANGPIN_SCREENING_ADDR": address, MODE_VARIABLE: mode, "COLUMNS": "160"}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def import_households(intake: ServiceApp, records: list[dict[str, Any]]) -> None:
    async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
        for n, record in enumerate(records, start=1):
            yield intake_pb2.HouseholdRecord(line=n, json=json.dumps(record))

    async with channel(f"127.0.0.1:{intake.grpc.port}") as ch:  # type: ignore[union-attr]
        outcomes = [
            o async for o in intake_pb2_grpc.IntakeServiceStub(ch).ImportHouseholds(requests())
        ]
    assert [o.status for o in outcomes] == ["created"] * len(records)


async def baseline_recorded(app_: ServiceApp, ruleset: str) -> None:
    async with channel(f"127.0.0.1:{app_.grpc.port}") as ch:  # type: ignore[union-attr]
        stub = screening_pb2_grpc.ScreeningServiceStub(ch)

        async def done() -> bool | None:
            try:
                status = await stub.GetRescreenStatus(screening_pb2.GetRescreenStatusRequest())
            except Exception:
                return None
            return True if status.ruleset == ruleset and status.status == "done" else None

        await wait_until(done, timeout=30)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_rescreen_shows_its_progress_and_keeps_the_json_and_summary_lines(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    rulesets = tmp_path / "rulesets"
    shutil.copytree(repo_root() / "rulesets" / "cn", rulesets / "cn")
    records = [
        household("H0000001", per_capita=5000.0, county=county),
        household("H0000002", per_capita=8000.0, county=county),
        household("H0000003", per_capita=20000.0, county=county),
    ]
    base: dict[str, Any] = {"county": county, "nats_url": nats_server.url}
    async with running_service(
        INTAKE,
        start=MONDAY_MORNING,
        **base,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}",
    ) as intake:
        await import_households(intake, records)
        settings = ScreeningSettings(
            intake_addr=f"127.0.0.1:{intake.grpc.port}",  # type: ignore[union-attr]
            scale_watch_schedule=False,
        )
        screening: dict[str, Any] = {
            **base,
            "province": "99",
            "rulesets_dir": rulesets,
            "db_url": f"sqlite+aiosqlite:///{tmp_path / 'screening.db'}",
        }
        async with running_service(
            build_spec(settings), start=MONDAY_MORNING, **screening
        ) as service:
            today = china_date(MONDAY_MORNING)
            await baseline_recorded(service, ScreeningRules(rulesets, None).ruleset_id(today))
            address = f"127.0.0.1:{service.grpc.port}"  # type: ignore[union-attr]

            drawn = await fangpin(address, "always", "screening", "rescreen", "--poll", "0.1")
            assert drawn.exit_code == 0, drawn.output
            [run] = json_lines(drawn.stdout)
            assert "━" not in drawn.stdout and "households ·" not in drawn.stdout
            assert (run["total"], run["done"], run["changed"], run["rejected"]) == (3, 3, 1, 0)
            text = shown(drawn.stderr)
            assert f"re-screen {run['run_id']}" in text
            assert "3 households" in text and "1 changed" in text and "0 rejected" in text
            assert "100%" in text and "/s" in text
            # the summary lines are there as before: the start, and the end after the live line
            ends = [line for line in text.splitlines() if line.startswith("re-screen ")]
            assert ends[-1].rstrip().endswith("3/3 households, 1 changed, 0 rejected")

            quiet = await fangpin(address, "auto", "screening", "rescreen", "--poll", "0.1")
            assert quiet.exit_code == 0, quiet.output
            [again] = json_lines(quiet.stdout)
            assert (again["done"], again["changed"]) == (3, 0)
            # no terminal: only the summary lines, no progress display
            # (the in-process services may log to the same stderr: look at the CLI's lines)
            summary = [
                line
                for line in quiet.stderr.splitlines()
                if line.startswith(("re-screen ", "already running"))
            ]
            assert summary and summary[-1].endswith("3/3 households, 0 changed, 0 rejected")
            assert "━" not in quiet.stderr and "households ·" not in quiet.stderr
            assert quiet.stderr.rstrip().endswith("3/3 households, 0 changed, 0 rejected")
