"""Screening benchmark: end-to-end `fangpin screen` throughput, RSS, parse floor, decide latency."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import quantiles
from typing import BinaryIO

import msgspec
import psutil
from fangpin_contracts.household import Household, decode_household
from fangpin_kit.parameters import load_section
from fangpin_screening.domain.engine import compile_ruleset, decide
from fangpin_screening.domain.parameters import SCREENING_SECTION

AS_OF = date(2024, 6, 29)
BLOCK_BYTES = 2 * 1024 * 1024
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(rng: random.Random, birth: date, valid: bool = True) -> str:
    body = f"652827{birth:%Y%m%d}{rng.randrange(1000):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


def _member(rng: random.Random, relation: str) -> dict[str, object]:
    age = {"head": (25, 75), "spouse": (25, 75), "child": (1, 30), "parent": (55, 95)}[relation]
    birth = AS_OF - timedelta(days=rng.randrange(age[0] * 365, age[1] * 365))
    member: dict[str, object] = {
        "id_number": _id_number(rng, birth),
        "name": f"成员{rng.randrange(1000)}",
        "relation": relation,
        "birth_date": birth.isoformat(),
        "labor_capacity": rng.choices(["full", "weak", "semi", "none"], [6, 1, 1, 2])[0],
        "employment": rng.choice(
            ["farming", "local_job", "migrant_stable", "migrant_unstable", "none"]
        ),
    }
    if rng.random() < 0.1:
        member["illness"] = rng.choice(["chronic", "serious"])
    if rng.random() < 0.04:
        member["disability_grade"] = rng.randint(1, 4)
    if relation == "child":
        member["school_stage"] = rng.choice(["none", "primary", "junior", "senior", "vocational"])
        if rng.random() < 0.01:
            member["out_of_school"] = True
    if rng.random() < 0.03:
        member["medical_insured"] = False
    if rng.random() < 0.01:
        member["village_leader"] = True
    return member


def _household(rng: random.Random, index: int) -> dict[str, object]:
    relations = ["head", *rng.choices(["spouse", "child", "parent"], k=rng.randint(0, 5))]
    household: dict[str, object] = {
        "household_id": f"H{index:09d}",
        "region": {
            "county": "652827",
            "town": "652827100",
            "village": f"652827100{rng.randrange(200):03d}",
        },
        "formerly_poor": rng.random() < 0.3,
        "members": [_member(rng, r) for r in relations],
        "income": {
            "wage": float(rng.randrange(0, 60000, 100)),
            "business": float(rng.randrange(0, 40000, 100)),
            "transfer": float(rng.randrange(0, 6000, 100)),
            "property": 0,
            "production_costs": float(rng.randrange(0, 3000, 100)),
        },
        "expenses": {"medical_self_paid": float(rng.randrange(0, 20000, 100))},
    }
    if rng.random() < 0.05:
        household["housing_safe"] = False
    if rng.random() < 0.05:
        household["assets"] = {"vehicle": True}
    if rng.random() < 0.05:
        kind = rng.choice(
            ["disaster", "accident", "industry_failure", "serious_illness", "job_loss"]
        )
        when = AS_OF - timedelta(days=rng.randrange(0, 500))
        household["events"] = [{"kind": kind, "date": when.isoformat(), "loss": 5000}]
    return household


def generate(path: Path, n: int, seed: int = 7, bad_every: int = 1000) -> None:
    """Write `n` synthetic households as JSON lines; every `bad_every`-th has a bad ID check digit.

    Lines are assembled from a pool of pre-encoded members and household bodies, so a million
    households take seconds, with realistic variety of sizes, incomes and facts.
    """
    rng = random.Random(seed)
    encode = msgspec.json.encode
    pool = 4096
    bodies = []
    for k in range(pool):
        h = _household(rng, k)
        members = h.pop("members")
        rest = encode(h)[1:-1]  # `"household_id":"H...",...` without braces
        bodies.append((rest.split(b",", 1)[1], [encode(m) for m in members]))  # type: ignore[union-attr]
    with path.open("wb") as out:
        buffer: list[bytes] = []
        for i in range(n):
            rest, members = bodies[rng.randrange(pool)]
            if bad_every and i % bad_every == bad_every - 1:
                members = [members[0].replace(b'"id_number":"', b'"id_number":"X', 1)]
            line = b'{"household_id":"H%09d",%s,"members":[%s]}' % (i, rest, b",".join(members))
            buffer.append(line)
            if len(buffer) >= 10000:
                out.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")


def _read_lines(stream: BinaryIO) -> int:
    decode = msgspec.json.decode
    pending = b""
    count = 0
    while block := stream.read(BLOCK_BYTES):
        data = pending + block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        for line in data[:cut].split(b"\n"):
            decode(line)
            count += 1
        pending = data[cut + 1 :]
    return count


def parse_floor(path: Path) -> float:
    """Seconds to read the file in the CLI's chunks and parse every line with msgspec (untyped)."""
    import gc

    gc.disable()
    start = time.perf_counter()
    with path.open("rb") as stream:
        _read_lines(stream)
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def _fangpin() -> str:
    return shutil.which("fangpin", path=os.path.dirname(sys.executable)) or "fangpin"


