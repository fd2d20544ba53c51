"""`fangpin screen`: offline screening of household JSON lines (CONTRACT section 3)."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from multiprocessing.synchronize import Condition
from pathlib import Path
from typing import BinaryIO, Final

import typer
from fangpin_kit.parameters import ParameterError, load_section
from fangpin_screening.domain.batch import screen_lines
from fangpin_screening.domain.engine import CompiledRuleset, compile_ruleset
from fangpin_screening.domain.parameters import SCREENING_SECTION

BLOCK_BYTES: Final = 2 * 1024 * 1024
"""Input read per chunk; memory stays at a few chunks per worker whatever the input size."""

IN_FLIGHT_PER_WORKER: Final = 2


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


class _Worker:
    """State of a worker process: the ruleset and the turn that keeps output in input order.

    Workers write their chunk's lines straight to the output file descriptor when the shared
    counter says it is their chunk's turn, so decision text never travels back through pipes.
    """

    ruleset: CompiledRuleset
    turn: Condition
    next_chunk: ctypes.c_longlong
    out_fd: int
    parent: int


def _init_worker(
    ruleset: CompiledRuleset, turn: Condition, next_chunk: ctypes.c_longlong, out_fd: int
) -> None:
    _Worker.ruleset = ruleset
    _Worker.turn = turn
    _Worker.next_chunk = next_chunk
    _Worker.out_fd = out_fd
    _Worker.parent = os.getppid()
    gc.disable()  # decoded records hold no reference cycles; collection only costs time here


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _screen_chunk(sequence: int, blob: bytes, first_line: int) -> int:
    """Screen one chunk in a worker, write it at its turn; returns the rejected count."""
    data: bytes | None = None
    try:
        result = screen_lines(blob.split(b"\n"), first_line, _Worker.ruleset)
        data = result.text.encode("utf-8")
    finally:
        with _Worker.turn:
            while not _Worker.turn.wait_for(lambda: _Worker.next_chunk.value == sequence, 1.0):
                if os.getppid() != _Worker.parent:
                    os._exit(1)  # the CLI process is gone; nobody will take the turn
            try:
                if data is not None:
                    _write_all(_Worker.out_fd, data)
            finally:
                _Worker.next_chunk.value = sequence + 1
                _Worker.turn.notify_all()
    return result.rejected


_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def tune_malloc() -> bool:
    """Keep freed chunk buffers in the heap for reuse (glibc only; returns whether applied).

    Each chunk allocates tens of MiB of output text; by default glibc maps such blocks
    afresh and unmaps them on free, so every chunk pays first-touch page faults again (on a
    VM several times the cost of the copy itself). Reusing them keeps RSS flat at the peak of
    a few chunks.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = libc.mallopt
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) and mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))


def _default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(2, cpus or 1))


def _fileno(sink: BinaryIO) -> int | None:
    try:
        return sink.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def screen_stream(
    source: BinaryIO,
    sink: BinaryIO,
    ruleset: CompiledRuleset,
    workers: int = 0,
    block_bytes: int = BLOCK_BYTES,
) -> int:
    """Screen `source` into `sink` in input order; returns the number of rejected lines.

    An input of one chunk is screened in this process. A longer one is spread over `workers`
    forked processes (default: up to 2 CPUs), a bounded number of chunks in flight, each
    worker writing its chunk to the sink's file descriptor in turn. Memory stays flat.
    """
    chunks = read_chunks(source, block_bytes)
    first = next(chunks, None)
    if first is None:
        return 0
    second = next(chunks, None)
    count = workers or _default_workers()
    out_fd = _fileno(sink)
    forking = "fork" in multiprocessing.get_all_start_methods()
    rejected = 0
    if second is None or count == 1 or out_fd is None or not forking:
        for blob, line in _chain(first, second, chunks):
            result = screen_lines(blob.split(b"\n"), line, ruleset)
            sink.write(result.text.encode("utf-8"))
            rejected += result.rejected
        return rejected
    sink.flush()
    context = multiprocessing.get_context("fork")
    turn = context.Condition()
    next_chunk = context.Value("q", 0, lock=False)
    pending: deque[Future[int]] = deque()
    with ProcessPoolExecutor(
        max_workers=count,
        mp_context=context,
        initializer=_init_worker,
        initargs=(ruleset, turn, next_chunk, out_fd),
    ) as pool:
        for sequence, (blob, line) in enumerate(_chain(first, second, chunks)):
            pending.append(pool.submit(_screen_chunk, sequence, blob, line))
            if len(pending) >= IN_FLIGHT_PER_WORKER * count:
                rejected += pending.popleft().result()
        while pending:
            rejected += pending.popleft().result()
    return rejected


def _chain(
    first: tuple[bytes, int], second: tuple[bytes, int] | None, rest: Iterator[tuple[bytes, int]]
) -> Iterator[tuple[bytes, int]]:
    yield first
    if second is not None:
        yield second
        yield from rest


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
    # Decoded records hold no reference cycles: collections would only walk the imported
    # modules again and again (tens of microseconds per household), so skip them here.
    gc.freeze()
    gc.disable()
    tune_malloc()
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
