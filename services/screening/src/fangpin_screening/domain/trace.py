"""Decision trace (each rule, whether it hit, the values it used) and templated line rendering."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final

import msgspec
import numpy as np

if TYPE_CHECKING:
    from .engine import BatchDecisions
    from .rules import RuleOutcome


@dataclass(frozen=True)
class TraceEntry:
    """One rule of one decision: its name, whether it hit, and the values it used."""

    rule: str
    hit: bool
    values: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: `{"rule": ..., "hit": ..., "values": {...}}`."""
        return {"rule": self.rule, "hit": self.hit, "values": dict(self.values)}


def _value_at(value: Any, i: int, floats: Mapping[int, str] | None) -> Any:
    if isinstance(value, np.ndarray):
        if floats is not None and value.dtype.kind == "f":
            return floats[id(value)]
        return value[i].item()
    return value


def trace_of(
    outcomes: Mapping[str, RuleOutcome], i: int, floats: Mapping[int, str] | None = None
) -> tuple[TraceEntry, ...]:
    """The trace of household `i`; with `floats`, float arrays print as template placeholders."""
    return tuple(
        TraceEntry(
            rule=name,
            hit=bool(outcome.hit[i]),
            values={key: _value_at(v, i, floats) for key, v in outcome.values.items()},
        )
        for name, outcome in outcomes.items()
    )


_HOUSEHOLD_SLOT: Final = "@@H@@"
# a float slot is a JSON string standing for a number; the id slot sits inside its string
_SLOT: Final = re.compile(r'"@@(F[0-9]+)@@"|@@(H)@@')


def _float_slot(k: int) -> str:
    return f"@@F{k}@@"


@dataclass(frozen=True)
class _Template:
    """JSON text of one part of a line split around its slots (`H` or float column `F<k>`)."""

    pieces: tuple[str, ...]
    slots: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> _Template:
        parts = _SLOT.split(text)
        slots = [f or h for f, h in zip(parts[1::3], parts[2::3], strict=True)]
        return cls(tuple(parts[0::3]), tuple(slots))


@dataclass(frozen=True)
class _Part:
    """A stretch of the decision line (header, one trace entry, footer) and what it depends on."""

    index: int
    keys: list[np.ndarray]
    text: Callable[[int], str]


