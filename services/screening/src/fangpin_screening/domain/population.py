"""Columnar view of a batch of households: household, person and event arrays (OpenFisca-style)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, Final, cast, get_args

import numpy as np
from msgspec import Struct
from msgspec.structs import astuple

from fangpin_contracts.household import (
    Assets,
    Employment,
    EventKind,
    Expenses,
    Flags,
    Household,
    Hukou,
    Illness,
    Income,
    LaborCapacity,
    Member,
    SafetyNet,
    SchoolStage,
)


def _codes(literal: object) -> dict[str, int]:
    return {value: code for code, value in enumerate(get_args(literal))}


HUKOU: Final = _codes(Hukou)
LABOR: Final = _codes(LaborCapacity)
EMPLOYMENT: Final = _codes(Employment)
ILLNESS: Final = _codes(Illness)
SCHOOL: Final = _codes(SchoolStage)
EVENT_KIND: Final = _codes(EventKind)
SAFETY_NET: Final = _codes(SafetyNet)

_BOOL: Final = {False: 0, True: 1}
_GRADE: Final = {grade: grade for grade in range(5)}  # schema v1: 0 (none) to 4


def _positions(struct: type[Struct], *names: str) -> itemgetter[Any]:
    """Getter of fields `names` (a tuple of them when several) from `astuple` of a `struct`.

    `msgspec.structs.astuple` copies a struct's fields in C; reading them one attribute at a
    time costs a type lookup each, a third of building the columns.
    """
    order = struct.__struct_fields__
    return itemgetter(*(order.index(name) for name in names))


class _Combinations(dict[tuple[object, ...], int]):
    """Mixed-radix code of a tuple of discrete values, memoized per distinct tuple.

    One dictionary look-up per household or member replaces one conversion per field;
    `decode` splits an array of codes back into one array per field (views of one table).
    """

    _LIMIT: Final = 1 << 16

    def __init__(
        self, fields: Sequence[tuple[str, dict[Any, int]]], get: Callable[[Any], tuple[Any, ...]]
    ) -> None:
        super().__init__()
        self.names = tuple(name for name, _ in fields)
        self.tables = tuple(table for _, table in fields)
        sizes = [len(table) for table in self.tables]
        self.strides = tuple(
            int(np.prod(sizes[k + 1 :], dtype=np.int64)) for k in range(len(sizes))
        )
        self.sizes = tuple(sizes)
        self.get = get

    def __missing__(self, key: tuple[object, ...]) -> int:
        code = 0
        for name, table, stride, value in zip(
            self.names, self.tables, self.strides, key, strict=True
        ):
            if value not in table:
                raise ValueError(f"{name}: {value!r} is not one of {sorted(table, key=str)}")
            code += table[value] * stride
        if len(self) >= self._LIMIT:
            self.clear()
        self[key] = code
        return code

    def codes(self, records: Iterable[object], count: int) -> np.ndarray:
        """The code of every record."""
        return np.fromiter(map(self.__getitem__, map(self.get, records)), np.int64, count=count)

    @cached_property
    def _digits(self) -> np.ndarray:
        """(fields, combinations) int8: column `code` holds the field values of that code."""
        return np.indices(self.sizes, dtype=np.int8).reshape(len(self.sizes), -1)

    def decode(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """One array per field: booleans as bool, enumerations and grades as int8 codes."""
        table = np.take(self._digits, codes, axis=1)  # rows: contiguous columns
        return {
            name: table[k].view(bool) if self.tables[k] is _BOOL else table[k]
            for k, name in enumerate(self.names)
        }


_HOUSEHOLD_FIELDS: Final = (
    ("safety_net", SAFETY_NET),
    ("formerly_poor", _BOOL),
    ("housing_safe", _BOOL),
    ("drinking_water_safe", _BOOL),
)
_PERSON_FIELDS: Final = (
    ("hukou", HUKOU),
    ("labor_capacity", LABOR),
    ("employment", EMPLOYMENT),
    ("illness", ILLNESS),
    ("school_stage", SCHOOL),
    *(
        (name, _BOOL)
        for name in (
            "urban_security",
            "village_leader",
            "out_of_school",
            "high_fee_school",
            "medical_insured",
        )
    ),
    ("disability_grade", _GRADE),
)
# rows are `astuple(household)` / `astuple(member)`
_HOUSEHOLD_CODES: Final = _Combinations(
    _HOUSEHOLD_FIELDS, _positions(Household, *(name for name, _ in _HOUSEHOLD_FIELDS))
)
_ASSET_CODES: Final = _Combinations([(name, _BOOL) for name in Assets.__struct_fields__], astuple)
_FLAG_CODES: Final = _Combinations([(name, _BOOL) for name in Flags.__struct_fields__], astuple)
_PERSON_CODES: Final = _Combinations(
    _PERSON_FIELDS, _positions(Member, *(name for name, _ in _PERSON_FIELDS))
)
_ID, _MEMBERS, _EVENTS, _INCOME, _EXPENSES, _ASSETS, _FLAGS = (
    _positions(Household, name)
    for name in ("household_id", "members", "events", "income", "expenses", "assets", "flags")
)
_BIRTH: Final = _positions(Member, "birth_date")
_GET_EVENT: Final = attrgetter("kind", "date")


def _amounts(structs: Iterable[Struct], fields: tuple[str, ...], n: int) -> dict[str, np.ndarray]:
    """Float columns of `n` structs of one type (all of whose fields are amounts)."""
    flat = np.fromiter(
        chain.from_iterable(map(astuple, structs)), np.float64, count=n * len(fields)
    )
    table = np.ascontiguousarray(flat.reshape(n, len(fields)).T)
    return dict(zip(fields, table, strict=True))


@dataclass(frozen=True, eq=False)
class Population:
    """A batch of households as columns.

    `household` holds arrays of length `n` keyed by field name (`wage`, `housing_safe`, ...);
    `person` arrays have one entry per member, `person["household"]` giving its household
    index; `event` arrays likewise, with `date` as proleptic ordinals. Enumerations are small
    integer codes (see the module's code tables).
    """

    n: int
    household_id: list[str]
    household: dict[str, np.ndarray]
    person: dict[str, np.ndarray]
    event: dict[str, np.ndarray]
    derived: dict[str, object] = field(default_factory=dict)
    """Memo of figures several rules share (so they are computed, and traced, once)."""

    @classmethod
    def joined(cls, parts: Sequence[Population]) -> Population:
        """One population of `parts` in order (person and event indices shifted to match)."""
        if len(parts) == 1:
            return parts[0]
        starts = np.cumsum([0, *(part.n for part in parts[:-1])])

        def join(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
            return {name: np.concatenate([t[name] for t in tables]) for name in tables[0]}

        def shifted(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
            moved = [
                {**t, "household": t["household"] + s} for t, s in zip(tables, starts, strict=True)
            ]
            return join(moved)

        return cls(
            n=sum(part.n for part in parts),
            household_id=list(chain.from_iterable(part.household_id for part in parts)),
            household=join([part.household for part in parts]),
            person=shifted([part.person for part in parts]),
            event=shifted([part.event for part in parts]),
        )

    def count_persons(self, mask: np.ndarray) -> np.ndarray:
        """Members per household for which `mask` (one entry per person) holds."""
        return np.bincount(self.person["household"][mask], minlength=self.n)

    def count_events(self, kind: str, first: date, last: date) -> np.ndarray:
        """Events of `kind` per household dated from `first` to `last`, both included."""
        key = f"events {first.isoformat()} {last.isoformat()}"
        counts = self.derived.get(key)
        if counts is None:  # every kind at once: rules ask for several kinds in one window
            when = self.event["date"]
            inside = (when >= first.toordinal()) & (when <= last.toordinal())
            kinds = len(EVENT_KIND)
            cell = self.event["household"][inside] * kinds + self.event["kind"][inside]
            table = np.bincount(cell, minlength=self.n * kinds).reshape(self.n, kinds)
            counts = self.derived[key] = np.ascontiguousarray(table.T)
        return cast(np.ndarray, counts)[EVENT_KIND[kind]]


def _encode(values: Sequence[str], table: dict[str, int]) -> np.ndarray:
    return np.fromiter(map(table.__getitem__, values), dtype=np.int8, count=len(values))


def population_of(households: Sequence[Household]) -> Population:
    """Columns of `households` (a chunk of a batch, or a single household).

    Raises ValueError naming the field when a household built without validation holds a
    value schema v1 does not allow (decoded records always fit).
    """
    n = len(households)
    rows = list(map(astuple, households))
    household = _amounts(map(_INCOME, rows), Income.__struct_fields__, n)
    household.update(_amounts(map(_EXPENSES, rows), Expenses.__struct_fields__, n))
    household.update(_HOUSEHOLD_CODES.decode(_HOUSEHOLD_CODES.codes(rows, n)))
    household.update(_ASSET_CODES.decode(_ASSET_CODES.codes(map(_ASSETS, rows), n)))
    household.update(_FLAG_CODES.decode(_FLAG_CODES.codes(map(_FLAGS, rows), n)))

    member_lists = list(map(_MEMBERS, rows))
    sizes = np.fromiter(map(len, member_lists), dtype=np.int64, count=n)
    household["members"] = sizes
    people = list(map(astuple, chain.from_iterable(member_lists)))
    m = len(people)
    person: dict[str, np.ndarray] = {"household": np.repeat(np.arange(n), sizes)}
    person.update(_PERSON_CODES.decode(_PERSON_CODES.codes(people, m)))
    person["birth_date"] = np.fromiter(
        map(date.toordinal, map(_BIRTH, people)), dtype=np.int64, count=m
    )

    event_lists = list(map(_EVENTS, rows))
    event_sizes = np.fromiter(map(len, event_lists), dtype=np.int64, count=n)
    events = list(map(_GET_EVENT, chain.from_iterable(event_lists)))
    ecols = list(zip(*events, strict=True)) if events else [(), ()]
    event = {
        "household": np.repeat(np.arange(n), event_sizes),
        "kind": _encode(ecols[0], EVENT_KIND),
        "date": np.fromiter(map(date.toordinal, ecols[1]), dtype=np.int64, count=len(ecols[1])),
    }
    return Population(
        n=n,
        household_id=list(map(_ID, rows)),
        household=household,
        person=person,
        event=event,
    )
