"""Screening benchmark: end-to-end `fangpin screen` throughput, RSS, parse floor, decide latency.

    .venv/bin/python bench/screening.py [--n 1000000] [--runs 3] [--input FILE] [--to-file]

Generates synthetic households (JSON lines, one in a thousand with a bad ID check digit),
then per run measures the floor and the CLI in turn, so each ratio compares figures taken
under the same machine load. A floor is the plain loop any screener must beat: the same
file read in the CLI's block size, split into lines and parsed, GC off; once in 1 process
and once in as many processes as the CLI has workers. Two parsers: `msgspec.json.decode`
(untyped; the JSON library of the reference path) per line, and the CLI's own columnar
decoder (C, straight into columns) per block, which is what the CLI parses valid lines with.
Without the columnar extension (not built, or `FANGPIN_SCREEN_REFERENCE_ONLY=1`) the CLI runs
the reference path: the benchmark says which path ran and skips the columnar floor.
The CLI runs as installed (bytecode cached in a temporary directory), its output read
through a pipe by this process (newlines counted with numpy) or written to a temporary file.
CPU time is user + system of the CLI and its workers.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import quantiles

import msgspec
import numpy as np
import psutil

from fangpin_contracts.household import Household, decode_household
from fangpin_kit.parameters import load_section
from fangpin_screening.domain import fastpath
from fangpin_screening.domain.engine import compile_ruleset, decide
from fangpin_screening.domain.lines import LINE_DECODER
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


def _lines_in_block(fd: int, size: int, start: int, block_bytes: int) -> list[bytes]:
    """The lines of the file whose first byte lies in [start, start + block_bytes)."""
    begin = max(start - 1, 0)
    data = os.pread(fd, start + block_bytes - begin, begin)
    while begin + len(data) < size and data.find(b"\n", start + block_bytes - 1 - begin) < 0:
        data += os.pread(fd, block_bytes, begin + len(data))  # finish the line across the end
    first = 0 if start == 0 else data.find(b"\n") + 1
    if start and (first == 0 or first > start + block_bytes - 1 - begin or begin + first >= size):
        return []  # no line starts in this block (it lies inside a long line, or at the end)
    end = data.find(b"\n", min(start + block_bytes - 1 - begin, len(data) - 1))
    return data[first : end if end >= 0 else len(data)].split(b"\n")


def _parse_blocks(path: Path, part: int, parts: int, block_bytes: int, columnar: bool) -> int:
    """Parse every line starting in blocks part, part + parts, ...: each line with
    `msgspec.json.decode`, or each block's lines at once with the columnar decoder."""
    decode = msgspec.json.decode
    count = 0
    size = path.stat().st_size
    with path.open("rb", buffering=0) as stream:
        for start in range(part * block_bytes, size, parts * block_bytes):
            lines = _lines_in_block(stream.fileno(), size, start, block_bytes)
            if columnar:
                assert LINE_DECODER is not None, "the columnar floor needs the extension"
                LINE_DECODER.decode(lines)
            else:
                for line in lines:
                    decode(line)
            count += len(lines)
    return count


def parse_floor(path: Path, processes: int, columnar: bool = False) -> tuple[float, int]:
    """Seconds and lines of the floor: the file read in the CLI's block size, split into lines
    and every line parsed with `msgspec.json.decode` (untyped, into dicts) or, with
    `columnar`, by the CLI's columnar decoder into columns; in `processes` forked processes
    each taking every `processes`-th block. Garbage collection is off, as in the CLI."""
    gc.disable()
    start = time.perf_counter()
    if processes == 1:
        lines = _parse_blocks(path, 0, 1, BLOCK_BYTES, columnar)
    else:
        children = []
        for part in range(processes):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                parsed = _parse_blocks(path, part, processes, BLOCK_BYTES, columnar)
                os.write(write, str(parsed).encode())
                os._exit(0)
            os.close(write)
            children.append((pid, read))
        lines = 0
        for pid, read in children:
            with os.fdopen(read, "rb") as answer:
                lines += int(answer.read())
            os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed, lines


def _fangpin() -> str:
    return shutil.which("fangpin", path=os.path.dirname(sys.executable)) or "fangpin"


CLI_ENV = dict(os.environ)


def cache_bytecode(directory: Path) -> None:
    """Let the CLI cache compiled modules (outside the tree), as an installed package does."""
    CLI_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    CLI_ENV["PYTHONPYCACHEPREFIX"] = str(directory)


