"""Keyset (cursor) paging for every List* RPC: page sizes, opaque page tokens, the WHERE clause.

A listing is ordered by a sort key whose last column is unique (the row's id), every column in
the same direction. A page is the `size` rows strictly after the key of the last row the client
saw; the page token carries that key, so rows inserted or deleted elsewhere never shift a page
(offset paging would skip or repeat rows). A traversal returns, exactly once and in order, every
row that existed when it started and whose key did not change; a row inserted meanwhile shows
up once if it sorts after the cursor (always, for a listing by creation time walked oldest
first), else in the next traversal.

The token is urlsafe base64 (unpadded) of a small JSON object: format version, listing name,
a digest of the request's filters and order, and the key values. It is opaque to clients but
not secret: it holds nothing a client could not filter for. A token of another listing, of
other filters or of an unknown format is refused naming the field, like a bad page size.

    keyset = Keyset("approval.cases", CASES.c.opened_at, CASES.c.case_id)
    page = keyset.request(size=request.limit, token=request.page_token,
                          descending=not request.oldest_first, filters={...},
                          size_field="limit")
    rows = (await session.execute(keyset.apply(query, page))).all()
    result = keyset.page(rows, page)      # result.rows, result.next_page_token
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
TOKEN_VERSION: Final = 1

T = TypeVar("T")
_KEY_TYPES: Final = (datetime, date, int, str)  # datetime before date: it is a date too


class PagingError(ValueError):
    """A page size or page token that cannot be used; the message starts with the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def page_size(
    value: int,
    *,
    field: str = "page_size",
    default: int = DEFAULT_PAGE_SIZE,
    maximum: int = MAX_PAGE_SIZE,
) -> int:
    """The page size asked for: 0 means `default`; below 0 or above `maximum` is refused."""
    if value < 0 or value > maximum:
        raise PagingError(field, f"between 1 and {maximum} (0 = default {default}), not {value}")
    return value or default


def keyset_after(
    columns: Sequence[ColumnElement[Any]], values: Sequence[Any], *, descending: bool = False
) -> ColumnElement[bool]:
    """SQL condition: the row's key comes strictly after `values` in the order of `columns`
    (all ascending, or all descending). One column compares plainly; several compare as a row
    value, `(a, b) > (x, y)`, which PostgreSQL matches to an index on those columns and SQLite
    (3.15+) evaluates the same way. The values are bound with the columns' own types."""
    if not columns or len(columns) != len(values):
        raise ValueError("keyset_after: one value per column, at least one column")
    bound = [sa.literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]
    if len(columns) == 1:
        left: ColumnElement[Any] = columns[0]
        right: ColumnElement[Any] = bound[0]
    else:
        left, right = sa.tuple_(*columns), sa.tuple_(*bound)
    return left < right if descending else left > right


@dataclass(frozen=True)
class PageRequest:
    """One page asked for: its size, the key it starts after (None: the first page), the
    direction, and the digest of the filters the token is valid for."""

    size: int
    after: tuple[Any, ...] | None
    descending: bool
    scope: str

    def starting_after(self, key: tuple[Any, ...]) -> PageRequest:
        """The same request continuing after `key` (a listing filtering rows in Python scans
        the store chunk by chunk)."""
        return dataclasses.replace(self, after=key)


@dataclass(frozen=True)
class Page(Generic[T]):
    """The rows of a page and the token of the next one ("" when these are the last)."""

    rows: list[T]
    next_page_token: str


