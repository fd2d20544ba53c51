"""Keyset paging: page sizes, tokens (round trip, refusals naming the field), the WHERE clause."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from fangpin_kit.db import UtcDateTime
from fangpin_kit.paging import (
    MAX_PAGE_SIZE,
    Keyset,
    PageRequest,
    PagingError,
    keyset_after,
    page_size,
)

T0 = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
metadata = sa.MetaData()
ITEMS = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", sa.String(20), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("group", sa.String(5), nullable=False),
)
BY_TIME = Keyset("test.items", ITEMS.c.created_at, ITEMS.c.item_id)


@pytest.fixture
def store() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def insert(engine: sa.Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(ITEMS.insert(), rows)


def item(n: int, at: datetime, group: str = "a") -> dict[str, object]:
    return {"item_id": f"I{n:05d}", "created_at": at, "due": at.date(), "n": n, "group": group}


def walk(
    engine: sa.Engine, keyset: Keyset, *, size: int, descending: bool, between: object = None
) -> list[list[str]]:
    """Every page's ids, following the tokens; `between(page_number)` runs after each page."""
    pages: list[list[str]] = []
    token = ""
    while True:
        request = keyset.request(size=size, token=token, descending=descending)
        with engine.connect() as conn:
            rows = conn.execute(keyset.apply(sa.select(ITEMS), request)).all()
        page = keyset.page(rows, request)
        pages.append([r.item_id for r in page.rows])
        if callable(between):
            between(len(pages))
        if not page.next_page_token:
            return pages
        token = page.next_page_token


def flat(pages: list[list[str]]) -> list[str]:
    return [key for page in pages for key in page]


# ------------------------------------------------------------------------ page size


def test_page_size_zero_means_the_default_and_the_maximum_is_allowed() -> None:
    assert page_size(0) == 100
    assert page_size(0, default=20) == 20
    assert page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE
    assert page_size(7) == 7


@pytest.mark.parametrize("value", [-1, MAX_PAGE_SIZE + 1])
def test_a_page_size_below_zero_or_above_the_maximum_names_the_field(value: int) -> None:
    with pytest.raises(PagingError) as err:
        page_size(value, field="limit")
    assert str(err.value).startswith("limit: between 1 and 1000")
    assert err.value.field == "limit"


# --------------------------------------------------------------------------- tokens


def test_a_token_round_trips_timestamps_dates_integers_and_text() -> None:
    keyset = Keyset("test.mixed", ITEMS.c.created_at, ITEMS.c.due, ITEMS.c.n, ITEMS.c.item_id)
    first = keyset.request(size=10, token="", filters={"group": "a"})
    key = (T0 + timedelta(microseconds=7), date(2024, 6, 3), 42, "I00042")
    token = keyset.token(key, first)
    assert "=" not in token and token.isascii()
    again = keyset.request(size=10, token=token, filters={"group": "a"})
    assert again.after == key
    assert again.after[0].tzinfo is not None


def test_a_token_is_refused_for_other_filters_or_another_order() -> None:
    token = BY_TIME.token((T0, "I1"), BY_TIME.request(size=5, token="", filters={"group": "a"}))
    for descending, filters in [(False, {"group": "b"}), (True, {"group": "a"})]:
        with pytest.raises(PagingError) as err:
            BY_TIME.request(size=5, token=token, descending=descending, filters=filters)
        assert str(err.value).startswith("page_token: issued for other filters")


def test_a_token_of_another_listing_is_refused_by_name() -> None:
    other = Keyset("test.other", ITEMS.c.created_at, ITEMS.c.item_id)
    token = other.token((T0, "I1"), other.request(size=5, token=""))
    with pytest.raises(PagingError) as err:
        BY_TIME.request(size=5, token=token)
    assert str(err.value) == "page_token: not a token of this listing (test.items)"