def cli_screening_path() -> str:
    """Which path `fangpin screen` runs with this benchmark's environment, and why."""
    probe = "from fangpin_screening.domain.fastpath import PATH, WHY_NOT; print(PATH, WHY_NOT)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=CLI_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    path, _, why = result.stdout.strip().partition(" ")
    if path == "columnar":
        return "columnar (the C extension decodes valid lines and assembles the output)"
    return f"reference (the columnar extension is not used: {why}): the slow path's figures"


def startup_seconds(runs: int = 3) -> float:
    """Best wall time of `fangpin screen` on an empty input: process start and imports."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [_fangpin(), "screen", os.devnull, "--as-of", AS_OF.isoformat()],
            check=True,
            env=CLI_ENV,
            stderr=subprocess.PIPE,  # the path warning, if any: printed once at import here
        )
        best = min(best, time.perf_counter() - start)
    return best


@dataclass(frozen=True)
class Run:
    """One end-to-end run of the CLI."""

    seconds: float
    cpu_seconds: float  # user + system of the CLI and its workers
    status: int
    lines: int
    size: int
    tree_rss: int  # peak of the RSS summed over the process tree
    single_rss: int  # peak RSS of the largest process
    load: tuple[float, float]  # 1-minute load average before and after


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count_newlines(block: memoryview) -> int:
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def run_cli(path: Path, out: Path | None, workers: int = 0) -> Run:
    """Run `fangpin screen` on `path`, its output into `out` or read back through a pipe.

    The pipe reader counts newlines with numpy into a reused buffer, so the benchmark's own
    share of the two CPUs stays small.
    """
    cmd = [_fangpin(), "screen", str(path), "--as-of", AS_OF.isoformat()]
    if workers:
        cmd += ["--workers", str(workers)]
    peak_tree = peak_single = 0
    lines = size = 0
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    sink = out.open("wb") if out is not None else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=sink, env=CLI_ENV)
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
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        reader = proc.stdout.raw  # type: ignore[attr-defined]
        while got := reader.readinto(buffer):
            lines += _count_newlines(view[:got])
            size += got
            if time.perf_counter() - last_sample > 0.05:
                sample()
    while proc.poll() is None:
        sample()
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if out is not None:
        sink.close()  # type: ignore[union-attr]
        size = out.stat().st_size
        with out.open("rb", buffering=0) as produced:
            buffer = bytearray(1 << 20)
            view = memoryview(buffer)
            while got := produced.readinto(buffer):
                lines += _count_newlines(view[:got])
    return Run(
        seconds,
        cpu,
        proc.returncode,
        lines,
        size,
        peak_tree,
        peak_single,
        (load_before, os.getloadavg()[0]),
    )


def single_latency(path: Path, samples: int) -> dict[str, float]:
    """Microseconds of `decide` on one already-decoded household, in-process: wall-clock
    p50/p99/max, and p50/p99 of this thread's CPU time (which other processes' load does not
    stretch)."""
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
    wall, cpu = [], []
    for h in households:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        decide(h, ruleset)
        cpu.append((time.thread_time_ns() - c0) / 1000)
        wall.append((time.perf_counter_ns() - t0) / 1000)
    cuts, cpu_cuts = quantiles(wall, n=100), quantiles(cpu, n=100)
    return {
        "p50": cuts[49],
        "p99": cuts[98],
        "max": max(wall),
        "cpu_p50": cpu_cuts[49],
        "cpu_p99": cpu_cuts[98],
    }


def _ratios(seconds: float, floors: dict[str, float], workers: int) -> str:
    """`floors (ratio)` of one run, e.g. `msgspec 5.0 s / 2.6 s (1.5x / 2.9x)`."""
    parts = []
    for name in PARSERS:
        one, many = floors[f"{name}/1"], floors[f"{name}/{workers}"]
        parts.append(
            f"{name} {one:.2f} s / {many:.2f} s ({seconds / one:.2f}x / {seconds / many:.2f}x)"
        )
    return f"floors (1 / {workers} processes) and ratios: " + "; ".join(parts)


PARSERS = ("msgspec", "columnar") if fastpath.COLUMNAR is not None else ("msgspec",)
"""The floors measured: the columnar one only when the extension is there."""


def _workers(requested: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return requested or max(1, min(8, cpus or 1))  # the CLI's default: one per CPU, at most 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="households to generate")
    parser.add_argument("--input", type=Path, help="screen this JSONL file instead (--n ignored)")
    parser.add_argument("--runs", type=int, default=3, help="end-to-end runs (best and median)")
    parser.add_argument(
        "--workers", type=int, default=0, help="--workers for the CLI (0: its default)"
    )
    parser.add_argument("--samples", type=int, default=2000, help="single-decision samples")
    parser.add_argument(
        "--to-file", action="store_true", help="write decisions to a temp file instead of a pipe"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    workers = _workers(args.workers)
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    workdir = Path(tempfile.mkdtemp(prefix="fangpin-bench-"))
    cache_bytecode(workdir / "pycache")
    try:
        if args.input:
            data = args.input
        else:
            data = workdir / "households.jsonl"
            t0 = time.perf_counter()
            generate(data, args.n)
            print(
                f"generated {args.n:,} households ({args.n // 1000:,} with a bad ID check digit) "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        size_in = data.stat().st_size
        with data.open("rb", buffering=0) as stream:
            buffer, n = bytearray(1 << 20), 0
            while got := stream.readinto(buffer):
                n += _count_newlines(memoryview(buffer)[:got])
        print(f"input: {n:,} lines, {size_in / 2**20:,.0f} MiB")
        print(f"screening path of `fangpin screen`: {cli_screening_path()}")
        startup = startup_seconds()
        print(f"CLI start-up (`fangpin screen` of an empty input, best of 3): {startup:.2f} s")
        print(
            "floors: the file read in the CLI's block size and split into lines, GC off, in 1 "
            f"process and in as many processes as the CLI has workers ({workers}), which take "
            "the blocks in turn; 'msgspec': each line parsed by msgspec.json.decode (untyped, "
            "the JSON library of the reference path); 'columnar': each block's lines parsed "
            "into columns by the CLI's columnar decoder (what the CLI parses with; measured "
            "only when the extension is there)"
        )
        out = workdir / "decisions.jsonl" if args.to_file else None
        where = "a temp file" if out is not None else "a pipe read by this benchmark"
        print(f"fangpin screen --workers {workers}, output to {where}:")
        runs: list[tuple[Run, dict[str, float]]] = []
        for k in range(args.runs):
            floors: dict[str, float] = {}
            for name in PARSERS:
                columnar = name == "columnar"
                for processes in (1, workers):
                    seconds, counted = parse_floor(data, processes, columnar)
                    assert counted == n, (name, processes, counted, n)
                    floors[f"{name}/{processes}"] = seconds
            run = run_cli(data, out, args.workers)
            runs.append((run, floors))
            print(
                f"  run {k + 1}: {run.seconds:.2f} s, {n / run.seconds:,.0f} households/s, "
                f"exit {run.status}, {run.lines:,} lines, {run.size / 2**20:,.0f} MiB out; "
                f"CPU {run.cpu_seconds:.1f} s ({run.cpu_seconds / n * 1e6:.1f} us/household); "
                f"peak RSS {run.tree_rss / 2**20:,.0f} MiB tree, "
                f"{run.single_rss / 2**20:,.0f} MiB largest; "
                f"load {run.load[0]:.1f} -> {run.load[1]:.1f}"
            )
            print("    " + _ratios(run.seconds, floors, workers))
            if run.lines != n:
                print(f"  !! {run.lines:,} output lines for {n:,} input lines")
        best, floors = min(runs, key=lambda r: r[0].seconds)
        median = sorted(r[0].seconds for r in runs)[len(runs) // 2]
        print(
            f"best: {best.seconds:.2f} s ({n / best.seconds:,.0f} households/s, "
            f"{(best.seconds - startup):.2f} s without start-up); median {median:.2f} s; "
            f"peak RSS {max(r[0].tree_rss for r in runs) / 2**20:,.0f} MiB tree / "
            f"{max(r[0].single_rss for r in runs) / 2**20:,.0f} MiB largest process"
        )
        print("  best run's " + _ratios(best.seconds, floors, workers))
        cpu = min(r[0].cpu_seconds for r in runs)
        print(
            f"CPU time of the CLI tree: {cpu:.1f} s ({cpu / n * 1e6:.1f} us/household); "
            f"on {workers} otherwise idle CPUs that is {cpu / workers:.1f} s of wall time"
        )
        latency = single_latency(data, args.samples)
        print(
            f"single-household decide (in-process, {args.samples} samples): "
            f"p50 {latency['p50']:.0f} us, p99 {latency['p99']:.0f} us, "
            f"max {latency['max']:.0f} us wall-clock; CPU time p50 {latency['cpu_p50']:.0f} us, "
            f"p99 {latency['cpu_p99']:.0f} us"
        )
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