def startup_seconds() -> float:
    """Wall time of `fangpin screen` on an empty input: process start and imports."""
    start = time.perf_counter()
    subprocess.run([_fangpin(), "screen", os.devnull, "--as-of", AS_OF.isoformat()], check=True)
    return time.perf_counter() - start


def run_cli(path: Path, out: Path | None) -> tuple[float, int, int, int, int, int]:
    """Run `fangpin screen` on `path`, its output into `out` or read back through a pipe.

    Returns (seconds, exit status, output lines, output bytes, peak RSS summed over the
    process tree, peak RSS of the largest process).
    """
    cmd = [_fangpin(), "screen", str(path), "--as-of", AS_OF.isoformat()]
    peak_tree = peak_single = 0
    lines = size = 0
    start = time.perf_counter()
    sink = out.open("wb") if out is not None else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=sink)
    parent = psutil.Process(proc.pid)
    last_sample = 0.0

    def sample() -> None:
        nonlocal peak_tree, peak_single, last_sample
        last_sample = time.perf_counter()
        try:
            rss = [p.memory_info().rss for p in [parent, *parent.children(recursive=True)]]
        except psutil.Error:
            return
        peak_tree = max(peak_tree, sum(rss))
        peak_single = max(peak_single, *rss, 0)

    if proc.stdout is not None:
        while block := proc.stdout.read(1 << 20):
            lines += block.count(b"\n")
            size += len(block)
            if time.perf_counter() - last_sample > 0.05:
                sample()
    while proc.poll() is None:
        sample()
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if out is not None:
        sink.close()  # type: ignore[union-attr]
        size = out.stat().st_size
        with out.open("rb") as produced:
            lines = sum(block.count(b"\n") for block in iter(lambda: produced.read(1 << 20), b""))
    return seconds, proc.returncode, lines, size, peak_tree, peak_single


def single_latency(path: Path, samples: int) -> tuple[float, float, float]:
    """p50, p99 and max microseconds of `decide` on one already-decoded household, in-process."""
    ruleset = compile_ruleset(load_section(SCREENING_SECTION), AS_OF)
    households: list[Household] = []
    with path.open("rb") as stream:
        for line in stream:
            try:
                households.append(decode_household(line))
            except ValueError:
                continue
            if len(households) >= samples:
                break
    for h in households[:50]:
        decide(h, ruleset)  # warm-up: template caches, numpy dispatch
    timings = []
    for h in households:
        t0 = time.perf_counter_ns()
        decide(h, ruleset)
        timings.append((time.perf_counter_ns() - t0) / 1000)
    cuts = quantiles(timings, n=100)
    return cuts[49], cuts[98], max(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="households to generate")
    parser.add_argument("--samples", type=int, default=2000, help="single-decision samples")
    parser.add_argument(
        "--to-file", action="store_true", help="write decisions to a temp file instead of a pipe"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fangpin-bench-"))
    try:
        data = workdir / "households.jsonl"
        t0 = time.perf_counter()
        generate(data, args.n)
        size_in = data.stat().st_size
        print(
            f"generated {args.n:,} households ({args.n // 1000:,} with a bad ID check digit), "
            f"{size_in / 2**20:,.0f} MiB in {time.perf_counter() - t0:.1f} s"
        )
        floor = parse_floor(data)
        startup = startup_seconds()
        out = workdir / "decisions.jsonl" if args.to_file else None
        seconds, status, lines, size_out, tree_rss, single_rss = run_cli(data, out)
        where = "a temp file" if out is not None else "a pipe read by this benchmark"
        print(
            f"parse floor (read in the CLI's chunks + msgspec.json.decode per line, 1 process): "
            f"{floor:.2f} s, {args.n / floor:,.0f} lines/s"
        )
        print(
            f"fangpin screen end to end, output to {where}: {seconds:.2f} s, "
            f"{args.n / seconds:,.0f} households/s, exit {status}, {lines:,} lines, "
            f"{size_out / 2**20:,.0f} MiB"
        )
        print(f"  of which CLI start-up (imports, empty input): {startup:.2f} s")
        print(
            f"  without start-up: {seconds - startup:.2f} s, "
            f"{args.n / max(seconds - startup, 1e-9):,.0f} households/s"
        )
        bare = (seconds - startup) / floor
        print(f"ratio to floor: {seconds / floor:.2f}x ({bare:.2f}x without start-up)")
        print(
            f"peak RSS: {tree_rss / 2**20:,.0f} MiB summed over the process tree, "
            f"{single_rss / 2**20:,.0f} MiB largest process"
        )
        p50, p99, worst = single_latency(data, args.samples)
        print(
            f"single-household decide (in-process, {args.samples} samples): "
            f"p50 {p50:.0f} us, p99 {p99:.0f} us, max {worst:.0f} us"
        )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
