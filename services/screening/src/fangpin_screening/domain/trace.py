"""Decision trace (each rule, whether it hit, the values it used) and templated line rendering."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec
import numpy as np

from .fastpath import Fragments

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
    """UTF-8 text of one part of a line split around its slots (`H` or float column `F<k>`)."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> _Template:
        parts = _SLOT.split(text)
        slots = [f or h for f, h in zip(parts[1::3], parts[2::3], strict=True)]
        return cls(tuple(p.encode("utf-8") for p in parts[0::3]), tuple(slots))


@dataclass(frozen=True)
class _Part:
    """A stretch of the decision line (header, one trace entry, footer) and what it depends on."""

    index: int
    keys: list[np.ndarray]
    text: Callable[[int], str]


def _group(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each group, group of each row) for rows equal in every key.

    `table` is (keys, rows) int64. Keys are combined into one mixed-radix number per row,
    constant keys skipped; a dense range needs no sort.
    """
    n = table.shape[1]
    if not len(table):
        return np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    lows = table.min(axis=1)
    spans = table.max(axis=1) - lows + 1
    varying = np.flatnonzero(spans > 1)
    span_total = 1
    for span in spans[varying].tolist():
        span_total *= span
    if span_total >= 2**62:
        _, first, inverse = np.unique(table.T, axis=0, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)
    strides = np.ones(len(varying), dtype=np.int64)
    if len(varying) > 1:
        strides[:-1] = np.cumprod(spans[varying][::-1])[::-1][1:]
    combined = strides @ (table[varying] - lows[varying, None])
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
    parts.append(_Part(len(parts), [], lambda i: "]}\n"))
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


def _id_fragments(ids: list[str]) -> list[bytes]:
    """Household ids as JSON string contents: as they are when schema-valid, escaped otherwise."""
    joined = "\n".join(ids)
    if (
        joined.isascii()
        and '"' not in joined
        and "\\" not in joined
        and ("".join(ids).isprintable())
    ):
        return joined.encode("ascii").split(b"\n")
    return [msgspec.json.encode(x)[1:-1] for x in ids]


def _float_fragments(column: np.ndarray) -> list[bytes]:
    """Numbers as JSON text, formatted by the same encoder as `Decision.to_dict()` lines."""
    return msgspec.json.encode(column.tolist())[1:-1].split(b",")


Column = bytes | list[bytes]
"""A column of line fragments: the same bytes on every line, or one per line."""


def _fused(columns: list[Column | _Pieces]) -> list[Fragments]:
    """Concatenate a constant column into its neighbour: fewer fragments to join per line."""
    fused: list[Column | _Pieces] = []
    for column in columns:
        previous = fused[-1] if fused else None
        if isinstance(column, bytes) and isinstance(previous, bytes):
            fused[-1] = previous + column
        elif isinstance(column, bytes) and isinstance(previous, _Pieces):
            fused[-1] = previous.suffixed(column)
        elif isinstance(column, _Pieces) and isinstance(previous, bytes):
            fused[-1] = column.prefixed(previous)
        else:
            fused.append(column)
    return [(c.values, c.inverse) if isinstance(c, _Pieces) else c for c in fused]


@dataclass(frozen=True)
class _Pieces:
    """A column taking one of a few values: `values[inverse[i]]` on line `i`."""

    values: list[bytes]
    inverse: np.ndarray

    def prefixed(self, head: bytes) -> _Pieces:
        return _Pieces([head + v for v in self.values], self.inverse)

    def suffixed(self, tail: bytes) -> _Pieces:
        return _Pieces([v + tail for v in self.values], self.inverse)


def render_columns(
    batch: BatchDecisions, cache: dict[object, _Template], limit: int
) -> list[Fragments]:
    """Every line of `batch` as columns of UTF-8 fragments (see `BatchDecisions.render`).

    Each part of the line (header, each trace entry) is grouped by the discrete values it
    shows; a template per group (cached across batches) is split around the float and
    household-id slots. A column is then constant text, one fragment per line (an id, an
    amount), or one of a few template pieces per line; `join_lines` assembles the lines.
    A household marked invalid gets a line too (the caller puts its rejection in its place).
    """
    n = len(batch)
    float_columns = batch.float_columns()
    slots = {id(a): _float_slot(k) for k, a in enumerate(float_columns)}
    if n == 0:
        return []
    slot_text: dict[str, list[bytes]] = {"H": _id_fragments(batch.population.household_id)}
    for k, column in enumerate(float_columns):
        slot_text[f"F{k}"] = _float_fragments(column)
    if len(cache) > limit:
        cache.clear()
    columns: list[Column | _Pieces] = []
    for part in _parts(batch, slots):
        table = np.array(part.keys, dtype=np.int64).reshape(len(part.keys), n)
        first, inverse = _group(table)
        templates = []
        rows = table[:, first].T.tolist() if part.keys else [[]]
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
                columns.append(templates[0].pieces[j])
            else:
                columns.append(_Pieces([t.pieces[j] for t in templates], inverse))
            if slot is not None:
                columns.append(slot_text[slot])
    return _fused(columns)