def _group(keys: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each group, group of each row) for rows equal in every key column."""
    if not keys:
        return np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    combined = np.zeros(n, dtype=np.int64)
    span_total = 1
    for column in keys:
        values = column.astype(np.int64)
        low = int(values.min())
        span = int(values.max()) - low + 1
        span_total *= span
        if span_total >= 2**62:
            _, first, inverse = np.unique(
                np.column_stack(keys), axis=0, return_index=True, return_inverse=True
            )
            return first, inverse.reshape(-1)
        combined = combined * span + (values - low)
    if span_total <= 4 * n + 1024:  # dense: no sort needed
        present = np.zeros(span_total, dtype=bool)
        present[combined] = True
        inverse = (np.cumsum(present) - 1)[combined]
        first = np.zeros(int(present.sum()), dtype=np.int64)
        first[inverse[::-1]] = np.arange(n - 1, -1, -1)
        return first, inverse
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _parts(batch: BatchDecisions, slots: Mapping[int, str]) -> list[_Part]:
    n = len(batch)

    def header(i: int) -> str:
        line = batch._decision(i, _float_slot(0), _float_slot(1), slots).to_dict()
        line["household_id"] = _HOUSEHOLD_SLOT
        del line["trace"]
        return msgspec.json.encode(line).decode("utf-8")[:-1] + ',"trace":['

    matrices = (batch.excluded, batch.risks, batch.referred)
    header_keys = [batch.in_scope, batch.category] + [
        m[:, k] for m in matrices for k in range(m.shape[1])
    ]
    parts = [_Part(0, header_keys, header)]
    for number, (name, outcome) in enumerate(batch.outcomes.items()):

        def entry(
            i: int, name: str = name, outcome: RuleOutcome = outcome, first: bool = number == 0
        ) -> str:
            values = {key: _value_at(v, i, slots) for key, v in outcome.values.items()}
            text = msgspec.json.encode(TraceEntry(name, bool(outcome.hit[i]), values).to_dict())
            return ("" if first else ",") + text.decode("utf-8")

        keys = [outcome.hit] + [
            v for v in outcome.values.values() if isinstance(v, np.ndarray) and v.dtype.kind in "bi"
        ]
        parts.append(_Part(number + 1, keys, entry))
    parts.append(_Part(len(parts), [], lambda i: "]}"))
    assert all(len(k) == n for part in parts for k in part.keys)
    return _merged(parts, batch)


def _merged(parts: list[_Part], batch: BatchDecisions) -> list[_Part]:
    """Fold each part without float values into the part before it.

    Fewer, wider parts mean fewer columns to join per line; float-free parts add few
    distinct groups, so the templates stay few.
    """
    float_ids = {id(a) for a in batch.float_columns()}
    has_floats = (
        [True]
        + [
            any(id(v) in float_ids for v in outcome.values.values())
            for outcome in batch.outcomes.values()
        ]
        + [False]
    )
    merged: list[list[_Part]] = []
    for part, floats in zip(parts, has_floats, strict=True):
        if floats or not merged:
            merged.append([part])
        else:
            merged[-1].append(part)

    def text(group: list[_Part]) -> Callable[[int], str]:
        return lambda i: "".join(p.text(i) for p in group)

    return [
        _Part(index, [k for p in group for k in p.keys], text(group))
        for index, group in enumerate(merged)
    ]


def _json_safe(ids: list[str]) -> list[str]:
    """Ids as JSON string contents: as they are when schema-valid, escaped otherwise."""
    joined = "".join(ids)
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return ids
    return [msgspec.json.encode(x).decode("utf-8")[1:-1] for x in ids]


def render_template(batch: BatchDecisions, cache: dict[object, _Template], limit: int) -> list[str]:
    """Render every line of `batch` (see `BatchDecisions.render_lines`).

    Each part of the line (header, each trace entry) is grouped by the discrete values it
    shows; a template per group (cached across batches) is split around the float and
    household-id slots, and lines are joined column-wise in C (`map("".join, zip(...))`).
    """
    n = len(batch)
    if n == 0:
        return []
    float_columns = batch.float_columns()
    slots = {id(a): _float_slot(k) for k, a in enumerate(float_columns)}
    slot_text: dict[str, Sequence[str]] = {"H": _json_safe(batch.population.household_id)}
    for k, column in enumerate(float_columns):
        slot_text[f"F{k}"] = list(map(repr, column.tolist()))
    if len(cache) > limit:
        cache.clear()
    columns: list[Iterable[str]] = []
    for part in _parts(batch, slots):
        first, inverse = _group(part.keys, n)
        templates = []
        rows = np.column_stack([k[first] for k in part.keys]).tolist() if part.keys else [[]]
        for i, row in zip(first.tolist(), rows, strict=True):
            key = (part.index, *row)
            template = cache.get(key)
            if template is None:
                template = cache[key] = _Template.parse(part.text(i))
            templates.append(template)
        layout = templates[0].slots
        if any(t.slots != layout for t in templates):
            raise AssertionError(f"part {part.index}: templates differ in their slots")
        for j, slot in enumerate((*layout, None)):
            if len(templates) == 1:
                columns.append(repeat(templates[0].pieces[j], n))
            else:
                pieces = np.array([t.pieces[j] for t in templates], dtype=object)
                columns.append(pieces[inverse].tolist())
            if slot is not None:
                columns.append(slot_text[slot])
    lines = list(map("".join, zip(*columns, strict=False)))  # `repeat` columns are endless
    for i in np.flatnonzero(batch.invalid).tolist():
        lines[i] = ""
    return lines
