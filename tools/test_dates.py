"""Run the date-sensitive part of the suite as if the machine's clock said another day.

    python tools/test_dates.py                       # the default dates, see DATES
    python tools/test_dates.py 2027-02-08T09:00:00Z  # one instant (UTC), any number of them
    FANGPIN_TEST_DATES="2027-10-08 2028-02-29" python tools/test_dates.py

Every Python process of the run (pytest, the services it starts as separate processes, the
CLI) sees the shifted wall clock: `tools/shifted_clock/sitecustomize.py` starts time-machine
with one fixed offset in each of them, so time still flows and all processes agree.
nats-server and PostgreSQL keep the real clock, which changes nothing: the services read no
timestamp of theirs. (libfaketime was tried first: its `clock_nanosleep` breaks Python's
`time.sleep` with EINVAL.)

A date is run at 23:59 in China (15:59 UTC) of that day, so China's date changes during the
run: a test that reads the machine's date, or confuses UTC and China dates, fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DATES = ("2026-12-31", "2027-02-08", "2027-10-08", "2028-02-29")
"""Year end, Spring Festival week of a year chinesecalendar does not know, the day after the
National Day week, a leap day."""

TIME_OF_DAY = "15:59:00"  # UTC: 23:59 in China

# time-machine is imported by the hook before pytest could rewrite its plugin: say nothing
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning")

SUITE = (
    "services",  # every service's unit and integration tests
    "kit/tests",
    "tests/e2e/test_walking_skeleton.py",
    "tests/e2e/test_make_run.py",
)
"""What depends on "today": the services (their clocks, deadlines, calendars), the kit (clock,
calendar, runtime) and the suite end to end. The CLI's own today is covered by screening's CLI
tests; the CLI's other tests and the contracts tests run in `make test` only, which keeps CI
(`make test` then four dates) within 15 minutes on a 2-core machine."""


def instant(text: str) -> datetime:
    """`YYYY-MM-DD` (run at TIME_OF_DAY UTC) or a full ISO instant."""
    value = text if "T" in text else f"{text}T{TIME_OF_DAY}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_at(when: datetime, extra: list[str]) -> int:
    offset = (when - datetime.now(UTC)).total_seconds()
    hook = str(REPO / "tools" / "shifted_clock")
    path = os.pathsep.join(p for p in (hook, os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "FANGPIN_TEST_MACHINE_OFFSET": str(offset),
        # the stores run on SQLite only here: clocks are the services', never the database's,
        # so the PostgreSQL variants add nothing date-wise (`make test` runs both)
        "FANGPIN_TEST_PG": "off",
    }
    print(f"== test-dates: the machine's clock reads {when.isoformat()}", flush=True)
    started = time.monotonic()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *QUIET, *SUITE, *extra],
        cwd=REPO,
        env=env,
    )
    print(
        f"== test-dates: {when.date()} {'passed' if code == 0 else f'FAILED ({code})'} "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return code


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    extra = [a for a in argv if a.startswith("-")]
    chosen = args or os.environ.get("FANGPIN_TEST_DATES", "").split() or list(DATES)
    failed = [text for text in chosen if run_at(instant(text), extra) != 0]
    if failed:
        print(f"== test-dates: failed at {', '.join(failed)}", flush=True)
        return 1
    print(f"== test-dates: passed at {', '.join(chosen)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
