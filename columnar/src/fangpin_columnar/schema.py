"""From a msgspec Struct type to the C decoder's spec, and its output as numpy columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import msgspec.inspect as mi
import numpy as np

from . import _columnar as c


class UnsupportedSchema(TypeError):
    """The Struct uses a type or constraint the columnar decoder does not handle."""


@dataclass(frozen=True)
class TextShape:
    """A string's allowed characters (`last_only` allowed only as its last) and length range."""

    chars: bytes
    low: int
    high: int
    last_only: bytes = b""


@dataclass(frozen=True)
class CheckDigit:
    """A weighted check character: `chars[sum(digit * weight) % 11]` ends the 18 characters."""

    weights: tuple[int, ...]
    chars: str


_DTYPES: Final = {c.U8: np.int8, c.I64: np.int64, c.F64: np.float64}


@dataclass
class _Table:
    path: str
    elements: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    parent_column: int = -1

    def add(self, name: str, elem: int, kind: int) -> int:
        self.elements.append(elem)
        self.names.append(name)
        self.kinds.append(kind)
        return len(self.elements) - 1


@dataclass(frozen=True)
class Columns:
    """Output of one `decode`: rejected line indices, and per table its columns by path.

    The root table (path "") has one row per taken line, in line order; a list-of-objects
    table (path of the list, e.g. "members") has one row per element and a `parent` array
    giving the root row each belongs to.
    """

    rejected: list[int]
    tables: dict[str, dict[str, Any]]
    parents: dict[str, np.ndarray]

    def __getitem__(self, path: str) -> Any:
        """The column of `path` (`money.wage`, `people.name`), whichever table holds it."""
        head, dot, _ = path.partition(".")
        return self.tables[head if dot and head in self.parents else ""][path]


