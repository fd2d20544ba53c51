"""A batch of JSON lines as a Population: plainly valid lines straight into columns, the rest
through the reference decoder (which names the field of each error). Without the columnar
extension (see `fastpath`) every line goes through the reference decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from fangpin_contracts.household import (
    ID_CHECK_CHARS,
    ID_CHECK_WEIGHTS,
    TEXT_SHAPES,
    Assets,
    Expenses,
    Flags,
    Household,
    Income,
    RecordError,
    decode_lines,
)

from .fastpath import COLUMNAR
from .population import (
    EMPLOYMENT,
    EVENT_KIND,
    HUKOU,
    ILLNESS,
    LABOR,
    SAFETY_NET,
    SCHOOL,
    Population,
    population_of,
)

if TYPE_CHECKING:
    from fangpin_columnar import ColumnarDecoder, Columns

SLICE_LINES: Final = 512
"""Lines the reference path decodes and turns into columns at a time (see `_reference`)."""

_HOUSEHOLD_KEEP: Final = {
    "household_id": None,
    "members": None,
    "formerly_poor": None,
    "housing_safe": None,
    "drinking_water_safe": None,
    "safety_net": SAFETY_NET,
    **{f"income.{name}": None for name in Income.__struct_fields__},
    **{f"expenses.{name}": None for name in Expenses.__struct_fields__},
    **{f"assets.{name}": None for name in Assets.__struct_fields__},
    **{f"flags.{name}": None for name in Flags.__struct_fields__},
}
_PERSON_KEEP: Final = {
    "hukou": HUKOU,
    "labor_capacity": LABOR,
    "employment": EMPLOYMENT,
    "illness": ILLNESS,
    "school_stage": SCHOOL,
    "urban_security": None,
    "village_leader": None,
    "out_of_school": None,
    "high_fee_school": None,
    "medical_insured": None,
    "disability_grade": None,
    "birth_date": None,
}
_EVENT_KEEP: Final = {"kind": EVENT_KIND, "date": None}


def _decoder() -> ColumnarDecoder | None:
    """The columnar decoder of household lines, None when the extension is not used."""
    c = COLUMNAR
    if c is None:
        return None
    return c.ColumnarDecoder(
        Household,
        keep={
            **_HOUSEHOLD_KEEP,
            **{f"members.{name}": codes for name, codes in _PERSON_KEEP.items()},
            **{f"events.{name}": codes for name, codes in _EVENT_KEEP.items()},
        },
        shapes={
            path: c.TextShape(shape.chars, shape.low, shape.high, shape.last_only)
            for path, shape in TEXT_SHAPES.items()
        },
        check_digits={"members.id_number": c.CheckDigit(ID_CHECK_WEIGHTS, ID_CHECK_CHARS)},
    )


LINE_DECODER: Final = _decoder()
"""The columnar decoder of household lines (C): takes the plainly valid ones; None without
the extension."""


def _population(columns: Columns) -> Population:
    """The Population of the lines the columnar decoder took (same columns as `population_of`)."""
    root = columns.tables[""]
    household_id: list[str] = root.pop("household_id")
    household = {path.rpartition(".")[2]: array for path, array in root.items()}
    person = {"household": columns.parents["members"]}
    person.update({path[len("members.") :]: a for path, a in columns.tables["members"].items()})
    event = {"household": columns.parents["events"]}
    event.update({path[len("events.") :]: a for path, a in columns.tables["events"].items()})
    return Population(
        n=len(household_id),
        household_id=household_id,
        household=household,
        person=person,
        event=event,
    )


def _reference(lines: Sequence[bytes]) -> tuple[Population, list[int], dict[int, RecordError]]:
    """The reference path: msgspec decoding and the schema checks, `SLICE_LINES` at a time.

    Walking the records right after decoding them, while they are still in the CPU cache,
    and freeing them at once, is a good part faster than walking a whole chunk's records.
    """
    parts: list[Population] = []
    origin: list[int] = []
    errors: dict[int, RecordError] = {}
    for start in range(0, max(len(lines), 1), SLICE_LINES):
        households, where, bad = decode_lines(lines[start : start + SLICE_LINES])
        parts.append(population_of(households))
        origin.extend(map(start.__add__, where))
        errors.update((start + k, error) for k, error in bad.items())
    return Population.joined(parts), origin, errors


def population_of_lines(
    lines: Sequence[bytes], columnar: bool = True
) -> tuple[Population, list[int], dict[int, RecordError]]:
    """The households of `lines`, the line index of each, and the errors by line index.

    With `columnar` (the default) and the extension there, lines go through the columnar
    decoder first; the lines it leaves (invalid, or valid in a form it does not take, like an
    escaped character) go through the reference path, which alone decides what is valid and
    how errors read.
    """
    if not columnar or LINE_DECODER is None:
        return _reference(lines)
    columns = LINE_DECODER.decode(lines)
    fast = _population(columns)
    if not columns.rejected:
        return fast, list(range(len(lines))), {}
    rejected = columns.rejected
    taken = np.ones(len(lines), dtype=bool)
    taken[rejected] = False
    slow, where, errors = _reference([lines[i] for i in rejected])
    origin = np.flatnonzero(taken).tolist() + [rejected[k] for k in where]
    population = Population.joined([fast, slow]) if slow.n else fast
    return population, origin, {rejected[k]: error for k, error in errors.items()}
