"""Import benchmark: `fangpin households import` of a GBK CSV and of an XLSX workbook.

Writes a county's households (demo generator, Chinese headers and labels, one row per member)
as a GBK CSV and as an XLSX workbook, starts nats-server and intake as separate processes on
SQLite (as `make run` does), and runs the CLI as a process on each file against a fresh store.
Prints time, households and rows per second, and the CLI's peak memory (RSS). Figures are
printed, not asserted.

    .venv/bin/python bench/import_files.py --households 100000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from fangpin_cli.csvformat import header_names, household_rows
from fangpin_cli.demo import DemoCounty, generate_households, id_number
from fangpin_cli.launcher import Suite
from fangpin_cli.xlsxformat import DATA_SHEET
from fangpin_contracts.household_columns import COLUMNS

COUNTY = "652827"
TODAY = date(2026, 6, 1)
CHUNK = 1000  # households generated per seed


def households(count: int) -> Iterator[dict[str, Any]]:
    """`count` valid households of one county, unique household ids and ID numbers.

    The demo generator repeats ID numbers beyond a county of about 1,700 households, so each
    chunk comes from its own seed and every member gets a fresh ID number here (region digits
    and sequence from a running counter; the birth date stays the member's)."""
    serial = 0
    for chunk, start in enumerate(range(0, count, CHUNK)):
        size = min(CHUNK, count - start)
        for n, record in enumerate(generate_households(DemoCounty(COUNTY, size, chunk), TODAY)):
            record["household_id"] = f"H{COUNTY}{start + n:07d}"
            for member in record["members"]:
                birth = date.fromisoformat(member["birth_date"])
                member["id_number"] = id_number(f"{110000 + serial // 1000:06d}", birth, serial)
                serial += 1
            yield record


def write_files(count: int, workdir: Path) -> tuple[Path, Path, int]:
    """The GBK CSV and the XLSX of `count` households; returns them and the member rows."""
    from openpyxl import Workbook

    csv_path = workdir / f"hh{count}_gbk.csv"
    xlsx_path = workdir / f"hh{count}.xlsx"
    header = header_names(COLUMNS, chinese=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(DATA_SHEET)
    sheet.append(header)
    rows = 0
    with csv_path.open("w", encoding="gbk", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(header)
        for record in households(count):
            for row in household_rows(record, COLUMNS, chinese=True):
                writer.writerow(["" if cell is None else cell for cell in row])
                sheet.append(row)
                rows += 1
    book.save(xlsx_path)
    return csv_path, xlsx_path, rows


def run_import(address: str, path: Path) -> tuple[float, str, int, float]:
    """(seconds, the CLI's summary line, its peak RSS in KiB, its CPU seconds) of one import."""
    env = {**os.environ, "FANGPIN_INTAKE_ADDR": address}
    cli = [sys.executable, "-m", "fangpin_cli.main", "households", "import", str(path)]
    started = time.perf_counter()
    process = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    summary = next((s for s in stderr.splitlines() if s.startswith("imported:")), stderr.strip())
    if process.returncode not in (0, 1):
        raise RuntimeError(f"import failed ({process.returncode}): {stderr}")
    return seconds, summary, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


async def measure(path: Path, households_count: int, rows: int, workdir: Path) -> None:
    """Import `path` into a fresh intake (its own store) and print the figures."""
    var = workdir / f"var-{path.suffix.lstrip('.')}"
    suite = Suite(
        var_dir=var,
        county=COUNTY,
        services=("intake",),
        env={"FANGPIN_EMBEDDED_NATS_PORT": "0", "FANGPIN_LOG_LEVEL": "WARNING"},
    )
    suite.start()
    try:
        await suite.wait_healthy(timeout=60)
        seconds, summary, rss, cpu = await asyncio.to_thread(
            run_import, suite.address("intake"), path
        )
    finally:
        suite.stop()
    created = re.search(r"(\d+) created", summary)
    size = path.stat().st_size / 2**20
    print(f"{path.name} ({size:.1f} MiB, {households_count:,} households, {rows:,} rows)")
    print(f"  {summary}")
    print(
        f"  {seconds:.1f} s: {households_count / seconds:,.0f} households/s, "
        f"{rows / seconds:,.0f} rows/s; the CLI: {cpu:.1f} s CPU, peak RSS {rss / 1024:.0f} MiB; "
        f"created {created.group(1) if created else '?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx", help="csv, xlsx or both")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fangpin-import-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        csv_path, xlsx_path, rows = write_files(args.households, workdir)
        print(f"files written in {time.perf_counter() - started:.1f} s")
        for name, path in (("csv", csv_path), ("xlsx", xlsx_path)):
            if name in args.formats.split(","):
                asyncio.run(measure(path, args.households, rows, workdir))


if __name__ == "__main__":
    main()