class Keyset:
    """The sort key of one listing: its name and its columns, the last one unique."""

    def __init__(self, listing: str, *columns: ColumnElement[Any]) -> None:
        if not columns:
            raise ValueError(f"{listing}: a keyset needs at least one column")
        self.listing = listing
        # ORM attributes (`ClueRow.clue_id`) and Core columns alike
        self.columns: tuple[sa.ColumnClause[Any], ...] = tuple(
            c.__clause_element__() if hasattr(c, "__clause_element__") else c  # type: ignore[misc]
            for c in columns
        )
        self.types = tuple(_python_type(c) for c in self.columns)
        self.names = tuple(c.key for c in self.columns)

    # ------------------------------------------------------------------ requests

    def request(
        self,
        *,
        size: int,
        token: str,
        descending: bool = False,
        filters: Mapping[str, Any] | None = None,
        default_size: int = DEFAULT_PAGE_SIZE,
        max_size: int = MAX_PAGE_SIZE,
        size_field: str = "page_size",
        token_field: str = "page_token",
    ) -> PageRequest:
        """Validate a request's page size and token; PagingError names the bad field."""
        scope = _scope(descending, filters or {})
        checked = page_size(size, field=size_field, default=default_size, maximum=max_size)
        after = self._decode(token, scope, token_field) if token else None
        return PageRequest(size=checked, after=after, descending=descending, scope=scope)

    def order_by(self, descending: bool) -> list[ColumnElement[Any]]:
        return [c.desc() if descending else c.asc() for c in self.columns]

    def apply(
        self, query: sa.Select[Any], page: PageRequest, *, limit: int | None = None
    ) -> sa.Select[Any]:
        """`query` in key order after the page's starting key, `size + 1` rows at most (the
        extra row tells whether another page follows), or `limit` rows (a chunk of a scan)."""
        if page.after is not None:
            query = query.where(keyset_after(self.columns, page.after, descending=page.descending))
        rows = page.size + 1 if limit is None else limit
        return query.order_by(*self.order_by(page.descending)).limit(rows)

    # --------------------------------------------------------------------- pages

    def key_of(self, row: Any) -> tuple[Any, ...]:
        """The key values of a row (an ORM object or a Core row)."""
        mapping = getattr(row, "_mapping", None)
        values = tuple(
            mapping[name] if mapping is not None else getattr(row, name) for name in self.names
        )
        if any(v is None for v in values):  # a schema fault, not a client's
            raise RuntimeError(f"{self.listing}: a sort key column is NULL in {values!r}")
        return values

    def page(self, rows: Sequence[T], page: PageRequest) -> Page[T]:
        """The first `size` of `rows` (fetched with `apply`) and the next page's token."""
        shown = list(rows[: page.size])
        if len(rows) <= page.size:
            return Page(shown, "")
        return Page(shown, self.token(self.key_of(shown[-1]), page))

    def token(self, key: Sequence[Any], page: PageRequest) -> str:
        """The token of the page after the row whose key is `key`."""
        body = {
            "v": TOKEN_VERSION,
            "l": self.listing,
            "s": page.scope,
            "k": [_encode_value(v, t) for v, t in zip(key, self.types, strict=True)],
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def _decode(self, token: str, scope: str, field: str) -> tuple[Any, ...]:
        malformed = PagingError(field, "malformed (use the next_page_token of a previous reply)")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = json.loads(raw.decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise malformed from None
        if not isinstance(body, dict) or body.get("v") != TOKEN_VERSION:
            raise malformed
        if body.get("l") != self.listing:
            raise PagingError(field, f"not a token of this listing ({self.listing})")
        if body.get("s") != scope:
            raise PagingError(
                field, "issued for other filters or another order; list again without it"
            )
        values = body.get("k")
        if not isinstance(values, list) or len(values) != len(self.types):
            raise malformed
        try:
            return tuple(_decode_value(v, t) for v, t in zip(values, self.types, strict=True))
        except (TypeError, ValueError):
            raise malformed from None


def _python_type(column: ColumnElement[Any]) -> type:
    kind: Any = column.type
    while isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    python_type = kind.python_type
    if not any(issubclass(python_type, t) for t in _KEY_TYPES) or python_type is bool:
        raise TypeError(f"a sort key column is {python_type.__name__}: use str, int or dates")
    return python_type  # type: ignore[no-any-return]


def _scope(descending: bool, filters: Mapping[str, Any]) -> str:
    """A short digest of what a token is valid for: the order and the filters."""
    canonical = json.dumps(
        {"descending": descending, "filters": dict(filters)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _encode_value(value: Any, kind: type) -> Any:
    if issubclass(kind, date):  # date or datetime: ISO text (a datetime keeps its offset)
        if not isinstance(value, date):
            raise TypeError(f"sort key value {value!r} is not a {kind.__name__}")
        return value.isoformat()
    return value


def _decode_value(value: Any, kind: type) -> Any:
    if issubclass(kind, datetime):
        if not isinstance(value, str):
            raise TypeError("not a timestamp")
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise ValueError("timestamp without offset")
        return instant
    if issubclass(kind, date):
        if not isinstance(value, str):
            raise TypeError("not a date")
        return date.fromisoformat(value)
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("not an integer")
        return value
    if not isinstance(value, str):
        raise TypeError("not text")
    return value
