"""`fangpin screen`: offline screening of household JSON lines (CONTRACT section 3)."""

from __future__ import annotations

import ctypes
import fcntl
import gc
import mmap
import multiprocessing
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

import typer

from fangpin_cli.progress_mode import shows_progress
from fangpin_kit.parameters import ParameterError, load_section
from fangpin_screening.domain.batch import screen_bytes
from fangpin_screening.domain.engine import CompiledRuleset, compile_ruleset
from fangpin_screening.domain.parameters import SCREENING_SECTION

if TYPE_CHECKING:
    from fangpin_cli.progress import Tracker

BLOCK_BYTES: Final = 2 * 1024 * 1024
"""Input read per chunk; memory stays at a few chunks per worker whatever the input size."""

MAX_WORKERS: Final = 8

Reader = Callable[[int], bytes]
Writer = Callable[[bytes], object]

# slots of the shared state
_CARRY, _NEXT_CHUNK, _NEXT_LINE, _NEXT_WRITE, _EOF, _ABORT = range(6)


class _Aborted(Exception):
    """Another worker failed (or the CLI process is gone): stop without writing."""


def _read_upto(read: Reader, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the input (a pipe may return less per read)."""
    first = read(size)
    if len(first) == size or not first:
        return first
    pieces = [first]
    missing = size - len(first)
    while missing and (block := read(missing)):
        pieces.append(block)
        missing -= len(block)
    return b"".join(pieces)


class _Input:
    """The input cut into chunks of whole lines, in order, numbered by their first line.

    The state lives in shared memory (carry: bytes after the last newline read so far;
    counters) so that forked workers take chunks in turn from one file descriptor, each
    under the lock, with no byte passing through the CLI process. A final newline does not
    start another line; a last line without one is still a line.
    """

    def __init__(
        self, context: BaseContext, read: Reader, block_bytes: int, head_bytes: int = 0
    ) -> None:
        self.read = read
        self.block_bytes = block_bytes
        self.lock = context.Lock()
        # shared with forked children; a carry is at most one block (or the first bytes)
        self.carry = mmap.mmap(-1, max(block_bytes, head_bytes, 1))
        self.slots = context.RawArray(ctypes.c_longlong, 6)
        self.slots[_NEXT_LINE] = 1

    def _take_carry(self) -> bytes:
        size = self.slots[_CARRY]
        self.slots[_CARRY] = 0
        return self.carry[:size]

    def _keep_carry(self, data: bytes) -> None:
        self.carry[: len(data)] = data
        self.slots[_CARRY] = len(data)

    def start(self, head: bytes = b"") -> bool:
        """Read the first block (after `head`, bytes already taken from the stream).

        True when it holds the whole input: no worker is needed.
        """
        if len(head) < self.block_bytes:
            head += _read_upto(self.read, self.block_bytes - len(head))
        self._keep_carry(head)
        if len(head) < self.block_bytes:
            self.slots[_EOF] = 1
        return bool(self.slots[_EOF])

    def next_chunk(self) -> tuple[int, list[bytes], int] | None:
        """(chunk index, its lines, number of its first line), or None at the end or on abort.

        Lines are split here, under the lock, since their count numbers the next chunk.
        """
        with self.lock:
            if self.slots[_ABORT]:
                return None
            carry = self._take_carry()
            blocks: list[bytes] = []
            eof = bool(self.slots[_EOF])
            while not eof:
                block = _read_upto(self.read, self.block_bytes)
                eof = len(block) < self.block_bytes
                blocks.append(block)
                if block.rfind(b"\n") >= 0:
                    break
            data = blocks[0] if len(blocks) == 1 else b"".join(blocks)  # joined: a long line
            if eof:
                self.slots[_EOF] = 1
                if not carry and not data:
                    return None
            lines = data.split(b"\n")  # no copy of the block into a chunk of whole lines
            if b"\n" in carry:  # the first bytes, taken before any chunk: whole lines too
                head = carry.split(b"\n")
                head[-1] += lines[0]
                lines[:1] = head
            elif carry:
                lines[0] = carry + lines[0]
            if not eof:
                self._keep_carry(lines.pop())  # after the last newline: within the last block
            elif not lines[-1] and (data or carry).endswith(b"\n"):
                lines.pop()  # a final newline does not start another line
            index = self.slots[_NEXT_CHUNK]
            first_line = self.slots[_NEXT_LINE]
            self.slots[_NEXT_CHUNK] = index + 1
            self.slots[_NEXT_LINE] = first_line + len(lines)
            return index, lines, first_line


def read_chunks(stream: BinaryIO, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[bytes, int]]:
    """Split `stream` into blobs of whole lines (no final newline) and their first line number.

    A final newline does not start another line; a last line without one is still a line.
    """
    source = _Input(multiprocessing.get_context(), stream.read, block_bytes)
    source.start()
    while (chunk := source.next_chunk()) is not None:
        _, lines, first_line = chunk
        yield b"\n".join(lines), first_line


class _Output:
    """Writes chunks in input order: a chunk waits for its turn (shared counter)."""

    def __init__(self, context: BaseContext, write: Writer, slots: ctypes.Array[ctypes.c_longlong]):
        self.write = write
        self.turn = context.Condition()
        self.slots = slots
        self.parent = os.getpid()

    def put(self, index: int, data: bytes) -> None:
        """Write chunk `index` after every chunk before it."""
        with self.turn:
            while self.slots[_NEXT_WRITE] != index:
                if self.slots[_ABORT]:
                    raise _Aborted
                if not self.turn.wait(1.0) and self._orphaned():
                    raise _Aborted
        try:
            if self.slots[_ABORT]:
                raise _Aborted
            self.write(data)
        finally:
            with self.turn:
                self.slots[_NEXT_WRITE] = index + 1
                self.turn.notify_all()

    def abort(self) -> None:
        """Make every worker stop at its next chunk or turn."""
        with self.turn:
            self.slots[_ABORT] = 1
            self.turn.notify_all()

    def _orphaned(self) -> bool:
        return os.getpid() != self.parent and os.getppid() != self.parent


def _write_all(fd: int) -> Writer:
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    return write


def _screen(
    source: _Input,
    sink: _Output,
    ruleset: CompiledRuleset,
    after_chunk: Callable[[], None] | None = None,
) -> int:
    """Screen chunks until the input ends; returns the number of rejected lines.

    `after_chunk` (a progress sample, in this process only) runs after each chunk's output.
    """
    rejected = 0
    while (chunk := source.next_chunk()) is not None:
        index, lines, first_line = chunk
        result = screen_bytes(lines, first_line, ruleset)
        sink.put(index, result.data)
        rejected += result.rejected
        if after_chunk is not None:
            after_chunk()
    return rejected


SAMPLE_SECONDS: Final = 0.25
"""How often the CLI process looks how far its workers have read, when a progress line shows."""


class _Watch:
    """How far the input has been taken, read from what the workers share anyway.

    The file offset of the input's descriptor (one open file shared by every worker) less
    the carry (bytes read but not yet in a chunk) is the bytes taken; the next line number
    less one is the lines taken. Sampling costs the CLI process a `lseek` and the workers
    nothing.
    """

    def __init__(self, fd: int, slots: ctypes.Array[ctypes.c_longlong], track: Tracker) -> None:
        self.fd = fd
        self.slots = slots
        self.track = track

    def sample(self) -> None:
        """Push the bytes and lines taken so far to the progress line."""
        self.track.advance(self.slots[_NEXT_LINE] - 1 - self.track.done)
        taken = os.lseek(self.fd, 0, os.SEEK_CUR) - self.slots[_CARRY]
        self.track.position(max(taken, 0))
        self.track.push()  # both at once (each alone is throttled)


@dataclass(frozen=True)
class ProgressLine:
    """A progress line for the screen of a regular file of `size` bytes.

    Only made when standard error shows one (`fangpin_cli.progress.shows_progress`); it is
    drawn once the workers are forked (no display thread is running when they fork).
    """

    description: str
    size: int

    @contextmanager
    def watch(self, fd: int, slots: ctypes.Array[ctypes.c_longlong]) -> Iterator[_Watch]:
        """Show the line while the block runs; the last sample is drawn at its end."""
        from fangpin_cli.progress import progress  # rich: only when a line is drawn

        with progress(self.description, total=self.size, unit="households", rejects=False) as track:
            watch = _Watch(fd, slots, track)
            watch.sample()
            yield watch
            watch.sample()


def _worker(source: _Input, sink: _Output, ruleset: CompiledRuleset, report: Connection) -> None:
    gc.disable()  # decoded records hold no reference cycles; collection only costs time here
    try:
        report.send(("done", _screen(source, sink, ruleset)))
    except _Aborted:
        report.send(("aborted", 0))
    except BrokenPipeError:
        sink.abort()
        report.send(("broken_pipe", 0))
    except BaseException as exc:  # reported to the CLI process, which raises it there
        sink.abort()
        report.send(("failed", f"{type(exc).__name__}: {exc}"))


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


PIPE_BYTES: Final = 1 << 20


def widen_pipe(fd: int, size: int = PIPE_BYTES) -> bool:
    """Grow the pipe behind `fd` (when it is one) so writer and reader switch less often.

    Decision lines are about 3.5 KB each: with the default 64 KiB pipe, writing a million
    wakes the reader over fifty thousand times. Returns whether the size was changed.
    """
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    try:
        if setter is None or not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        fcntl.fcntl(fd, setter, size)
    except OSError:  # above /proc/sys/fs/pipe-max-size for this user: keep the default
        return False
    return True


def _default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cpus or 1))


def _fileno(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def screen_stream(
    source: BinaryIO,
    sink: BinaryIO,
    ruleset: CompiledRuleset,
    workers: int = 0,
    block_bytes: int = BLOCK_BYTES,
    show: ProgressLine | None = None,
) -> int:
    """Screen `source` into `sink` in input order; returns the number of rejected lines.

    An input of one block is screened in this process. A longer one is spread over
    `workers` forked processes (default: one per CPU, at most MAX_WORKERS) that read chunks
    in turn from the input's file descriptor and write their output to the sink's in input
    order, so no data passes through this process. Memory stays flat. With `show`, a
    progress line follows an input longer than a block (on a descriptor).
    """
    count = workers or _default_workers()
    forking = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forking else None)
    in_fd, out_fd = _fileno(source), _fileno(sink)
    head = _held(source) if in_fd is not None else b""
    # a duplicate, since a forked worker closes its standard input (descriptor 0)
    fd = os.dup(in_fd) if in_fd is not None else None
    try:
        read = source.read if fd is None else _read_fd(fd)
        chunks = _Input(context, read, block_bytes, len(head))
        sink.flush()
        output = _Output(
            context, sink.write if out_fd is None else _write_all(out_fd), chunks.slots
        )
        whole = chunks.start(head)
        if whole or fd is None:
            show = None  # one block, or no descriptor to look at: nothing to follow
        if whole or count == 1 or not forking or fd is None or out_fd is None:
            if show is None or fd is None:
                return _screen(chunks, output, ruleset)
            with show.watch(fd, chunks.slots) as watch:
                rejected = _screen(chunks, output, ruleset, watch.sample)
                watch.track.advance(0, rejected=rejected)
                return rejected
        watching = show.watch(fd, chunks.slots) if show is not None and fd is not None else None
        return _run_workers(context, chunks, output, ruleset, count, watching)
    finally:
        if fd is not None:
            os.close(fd)


def _held(stream: BinaryIO) -> bytes:
    """Bytes a buffered stream holds (at least one read's worth), taken out of its buffer.

    Reading its file descriptor afterwards continues exactly where the stream was.
    """
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    held: bytes = peek()  # the whole buffer; one read first if it was empty
    return stream.read(len(held)) if held else b""


def _read_fd(fd: int) -> Reader:
    return lambda size: os.read(fd, size)


def _run_workers(
    context: BaseContext,
    chunks: _Input,
    output: _Output,
    ruleset: CompiledRuleset,
    count: int,
    watching: AbstractContextManager[_Watch] | None = None,
) -> int:
    """Fork `count` workers, wait for their reports; a failure stops the others.

    With `watching`, the progress line starts once every worker is forked and is sampled
    every SAMPLE_SECONDS while waiting.
    """
    processes: list[BaseProcess] = []
    reports: dict[Connection, BaseProcess] = {}
    outcomes: list[tuple[str, object]] = []
    try:
        for _ in range(count):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(  # type: ignore[attr-defined]
                target=_worker, args=(chunks, output, ruleset, send), daemon=True
            )
            process.start()
            send.close()
            processes.append(process)
            reports[receive] = process
        with watching if watching is not None else nullcontext() as watch:
            timeout = None if watch is None else SAMPLE_SECONDS
            while reports:
                for ready in wait(list(reports), timeout):
                    assert isinstance(ready, Connection)
                    process = reports.pop(ready)
                    try:
                        outcome = ready.recv()
                    except EOFError:  # it died without a word (killed, out of memory)
                        process.join()
                        outcome = ("failed", f"worker exited with status {process.exitcode}")
                    ready.close()
                    outcomes.append(outcome)
                    if outcome[0] not in ("done", "aborted"):
                        output.abort()
                    elif watch is not None and isinstance(outcome[1], int):
                        watch.track.advance(0, rejected=outcome[1])
                if watch is not None:
                    watch.sample()
    finally:
        if reports:  # interrupted: let the others stop at their next chunk or turn
            output.abort()
        for process in processes:
            process.join(5.0)
            if process.is_alive():
                process.terminate()
                process.join()
    failures = [value for kind, value in outcomes if kind not in ("done", "aborted")]
    if any(kind == "broken_pipe" for kind, _ in outcomes):
        raise BrokenPipeError
    if failures:
        raise RuntimeError(f"screening worker failed: {failures[0]}")
    return sum(value for kind, value in outcomes if kind == "done" and isinstance(value, int))


_HEAD_BYTES: Final = 4096


def not_json_lines_hint(stream: BinaryIO, name: str) -> str | None:
    """What to say when the input does not start with a JSON object (a CSV header, a
    workbook): which format `fangpin screen` reads. The bytes looked at stay in the stream
    (peeked, or read and sought back); None when it starts like JSON Lines or cannot be
    looked at without consuming it."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = bytes(peek(1)[:_HEAD_BYTES])
    elif stream.seekable():
        where = stream.tell()
        head = stream.read(_HEAD_BYTES)
        stream.seek(where)
    else:
        return None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start or start.startswith(b"{"):
        return None
    what = "an Excel workbook" if head.startswith(b"PK\x03\x04") else "not JSON Lines"
    return (
        f"{name} is {what}: fangpin screen reads JSON Lines, one household record (a JSON "
        "object) per line; convert a CSV or XLSX file first with "
        "`fangpin households convert FILE -o FILE.jsonl`"
    )


def _progress_line(source: BinaryIO, name: str, sink: BinaryIO) -> ProgressLine | None:
    """A progress line when standard error shows one, the input is a regular file (its size
    known) and standard output is not the terminal (workers write there directly, which
    would tear the line; the decisions scrolling by show the progress there anyway)."""
    if not shows_progress():
        return None
    out_fd, in_fd = _fileno(sink), _fileno(source)
    if in_fd is None or (out_fd is not None and os.isatty(out_fd)):
        return None
    info = os.fstat(in_fd)
    if not stat.S_ISREG(info.st_mode):
        return None
    return ProgressLine(f"screen {Path(name).name}", info.st_size)


def _parse_as_of(value: str | None) -> date:
    if value is None:
        from fangpin_cli.today import today  # settings only when the date is not given

        return today()
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
    workers: int = typer.Option(
        0, "--workers", help="processes for large inputs (0: one per CPU, at most 8)"
    ),
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
    if (out_fd := _fileno(sink)) is not None:
        widen_pipe(out_fd)
    # Decoded records hold no reference cycles: collections would only walk the imported
    # modules again and again (tens of microseconds per household), so skip them here.
    gc.freeze()
    gc.disable()
    tune_malloc()
    try:
        if file == "-":
            hint = not_json_lines_hint(sys.stdin.buffer, "standard input")
            rejected = screen_stream(sys.stdin.buffer, sink, ruleset, workers)
        else:
            with Path(file).open("rb") as source:
                hint = not_json_lines_hint(source, file)
                show = _progress_line(source, file, sink)
                rejected = screen_stream(source, sink, ruleset, workers, show=show)
        sink.flush()
    except FileNotFoundError:
        typer.echo(f"fangpin screen: no such file: {file}", err=True)
        raise typer.Exit(2) from None
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as Unix filters do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    if hint is not None and rejected:
        typer.echo(f"fangpin screen: {hint}", err=True)
    raise typer.Exit(1 if rejected else 0)
