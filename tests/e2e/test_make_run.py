"""`make run`'s launcher: all five services healthy, the demo county loaded, nothing duplicated
by a second run on the same `var/`, and no process left behind."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import psutil
import pytest

from fangpin_kit.clock import in_china, offset_to

pytestmark = pytest.mark.e2e

FANGPIN = [sys.executable, "-m", "fangpin_cli.main"]
# the demo is generated for, and the services run on, a day the test names
START = in_china(date(2026, 6, 1))


def run_once(var_dir: Path, clock_offset: float) -> str:
    result = subprocess.run(
        [*FANGPIN, "run", "--once", "--var-dir", str(var_dir), "--households", "60"],
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "FANGPIN_LOG_LEVEL": "WARNING",
            "FANGPIN_CLOCK_OFFSET_SECONDS": str(clock_offset),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_run_starts_everything_loads_the_demo_and_a_rerun_duplicates_nothing(
    tmp_path: Path,
) -> None:
    offset = offset_to(START)
    first = run_once(tmp_path, offset)
    assert "fangpin: all services healthy" in first
    assert "households created 60, updated 0" in first
    assert re.search(r"warnings published [1-9]\d*, already on the bus 0", first)

    counts_after_first = _intake_counts(tmp_path)
    second = run_once(tmp_path, offset)
    assert "already loaded" in second
    assert _intake_counts(tmp_path) == counts_after_first
    assert counts_after_first["households"] == 60

    # every child stopped with the launcher
    assert [p.info["cmdline"] for p in _children_of(tmp_path)] == []


def _intake_counts(var_dir: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{var_dir / 'intake.db'}?mode=ro", uri=True) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("households", "warnings", "clues", "inbox", "outbox")
        }


def _children_of(var_dir: Path) -> list[psutil.Process]:
    """Processes started for this `var/`: nats-server (its store path) and the services (env)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            env = proc.environ() if "fangpin_" in " ".join(cmdline) else {}
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if any(str(var_dir) in part for part in cmdline) or env.get("FANGPIN_VAR_DIR") == str(
            var_dir
        ):
            found.append(proc)
    return found
