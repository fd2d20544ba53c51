"""Screening of JSON lines: one decision or rejection line per input line, in input order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from fangpin_contracts.household import RecordError, household_id_of
from fangpin_kit.masking import mask_text

from .engine import CompiledRuleset, decide_population
from .lines import population_of_lines

_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class ScreenedLines:
    """Output of a chunk: newline-terminated JSON lines, and how many inputs were rejected."""

    text: str
    rejected: int


@dataclass(frozen=True)
class ScreenedBlock:
    """Output of a block of lines as UTF-8 bytes (newline-terminated lines), and rejections."""

    data: bytes
    rejected: int


def rejection_line(line: int, household_id: str | None, error: RecordError) -> str:
    """`{"line": N, "household_id": ... or null, "error": "path: reason"}` (ID numbers masked)."""
    return _ENCODE(
        {"line": line, "household_id": household_id, "error": mask_text(str(error))}
    ).decode()


def screen_bytes(
    lines: Sequence[bytes], first_line: int, ruleset: CompiledRuleset, columnar: bool = True
) -> ScreenedBlock:
    """Decide every line (`first_line` is the 1-based number of `lines[0]`), as UTF-8.

    A line that is not a valid v1 record (including a blank line) yields a rejection line
    naming the field path; the other lines are decided in one batch. `columnar=False` skips
    the columnar decoder (see `population_of_lines`): the same output, slower.
    """
    population, origin, errors = population_of_lines(lines, columnar)
    batch = decide_population(population, ruleset)
    for k in np.flatnonzero(batch.invalid).tolist():
        error = batch.error(k)
        assert error is not None
        errors[origin[k]] = error
    if not errors and np.array_equal(origin, np.arange(len(lines))):
        return ScreenedBlock(batch.render(), 0)
    order = np.empty(len(lines), dtype=np.int64)
    order[origin] = np.arange(len(origin))
    rejections = []
    for index, error in errors.items():
        text = rejection_line(first_line + index, household_id_of(lines[index]), error)
        rejections.append(text.encode("utf-8") + b"\n")
        order[index] = -len(rejections)
    return ScreenedBlock(batch.render(order, rejections), len(errors))


def screen_lines(
    lines: Sequence[bytes], first_line: int, ruleset: CompiledRuleset, columnar: bool = True
) -> ScreenedLines:
    """`screen_bytes` as text."""
    block = screen_bytes(lines, first_line, ruleset, columnar)
    return ScreenedLines(block.data.decode("utf-8"), block.rejected)


def screen_block(blob: bytes, first_line: int, ruleset: CompiledRuleset) -> ScreenedBlock:
    """`screen_bytes` of the lines of `blob` (separated by newlines, no final one)."""
    return screen_bytes(blob.split(b"\n"), first_line, ruleset)
