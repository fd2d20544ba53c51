"""`fangpin screen`: offline screening of household JSON lines (CONTRACT section 3)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import BinaryIO, Final

import typer
from fangpin_kit.parameters import ParameterError, load_section
from fangpin_screening.domain.batch import ScreenedLines, screen_lines
from fangpin_screening.domain.engine import CompiledRuleset, compile_ruleset
from fangpin_screening.domain.parameters import SCREENING_SECTION

BLOCK_BYTES: Final = 2 * 1024 * 1024
"""Input read per chunk; memory stays at a few chunks per worker whatever the input size."""

_ruleset: CompiledRuleset | None = None


def read_chunks(stream: BinaryIO, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[bytes, int]]:
    """Split `stream` into blobs of whole lines (no final newline) and their first line number.

    A final newline does not start another line; a last line without one is still a line.
    """
    pending = b""
    line_number = 1
    while block := stream.read(block_bytes):
        data = pending + block if pending else block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        blob, pending = data[:cut], data[cut + 1 :]
        yield blob, line_number
        line_number += blob.count(b"\n") + 1
    if pending:
        yield pending, line_number


def _init_worker(ruleset: CompiledRuleset) -> None:
    global _ruleset
    _ruleset = ruleset
    gc.disable()  # decoded records hold no reference cycles; collection only costs time here


def _screen_blob(blob: bytes, first_line: int) -> tuple[bytes, int]:
    assert _ruleset is not None, "worker not initialized"
    result = screen_lines(blob.split(b"\n"), first_line, _ruleset)
    return result.text.encode("utf-8"), result.rejected


def _default_workers() -> int:
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def screen_stream(
    source: BinaryIO, sink: BinaryIO, ruleset: CompiledRuleset, workers: int = 0
) -> int:
    """Screen `source` into `sink` in input order; returns the number of rejected lines.

    The first chunk is screened in this process; only a longer input starts `workers`
    processes (default: up to 2), each given whole chunks, with a bounded number in flight.
    """
    chunks = read_chunks(source)
    first = next(chunks, None)
    if first is None:
        return 0
    second = next(chunks, None)
    count = workers or _default_workers()
    rejected = 0
    if second is None or count == 1:
        for blob, line in _chain(first, second, chunks):
            rejected += _write(sink, screen_lines(blob.split(b"\n"), line, ruleset))
        return rejected
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pending: deque[Future[tuple[bytes, int]]] = deque()
    with ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(ruleset,),
    ) as pool:
        for blob, line in _chain(first, second, chunks):
            pending.append(pool.submit(_screen_blob, blob, line))
            if len(pending) > 2 * count:
                rejected += _drain(sink, pending.popleft())
        while pending:
            rejected += _drain(sink, pending.popleft())
    return rejected


def _chain(
    first: tuple[bytes, int], second: tuple[bytes, int] | None, rest: Iterator[tuple[bytes, int]]
) -> Iterator[tuple[bytes, int]]:
    yield first
    if second is not None:
        yield second
        yield from rest


def _drain(sink: BinaryIO, future: Future[tuple[bytes, int]]) -> int:
    text, rejected = future.result()
    sink.write(text)
    return rejected


def _write(sink: BinaryIO, result: ScreenedLines) -> int:
    sink.write(result.text.encode("utf-8"))
    return result.rejected


def _parse_as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("invalid")
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a YYYY-MM-DD date", param_hint="--as-of"
        ) from None


def _parse_province(value: str | None) -> str | None:
    if value is not None and not (len(value) == 2 and value.isdigit()):
        raise typer.BadParameter(
            f"{value!r} is not a 2-digit province code", param_hint="--province"
        )
    return value


def screen(
    file: str = typer.Argument("-", help="household records as JSON Lines; - for stdin"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="decision date YYYY-MM-DD (default today)"
    ),
    province: str | None = typer.Option(None, "--province", help="2-digit province code"),
    workers: int = typer.Option(0, "--workers", help="processes for large inputs (0: up to 2)"),
) -> None:
    """Screen household records (JSON Lines) offline: one decision line per input line.

    Exit status 0 when every line was decided, 1 when any line was rejected (a rejected line
    still gets an output line with `error`), 2 on bad options or rulesets.
    """
    day = _parse_as_of(as_of)
    code = _parse_province(province)
    try:
        ruleset = compile_ruleset(load_section(SCREENING_SECTION), day, code)
    except ParameterError as exc:
        typer.echo(f"fangpin screen: {exc}", err=True)
        raise typer.Exit(2) from None
    sink = sys.stdout.buffer
    try:
        if file == "-":
            rejected = screen_stream(sys.stdin.buffer, sink, ruleset, workers)
        else:
            with Path(file).open("rb") as source:
                rejected = screen_stream(source, sink, ruleset, workers)
        sink.flush()
    except FileNotFoundError:
        typer.echo(f"fangpin screen: no such file: {file}", err=True)
        raise typer.Exit(2) from None
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as Unix filters do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    raise typer.Exit(1 if rejected else 0)