class ColumnarDecoder:
    """Decode JSON lines of `struct` into the columns named in `keep`.

    `keep` maps a field path (`income.wage`, `members.hukou`, `members` for a list's element
    count) to the codes of its values for a Literal field (`None` for other kinds). `shapes`
    and `check_digits` add string checks the reference path makes after decoding, by path.
    Booleans come out as bool arrays, Literal codes and small integers as int8, floats as
    float64, dates as proleptic ordinals (int64), strings as lists of str.

    A decoder reuses its buffers from one `decode` to the next; each call runs in C from
    start to end with the GIL held, so threads sharing a decoder take turns (one per process
    is what the CLI's forked workers use).
    """

    def __init__(
        self,
        struct: type[msgspec.Struct],
        keep: Mapping[str, Mapping[str, int] | None],
        shapes: Mapping[str, TextShape] | None = None,
        check_digits: Mapping[str, CheckDigit] | None = None,
    ) -> None:
        info = mi.type_info(struct)
        if not isinstance(info, mi.StructType):
            raise UnsupportedSchema(f"{struct!r} is not a Struct type")
        self._keep = dict(keep)
        self._shapes = dict(shapes or {})
        self._check_digits = dict(check_digits or {})
        self._tables: list[_Table] = [_Table("")]
        self._used: set[str] = set()
        root = self._spec(info, "", 0)
        if missing := set(self._keep) - self._used:
            raise UnsupportedSchema(f"no such field to keep: {sorted(missing)}")
        if missing := (set(self._shapes) | set(self._check_digits)) - self._used:
            raise UnsupportedSchema(f"no such string field: {sorted(missing)}")
        self._decoder = c.Decoder(
            root, tuple((bytes(t.elements), t.parent_column) for t in self._tables)
        )

    def _spec(self, info: mi.StructType, prefix: str, table: int) -> tuple[int, tuple[Any, ...]]:
        if info.array_like or info.tag_field is not None:
            raise UnsupportedSchema(f"{prefix or 'root'}: array-like or tagged structs")
        return table, tuple(self._field(f, prefix, table) for f in info.fields)

    def _field(self, f: mi.Field, prefix: str, table: int) -> tuple[Any, ...]:
        path = f"{prefix}{f.name}"
        # msgspec.inspect drops UnsetType from `X | UnsetType = UNSET`: X, neither required
        # nor with a default (`default` is UNSET below); other unions remain
        if isinstance(f.type, mi.UnionType):
            raise UnsupportedSchema(f"{path}: unions other than `X | UnsetType`")
        default = f.default
        if f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory
        if not f.required and default is msgspec.NODEFAULT:
            default = msgspec.UNSET
        kept = path in self._keep
        if kept or path in self._shapes or path in self._check_digits:
            self._used.add(path)
        if kept and default is msgspec.UNSET:
            raise UnsupportedSchema(f"{path}: a kept optional field needs a default")
        spec = self._kind(f.type, path, table, default, kept)
        kind, elem, idefault, fdefault, args = spec
        column = self._tables[table].add(path, elem, kind) if kept and elem else -1
        return (f.encode_name.encode(), kind, column, f.required, idefault, fdefault, args)

    def _kind(
        self, t: mi.Type, path: str, table: int, default: Any, kept: bool
    ) -> tuple[int, int, int, float, tuple[Any, ...]]:
        """(kind, column element, int default, float default, kind arguments)."""
        no_default = default is msgspec.NODEFAULT or default is msgspec.UNSET
        if isinstance(t, mi.BoolType):
            return c.BOOL, c.U8, 0 if no_default else int(default), 0.0, ()
        if isinstance(t, mi.LiteralType):
            if not all(isinstance(v, str) for v in t.values):
                raise UnsupportedSchema(f"{path}: Literal of non-strings")
            codes = self._keep.get(path) or {v: k for k, v in enumerate(t.values)}
            if set(codes) != set(t.values):
                raise UnsupportedSchema(f"{path}: codes do not cover the Literal values")
            if not all(isinstance(k, int | np.integer) and 0 <= k <= 127 for k in codes.values()):
                raise UnsupportedSchema(f"{path}: Literal codes must be ints in 0..127 (int8)")
            values = tuple(v.encode() for v in t.values)
            code_of = tuple(codes[v] for v in t.values)
            return c.ENUM, c.U8, 0 if no_default else codes[default], 0.0, (values, code_of)
        if isinstance(t, mi.IntType):
            if t.gt is not None or t.lt is not None or t.multiple_of is not None:
                raise UnsupportedSchema(f"{path}: int constraints other than ge/le")
            low, high = (0 if t.ge is None else t.ge), (2**62 if t.le is None else t.le)
            if low < 0:
                raise UnsupportedSchema(f"{path}: negative integers")
            elem = c.U8 if high <= 127 else c.I64
            return c.INT, elem, 0 if no_default else int(default), 0.0, (low, high)
        if isinstance(t, mi.FloatType):
            if t.gt is not None or t.lt is not None or t.le is not None or t.multiple_of:
                raise UnsupportedSchema(f"{path}: float constraints other than ge")
            if t.ge is None or t.ge < 0:
                raise UnsupportedSchema(f"{path}: floats that may be negative")
            fdefault = 0.0 if no_default else float(default)
            return c.FLOAT, c.F64, 0, fdefault, (True, float(t.ge))
        if isinstance(t, mi.DateType):
            return c.DATE, c.I64, 0 if no_default else default.toordinal(), 0.0, ()
        if isinstance(t, mi.StrType):
            if kept and not no_default:  # a missing kept string would come out as None
                raise UnsupportedSchema(f"{path}: a kept string must be required")
            return c.STR, c.OBJ, 0, 0.0, self._str_args(t, path)
        if isinstance(t, mi.StructType):
            if kept:
                raise UnsupportedSchema(f"{path}: keep the fields of an object, not the object")
            tables = len(self._tables)
            spec = self._spec(t, f"{path}.", table)
            beneath = len(self._tables) > tables
            beneath = beneath or any(p.startswith(f"{path}.") for p in self._keep)
            if beneath and not (default is msgspec.NODEFAULT or default is t.cls):
                # a missing object gives its fields' own defaults (and no list elements)
                raise UnsupportedSchema(
                    f"{path}: an object with kept fields may only default to its type's defaults"
                    f" (default_factory={t.cls.__name__})"
                )
            return c.OBJECT, 0, 0, 0.0, (spec,)
        if isinstance(t, mi.ListType) and isinstance(t.item_type, mi.StructType):
            if not (no_default or default is list):
                raise UnsupportedSchema(f"{path}: a list may only default to empty")
            child = len(self._tables)
            self._tables.append(_Table(path))
            self._tables[child].parent_column = self._tables[child].add(
                f"{path}.#parent", c.I64, c.INT
            )
            spec = self._spec(t.item_type, f"{path}.", child)
            low = t.min_length or 0
            high = -1 if t.max_length is None else t.max_length
            return c.LIST, c.I64, 0, 0.0, (spec, low, high)
        raise UnsupportedSchema(f"{path}: type {type(t).__name__} is not supported")

    def _str_args(self, t: mi.StrType, path: str) -> tuple[Any, ...]:
        shape = self._shapes.get(path)
        if t.pattern is not None and shape is None:
            raise UnsupportedSchema(f"{path}: a pattern needs its TextShape")
        low, high = t.min_length or 0, -1 if t.max_length is None else t.max_length
        allowed = last = None
        if shape is not None:
            if not (shape.chars + shape.last_only).isascii():  # checked byte by byte
                raise UnsupportedSchema(f"{path}: a TextShape of non-ASCII characters")
            low, high = max(low, shape.low), shape.high if high < 0 else min(high, shape.high)
            allowed, last = shape.chars, shape.last_only or None
        check = self._check_digits.get(path)
        weights = bytes(check.weights) if check else None
        chars = check.chars.encode("ascii") if check else None
        return (low, high, allowed, last, weights, chars)

    def decode(self, lines: Sequence[bytes]) -> Columns:
        """Columns of the lines taken; the indices of the others in `rejected`."""
        rejected, raw = self._decoder.decode(lines)
        tables: dict[str, dict[str, Any]] = {}
        parents: dict[str, np.ndarray] = {}
        for table, columns in zip(self._tables, raw, strict=True):
            out: dict[str, Any] = {}
            for k, (name, elem, kind, column) in enumerate(
                zip(table.names, table.elements, table.kinds, columns, strict=True)
            ):
                if elem == c.OBJ:
                    out[name] = column
                    continue
                array = np.frombuffer(column, dtype=_DTYPES[elem])
                if kind == c.BOOL:
                    array = array.view(bool)
                if k == table.parent_column:
                    parents[table.path] = array
                else:
                    out[name] = array
            tables[table.path] = out
        return Columns(rejected, tables, parents)
