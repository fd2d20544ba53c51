"""Household record v1 (户信息): msgspec model of household.schema.json, decoding and ID checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec
import numpy as np
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "ID_CHECK_CHARS",
    "ID_CHECK_WEIGHTS",
    "SCHEMA_VERSION",
    "TEXT_SHAPES",
    "Assets",
    "Event",
    "EventKind",
    "Expenses",
    "Flags",
    "Household",
    "Income",
    "Member",
    "RecordError",
    "Region",
    "check_households",
    "decode_household",
    "decode_lines",
    "household_id_of",
    "household_to_dict",
    "id_number_valid",
    "id_numbers_valid",
    "schema_path",
    "validate_household",
]

SCHEMA_VERSION: Final = "household.v1"

# Patterns of schema v1, checked after decoding for a whole batch in one regex pass (msgspec's
# per-field `Meta(pattern=...)` calls Python's `re` once per field and was two thirds of the
# decode time). `$` in JSON Schema (ECMA-262) matches only at the very end, hence fullmatch.
_HOUSEHOLD_ID: Final = "[0-9A-Za-z-]{6,32}"
_COUNTY: Final = "[0-9]{6}"
_TOWN: Final = "[0-9]{9}"
_VILLAGE: Final = "[0-9]{12}"
_ID_NUMBER: Final = "[0-9]{17}[0-9X]"

Amount = Annotated[float, Meta(ge=0)]
Relation = Literal["head", "spouse", "child", "parent", "grandchild", "sibling", "other"]
Hukou = Literal["rural", "urban", "collective"]
LaborCapacity = Literal["full", "weak", "semi", "none"]
Employment = Literal[
    "none",
    "farming",
    "local_job",
    "migrant_stable",
    "migrant_unstable",
    "public_post",
    "self_employed",
    "public_employee",
]
Illness = Literal["none", "chronic", "serious"]
SchoolStage = Literal["none", "preschool", "primary", "junior", "senior", "vocational", "college"]
EventKind = Literal["disaster", "accident", "industry_failure", "serious_illness", "job_loss"]
SafetyNet = Literal["none", "dibao", "dibao_full", "tekun"]


class Region(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Where the household lives: county, town and 12-digit village code."""

    county: str
    village: str
    town: str | UnsetType = UNSET