def _b64(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        _b64([1, 2]),
        _b64({"v": 99, "l": "test.items", "k": []}),
        _b64({"v": 1, "l": "test.items", "s": "", "k": ["x"]}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_malformed_token_names_the_field(token: str) -> None:
    with pytest.raises(PagingError) as err:
        BY_TIME.request(size=5, token=token, token_field="page_token")
    assert str(err.value).startswith("page_token: ")


def test_a_token_with_values_of_the_wrong_type_is_malformed() -> None:
    scope = BY_TIME.request(size=5, token="").scope
    for values in (["2024-06-03", "I1"], [17, "I1"], ["2024-06-03T02:00:00+00:00", 3]):
        token = _b64({"v": 1, "l": "test.items", "s": scope, "k": values})
        with pytest.raises(PagingError) as err:
            BY_TIME.request(size=5, token=token)
        assert str(err.value).startswith("page_token: malformed")


def test_the_size_field_is_validated_before_the_token_and_named_as_asked() -> None:
    with pytest.raises(PagingError) as err:
        BY_TIME.request(size=-3, token="garbage", size_field="limit")
    assert err.value.field == "limit"


# ----------------------------------------------------------------- the WHERE clause


def test_keyset_after_compares_one_column_plainly_and_several_as_a_row() -> None:
    one = keyset_after([ITEMS.c.item_id], ["I1"])
    assert str(one) == "items.item_id > :param_1"
    many = keyset_after([ITEMS.c.created_at, ITEMS.c.item_id], [T0, "I1"], descending=True)
    assert str(many) == "(items.created_at, items.item_id) < (:param_1, :param_2)"
    with pytest.raises(ValueError):
        keyset_after([ITEMS.c.item_id], ["I1", "I2"])


def test_pages_give_every_row_once_in_order_with_ties_on_the_time(store: sa.Engine) -> None:
    # 25 rows, five per instant: the id breaks the ties
    rows = [item(n, T0 + timedelta(seconds=n // 5)) for n in range(25)]
    insert(store, list(reversed(rows)))
    pages = walk(store, BY_TIME, size=4, descending=False)
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 4, 1]
    assert flat(pages) == [r["item_id"] for r in rows]
    newest_first = walk(store, BY_TIME, size=10, descending=True)
    assert flat(newest_first) == [r["item_id"] for r in reversed(rows)]


def test_rows_inserted_between_pages_neither_shift_nor_repeat_a_page(store: sa.Engine) -> None:
    insert(store, [item(n, T0 + timedelta(minutes=n)) for n in range(10)])

    def meanwhile(page_number: int) -> None:  # a newer row and one far in the past
        later = T0 + timedelta(hours=1, minutes=page_number)
        earlier = T0 - timedelta(hours=1, minutes=page_number)
        insert(store, [item(100 + page_number, later), item(200 + page_number, earlier)])

    oldest_first = flat(walk(store, BY_TIME, size=3, descending=False, between=meanwhile))
    assert len(oldest_first) == len(set(oldest_first))
    # the original ten in order, then each newer row inserted before the walk ended
    assert oldest_first[:10] == [f"I{n:05d}" for n in range(10)]
    assert oldest_first[10:] == [f"I{n:05d}" for n in range(101, 101 + len(oldest_first) - 10)]
    assert not any(i.startswith("I002") for i in oldest_first)  # behind the cursor


def test_an_exact_page_multiple_ends_with_an_empty_token(store: sa.Engine) -> None:
    insert(store, [item(n, T0) for n in range(6)])
    pages = walk(store, BY_TIME, size=3, descending=True)
    assert pages == [["I00005", "I00004", "I00003"], ["I00002", "I00001", "I00000"]]


def test_starting_after_continues_a_scan_from_a_key() -> None:
    request = PageRequest(size=5, after=None, descending=False, scope="x")
    assert request.starting_after((T0, "I9")).after == (T0, "I9")


def test_a_keyset_refuses_a_column_that_cannot_be_in_a_token() -> None:
    table = sa.Table("flags", sa.MetaData(), sa.Column("on", sa.Boolean))
    with pytest.raises(TypeError):
        Keyset("test.flags", table.c.on)
