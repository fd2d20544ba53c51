"""Columnar view of a batch of households: household, person and event arrays (OpenFisca-style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from operator import attrgetter
from typing import Final, get_args

import numpy as np
from fangpin_contracts.household import (
    Employment,
    EventKind,
    Household,
    Hukou,
    Illness,
    LaborCapacity,
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

_HOUSEHOLD_FLOATS: Final = (
    "income.wage",
    "income.business",
    "income.property",
    "income.transfer",
    "income.production_costs",
    "expenses.medical_self_paid",
    "expenses.education_self_paid",
    "expenses.disaster_loss",
    "expenses.accident_cost",
)
_HOUSEHOLD_BOOLS: Final = (
    "formerly_poor",
    "housing_safe",
    "drinking_water_safe",
    "assets.town_property",
    "assets.vehicle",
    "assets.machinery",
    "assets.business_registered",
    "assets.financial_assets",
    "flags.supporters_able",
    "flags.illegal_conduct",
    "flags.unwilling_to_work",
    "flags.refused_asset_check",
    "flags.absent_over_year",
)
_PERSON_BOOLS: Final = (
    "urban_security",
    "village_leader",
    "out_of_school",
    "high_fee_school",
    "medical_insured",
)
_PERSON_CODES: Final = (
    ("hukou", HUKOU),
    ("labor_capacity", LABOR),
    ("employment", EMPLOYMENT),
    ("illness", ILLNESS),
    ("school_stage", SCHOOL),
)
_GET_HOUSEHOLD: Final = attrgetter(
    "household_id", "safety_net", *_HOUSEHOLD_FLOATS, *_HOUSEHOLD_BOOLS
)
_GET_PERSON: Final = attrgetter(
    *_PERSON_BOOLS, *(name for name, _ in _PERSON_CODES), "disability_grade", "birth_date"
)
_GET_MEMBERS: Final = attrgetter("members")
_GET_EVENTS: Final = attrgetter("events")
_GET_EVENT: Final = attrgetter("kind", "date")


_FLOAT_NAMES: Final = tuple(path.rsplit(".", 1)[-1] for path in _HOUSEHOLD_FLOATS)
_BOOL_NAMES: Final = tuple(path.rsplit(".", 1)[-1] for path in _HOUSEHOLD_BOOLS)


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

    def count_persons(self, mask: np.ndarray) -> np.ndarray:
        """Members per household for which `mask` (one entry per person) holds."""
        return np.bincount(self.person["household"][mask], minlength=self.n)

    def count_events(self, kind: str, first: date, last: date) -> np.ndarray:
        """Events of `kind` per household dated from `first` to `last`, both included."""
        when = self.event["date"]
        mask = (
            (self.event["kind"] == EVENT_KIND[kind])
            & (when >= first.toordinal())
            & (when <= last.toordinal())
        )
        return np.bincount(self.event["household"][mask], minlength=self.n)


def _encode(values: Sequence[str], table: dict[str, int]) -> np.ndarray:
    return np.fromiter(map(table.__getitem__, values), dtype=np.int8, count=len(values))


def population_of(households: Sequence[Household]) -> Population:
    """Columns of `households` (a chunk of a batch, or a single household)."""
    n = len(households)
    rows = list(map(_GET_HOUSEHOLD, households))
    columns = list(zip(*rows, strict=True)) if rows else [()] * (2 + 9 + 13)
    household: dict[str, np.ndarray] = {"safety_net": _encode(columns[1], SAFETY_NET)}
    for name, values in zip(_FLOAT_NAMES, columns[2 : 2 + len(_FLOAT_NAMES)], strict=True):
        household[name] = np.array(values, dtype=np.float64)
    for name, values in zip(_BOOL_NAMES, columns[2 + len(_FLOAT_NAMES) :], strict=True):
        household[name] = np.array(values, dtype=bool)

    member_lists = list(map(_GET_MEMBERS, households))
    sizes = np.fromiter(map(len, member_lists), dtype=np.int64, count=n)
    household["members"] = sizes
    people = list(map(_GET_PERSON, chain.from_iterable(member_lists)))
    pcols = list(zip(*people, strict=True)) if people else [()] * (len(_PERSON_BOOLS) + 7)
    person: dict[str, np.ndarray] = {"household": np.repeat(np.arange(n), sizes)}
    offset = 0
    for name in _PERSON_BOOLS:
        person[name] = np.array(pcols[offset], dtype=bool)
        offset += 1
    for name, table in _PERSON_CODES:
        person[name] = _encode(pcols[offset], table)
        offset += 1
    person["disability_grade"] = np.array(pcols[offset], dtype=np.int8)
    births = pcols[offset + 1]
    person["birth_date"] = np.fromiter(
        map(date.toordinal, births), dtype=np.int64, count=len(births)
    )

    event_lists = list(map(_GET_EVENTS, households))
    event_sizes = np.fromiter(map(len, event_lists), dtype=np.int64, count=n)
    events = list(map(_GET_EVENT, chain.from_iterable(event_lists)))
    ecols = list(zip(*events, strict=True)) if events else [(), ()]
    event = {
        "household": np.repeat(np.arange(n), event_sizes),
        "kind": _encode(ecols[0], EVENT_KIND),
        "date": np.array(list(map(date.toordinal, ecols[1])), dtype=np.int64),
    }
    return Population(
        n=n,
        household_id=list(columns[0]),
        household=household,
        person=person,
        event=event,
    )