class Member(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """One household member (家庭成员)."""

    id_number: str
    name: Annotated[str, Meta(min_length=1, max_length=50)]
    relation: Relation
    birth_date: date
    hukou: Hukou = "rural"
    urban_security: bool = False
    labor_capacity: LaborCapacity = "full"
    employment: Employment = "farming"
    village_leader: bool = False
    illness: Illness = "none"
    disability_grade: Annotated[int, Meta(ge=0, le=4)] = 0
    school_stage: SchoolStage = "none"
    out_of_school: bool = False
    high_fee_school: bool = False
    medical_insured: bool = True


class Income(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Income of the 12 months before as-of (工资性, 生产经营性, 财产性, 转移性, 生产经营性支出)."""

    wage: Amount = 0.0
    business: Amount = 0.0
    property: Amount = 0.0
    transfer: Amount = 0.0
    production_costs: Amount = 0.0


class Expenses(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Rigid expenses (刚性支出): compliant self-paid medical and schooling costs, losses."""

    medical_self_paid: Amount = 0.0
    education_self_paid: Amount = 0.0
    disaster_loss: Amount = 0.0
    accident_cost: Amount = 0.0


class Assets(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Asset check results (财产核查)."""

    town_property: bool = False
    vehicle: bool = False
    machinery: bool = False
    business_registered: bool = False
    financial_assets: bool = False


class Flags(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Facts recorded by cadres that exclude a household in principle."""

    supporters_able: bool = False
    illegal_conduct: bool = False
    unwilling_to_work: bool = False
    refused_asset_check: bool = False
    absent_over_year: bool = False


class Event(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """A dated hardship event (disaster, accident, industry failure, serious illness, job loss)."""

    kind: EventKind
    date: date
    loss: Amount | UnsetType = UNSET


class Household(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """One rural household (户) as schema v1 describes it; missing objects take their defaults."""

    household_id: str
    region: Region
    members: Annotated[list[Member], Meta(min_length=1, max_length=30)]
    formerly_poor: bool = False
    relocated: bool = False
    income: Income = msgspec.field(default_factory=Income)
    expenses: Expenses = msgspec.field(default_factory=Expenses)
    housing_safe: bool = True
    drinking_water_safe: bool = True
    assets: Assets = msgspec.field(default_factory=Assets)
    flags: Flags = msgspec.field(default_factory=Flags)
    events: list[Event] = msgspec.field(default_factory=list)
    safety_net: SafetyNet = "none"


class RecordError(ValueError):
    """A household record that does not satisfy schema v1; `path` is like `members[0].name`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# GB 11643-1999: weights 2^(17-i) mod 11 of the first 17 digits; check = table[sum mod 11].
_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int16)
_CHECK_CHARS: Final = "10X98765432"
_CHECK_CODES: Final = np.frombuffer(_CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_BAD_CHECK_DIGIT: Final = "bad check digit"
ID_CHECK_WEIGHTS: Final = tuple(int(w) for w in _WEIGHTS)
ID_CHECK_CHARS: Final = _CHECK_CHARS
"""GB 11643 check of `members[].id_number`: `ID_CHECK_CHARS[sum(digit * weight) % 11]`."""


@lru_cache(maxsize=16)
def _single(element: str) -> re.Pattern[str]:
    return re.compile(element)


_DIGITS: Final = "0123456789"
_ALNUM_DASH: Final = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"


class _Shape(NamedTuple):
    """A schema pattern as a character set and length range, checked with bytes operations."""

    chars: bytes  # allowed everywhere
    low: int
    high: int
    last_only: bytes = b""  # also allowed as the last character

    def table(self, last: bool = False) -> np.ndarray:
        """Which byte values may appear (at the last position when `last`)."""
        allowed = np.zeros(256, dtype=bool)
        allowed[np.frombuffer(self.chars + (self.last_only if last else b""), np.uint8)] = True
        return allowed


_SHAPES: Final = {
    _HOUSEHOLD_ID: _Shape(_ALNUM_DASH.encode(), 6, 32),
    _COUNTY: _Shape(_DIGITS.encode(), 6, 6),
    _TOWN: _Shape(_DIGITS.encode(), 9, 9),
    _VILLAGE: _Shape(_DIGITS.encode(), 12, 12),
    _ID_NUMBER: _Shape(_DIGITS.encode(), 18, 18, b"X"),
}
_TABLES: Final = {shape: (shape.table(), shape.table(last=True)) for shape in _SHAPES.values()}

_PATTERNS: Final = {
    "household_id": _HOUSEHOLD_ID,
    "region.county": _COUNTY,
    "region.town": _TOWN,
    "region.village": _VILLAGE,
    "members.id_number": _ID_NUMBER,
}
"""The schema pattern of each field path that has one (`check_households` checks them)."""
TEXT_SHAPES: Final = {path: _SHAPES[element] for path, element in _PATTERNS.items()}
"""The same patterns as character sets and lengths, for decoders that check them while
parsing."""


def _fixed_fits(
    values: Sequence[str], shape: _Shape
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """For a fixed-length shape: (which values fit, byte matrix, indices of its rows).

    The matrix holds the values of the right length, in order; the indices are None when
    that is every value. None when some value is not ASCII: the caller uses the regex.
    """
    length, n = shape.low, len(values)
    raw = "".join(values).encode("utf-8")
    if len(raw) == length * n and set(map(len, values)) == {length}:
        matrix = np.frombuffer(raw, dtype=np.uint8).reshape(n, length)
        misplaced = 0
        if shape.last_only:  # allowed last only: as many in the text as in the last column
            last = np.frombuffer(shape.last_only, dtype=np.uint8)
            misplaced = sum(map(raw.count, (bytes([c]) for c in shape.last_only)))
            misplaced -= int(np.isin(matrix[:, -1], last).sum())
        if not misplaced and not raw.translate(None, shape.chars + shape.last_only):
            return np.ones(n, dtype=bool), matrix, None
        keep = None
    else:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        if len(raw) != int(lengths.sum()):
            return None
        keep = np.flatnonzero(lengths == length)
        starts = (np.cumsum(lengths) - lengths)[keep]
        matrix = np.frombuffer(raw, dtype=np.uint8)[starts[:, None] + np.arange(length)]
    inner, last_column = _TABLES[shape]
    rows_fit = inner[matrix[:, :-1]].all(axis=1) & last_column[matrix[:, -1]]
    if keep is None:
        return rows_fit, matrix, None
    fits = np.zeros(n, dtype=bool)
    fits[keep] = rows_fit
    return fits, matrix, keep


def _mismatches(values: Sequence[str], element: str) -> list[int]:
    """Indices of values that do not fully match `element` (one of the schema patterns).

    Character sets and lengths are checked with C-level bytes and numpy operations for the
    whole batch; only suspects (or a batch with non-ASCII text) go through the regex.
    """
    if not values:
        return []
    shape = _SHAPES[element]
    single = _single(element)
    if shape.low == shape.high and (checked := _fixed_fits(values, shape)) is not None:
        return np.flatnonzero(~checked[0]).tolist()
    lengths = list(map(len, values))
    raw = "".join(values).encode("utf-8")
    if len(raw) == sum(lengths) and min(lengths) > 0:  # ASCII only
        if (
            min(lengths) >= shape.low
            and max(lengths) <= shape.high
            and not raw.translate(None, shape.chars)
        ):
            return []
        codes = np.frombuffer(raw, dtype=np.uint8)
        ends = np.cumsum(lengths)
        starts = ends - np.asarray(lengths)
        foreign = np.add.reduceat(~_TABLES[shape][0][codes], starts) > 0
        suspects = np.flatnonzero(
            foreign | (np.asarray(lengths) < shape.low) | (np.asarray(lengths) > shape.high)
        ).tolist()
    else:
        suspects = range(len(values))
    return [i for i in suspects if not single.fullmatch(values[i])]


def id_number_valid(s: str) -> bool:
    """True when `s` is 17 digits plus the GB 11643 check character (0-9 or X) that matches them."""
    if not _single(_ID_NUMBER).fullmatch(s):  # re: `s` may be any text here
        return False
    total = sum(int(ch) * int(w) for ch, w in zip(s[:17], _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11] == s[17]


def _check_digits_match(table: np.ndarray) -> np.ndarray:
    """Rows of an (n, 18) byte matrix whose last character is the check of the first 17."""
    # integer products, not BLAS (whose threads would spin beside the CLI's workers);
    # int16 holds any byte times the weights (255 * 100), the digits' offset comes off after
    sums = (table[:, :17] @ _WEIGHTS).astype(np.int64) - ord("0") * int(_WEIGHTS.sum())
    return np.asarray(_CHECK_CODES[sums % 11] == table[:, 17])


def id_numbers_valid(ids: Sequence[str]) -> np.ndarray:
    """Vectorized `id_number_valid`: a boolean array, one entry per string."""
    if not ids:
        return np.zeros(0, dtype=bool)
    valid = np.zeros(len(ids), dtype=bool)
    if (checked := _fixed_fits(ids, _SHAPES[_ID_NUMBER])) is not None:
        fits, matrix, keep = checked
        if keep is None:
            return fits & _check_digits_match(matrix)
        valid[keep] = fits[keep] & _check_digits_match(matrix)
        return valid
    shaped = np.ones(len(ids), dtype=bool)
    shaped[_mismatches(ids, _ID_NUMBER)] = False
    if not shaped.any():
        return valid
    subset = [s for s, ok in zip(ids, shaped.tolist(), strict=True) if ok]
    table = np.frombuffer("".join(subset).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    valid[shaped] = _check_digits_match(table)
    return valid


def _pattern_reason(element: str) -> str:
    return f"does not match ^{element}$"


_GET_ID: Final = attrgetter("household_id")
_GET_REGION: Final = attrgetter("region")
_GET_COUNTY: Final = attrgetter("county")
_GET_TOWN: Final = attrgetter("town")
_GET_VILLAGE: Final = attrgetter("village")
_GET_MEMBERS: Final = attrgetter("members")
_GET_ID_NUMBER: Final = attrgetter("id_number")


def check_households(households: Sequence[Household]) -> dict[int, RecordError]:
    """Schema patterns and ID check digits for decoded households, vectorized over the batch.

    Returns the first error of each failing household by its index in `households`, checking
    household_id, region codes, then each member's id_number (pattern, then check digit).
    """
    errors: dict[int, RecordError] = {}
    if not households:
        return errors

    def flag(indices: Iterable[int], path: str, element: str | None) -> None:
        reason = _pattern_reason(element) if element else _BAD_CHECK_DIGIT
        for i in indices:
            errors.setdefault(i, RecordError(path, reason))

    def check(path: str, values: list[str], where: list[int] | None = None) -> None:
        """Flag the values (of households `where`, default all) not matching `path`'s pattern."""
        element = _PATTERNS[path]
        bad = _mismatches(values, element)
        flag(bad if where is None else [where[k] for k in bad], path, element)

    check("household_id", list(map(_GET_ID, households)))
    regions = list(map(_GET_REGION, households))
    check("region.county", list(map(_GET_COUNTY, regions)))
    towns = list(map(_GET_TOWN, regions))
    with_town = [i for i, town in enumerate(towns) if town is not UNSET]
    check("region.town", [towns[i] for i in with_town], with_town)
    check("region.village", list(map(_GET_VILLAGE, regions)))

    member_lists = list(map(_GET_MEMBERS, households))
    ids = list(map(_GET_ID_NUMBER, chain.from_iterable(member_lists)))
    invalid = np.flatnonzero(~id_numbers_valid(ids)).tolist()
    if not invalid:
        return errors
    counts = np.fromiter(map(len, member_lists), dtype=np.int64, count=len(member_lists))
    owner = np.repeat(np.arange(len(households)), counts)
    position = np.arange(len(ids)) - np.repeat(np.cumsum(counts) - counts, counts)
    for flat in invalid:
        element = _PATTERNS["members.id_number"]
        shaped = _single(element).fullmatch(ids[flat])
        flag(
            [int(owner[flat])],
            f"members[{int(position[flat])}].id_number",
            None if shaped else element,
        )
    return errors


_LOCATION: Final = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING: Final = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


_DECODE_ERRORS: Final = (msgspec.MsgspecError, UnicodeDecodeError)
"""What decoding a record may raise: msgspec's errors, and a string that is not UTF-8."""


def _record_error(exc: msgspec.MsgspecError | UnicodeDecodeError) -> RecordError:
    """Turn a msgspec error (`... - at `$.members[0].name``) into a RecordError."""
    if isinstance(exc, UnicodeDecodeError):
        return RecordError("", "invalid JSON (a string is not valid UTF-8)")
    if not isinstance(exc, msgspec.ValidationError):
        return RecordError("", f"invalid JSON ({exc})")
    match = _LOCATION.match(str(exc))
    assert match is not None  # the pattern matches any text
    reason = match.group("reason")
    path = (match.group("path") or "").removeprefix(".")
    if missing := _MISSING.match(reason):
        return RecordError(_join(path, missing.group("field")), "required field missing")
    if unknown := _UNKNOWN.match(reason):
        return RecordError(_join(path, unknown.group("field")), "unknown field")
    return RecordError(path, reason)


_DECODER: Final = msgspec.json.Decoder(Household)


def _checked(household: Household) -> Household:
    errors = check_households([household])
    if errors:
        raise errors[0]
    return household


def decode_household(raw: bytes | str) -> Household:
    """Decode and validate one JSON document; raises RecordError naming the field path."""
    if not raw.strip():
        raise RecordError("", "empty record")
    try:
        household = _DECODER.decode(raw)
    except _DECODE_ERRORS as exc:
        raise _record_error(exc) from None
    return _checked(household)


def validate_household(obj: dict[str, Any]) -> Household:
    """Validate already-parsed data (e.g. an event payload); raises RecordError."""
    try:
        household = msgspec.convert(obj, Household)
    except _DECODE_ERRORS as exc:
        raise _record_error(exc) from None
    return _checked(household)


def household_to_dict(h: Household) -> dict[str, Any]:
    """JSON-ready builtins (dates as ISO strings); validates again as the same household."""
    result: dict[str, Any] = msgspec.to_builtins(h)
    return result


def household_id_of(raw: bytes | str) -> str | None:
    """Best-effort `household_id` of a rejected record, for error lines; None when unknown."""
    try:
        obj = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    value = obj.get("household_id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def decode_lines(
    lines: Sequence[bytes],
) -> tuple[list[Household], list[int], dict[int, RecordError]]:
    """Batch path: decode JSON lines, then check patterns and ID numbers of the batch at once.

    Returns the valid households, the index of the line each came from, and the errors by
    line index. A blank line is rejected (path "", "empty record"): every line gets an answer.
    """
    errors: dict[int, RecordError] = {}
    try:  # every line valid JSON of the schema's shape: one C-level pass
        decoded = list(map(_DECODER.decode, lines))
        origin = list(range(len(decoded)))
    except _DECODE_ERRORS:
        decoded, origin = [], []
        decode = _DECODER.decode
        for index, line in enumerate(lines):
            try:
                decoded.append(decode(line))
            except _DECODE_ERRORS as exc:
                empty = not line.strip()
                errors[index] = RecordError("", "empty record") if empty else _record_error(exc)
                continue
            origin.append(index)
    bad = check_households(decoded)
    if not bad:
        return decoded, origin, errors
    for k, error in bad.items():
        errors[origin[k]] = error
    keep = [k for k in range(len(decoded)) if k not in bad]
    return [decoded[k] for k in keep], [origin[k] for k in keep], errors


def schema_path() -> str:
    """Filesystem path of the bundled JSON schema (household.v1.json)."""
    from importlib.resources import files

    return str(files("fangpin_contracts").joinpath("schemas/household.v1.json"))
