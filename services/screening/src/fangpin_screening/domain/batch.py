"""Screening of JSON lines: one decision or rejection line per input line, in input order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from fangpin_contracts.household import RecordError, decode_lines, household_id_of
from fangpin_kit.masking import mask_text

from .engine import CompiledRuleset, decide_batch

_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class ScreenedLines:
    """Output of a chunk: newline-terminated JSON lines, and how many inputs were rejected."""

    text: str
    rejected: int


def rejection_line(line: int, household_id: str | None, error: RecordError) -> str:
    """`{"line": N, "household_id": ... or null, "error": "path: reason"}` (ID numbers masked)."""
    return _ENCODE(
        {"line": line, "household_id": household_id, "error": mask_text(str(error))}
    ).decode()


def screen_lines(
    lines: Sequence[bytes], first_line: int, ruleset: CompiledRuleset
) -> ScreenedLines:
    """Decide every line (`first_line` is the 1-based number of `lines[0]`).

    A line that is not a valid v1 record (including a blank line) yields a rejection line
    naming the field path; the other lines are decided in one batch.
    """
    households, origin, errors = decode_lines(lines)
    batch = decide_batch(households, ruleset)
    rendered = batch.render_lines()
    for k in batch.invalid.nonzero()[0].tolist():
        error = batch.error(k)
        assert error is not None
        errors[origin[k]] = error
    if not errors:
        return ScreenedLines("\n".join(rendered) + "\n" if rendered else "", 0)
    out = [""] * len(lines)
    for k, index in enumerate(origin):
        out[index] = rendered[k]
    for index, error in errors.items():
        out[index] = rejection_line(first_line + index, household_id_of(lines[index]), error)
    return ScreenedLines("\n".join(out) + "\n", len(errors))
