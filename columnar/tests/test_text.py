"""`join_lines`: lines assembled from columns of fragments, in the order asked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin_columnar import Fragments, join_lines


def reference(
    columns: list[Fragments], n: int, order: list[int] | None, extra: list[bytes]
) -> bytes:
    def row(i: int) -> bytes:
        parts = []
        for column in columns:
            if isinstance(column, bytes):
                parts.append(column)
            elif isinstance(column, list):
                parts.append(column[i])
            else:
                values, codes = column
                parts.append(values[int(codes[i])])
        return b"".join(parts)

    rows = range(n) if order is None else order
    return b"".join(row(k) if k >= 0 else extra[-k - 1] for k in rows)


def test_rows_are_the_concatenation_of_their_fragments() -> None:
    columns: list[Fragments] = [
        b'{"id":"',
        [b"a", b"bb", b"ccc"],
        (([b'","x":1', b'","x":22']), np.array([1, 0, 1])),
        b"}\n",
    ]
    assert join_lines(columns, 3) == b'{"id":"a","x":22}\n{"id":"bb","x":1}\n{"id":"ccc","x":22}\n'


def test_order_picks_rows_and_puts_extra_lines_in_place() -> None:
    columns: list[Fragments] = [[b"r0", b"r1", b"r2"], b"\n"]
    order = np.array([2, -2, 0, -1, 2])
    assert join_lines(columns, 3, order, [b"E1\n", b"E2\n"]) == b"r2\nE2\nr0\nE1\nr2\n"


def test_empty_inputs() -> None:
    assert join_lines([], 0) == b""
    assert join_lines([b"x"], 0) == b""
    assert join_lines([], 0, np.array([-1]), [b"only\n"]) == b"only\n"
    assert join_lines([b"", [b"", b""]], 2) == b""


@pytest.mark.parametrize(
    ("columns", "n", "order", "extra", "error"),
    [
        ([[b"a"]], 2, None, [], ValueError),  # a column with too few rows
        ([[b"a", "b"]], 2, None, [], TypeError),  # a fragment that is not bytes
        ([([b"a"], np.array([0, 1]))], 2, None, [], IndexError),  # a code with no value
        ([([b"a"], np.array([0, -1]))], 2, None, [], IndexError),
        ([([b"a"], np.array([0]))], 2, None, [], ValueError),  # codes of the wrong length
        ([b"a"], 1, np.array([1]), [], IndexError),  # a row beyond n
        ([b"a"], 1, np.array([-2]), [b"x"], IndexError),  # an extra line that is not there
        ([b"a"], 1, np.array([-1]), ["x"], TypeError),
        ([3], 1, None, [], TypeError),  # not a column
        ([b"a"], -1, None, [], ValueError),
    ],
)
def test_bad_columns_raise_instead_of_reading_outside_them(
    columns: list[Fragments], n: int, order: np.ndarray | None, extra: list[bytes], error: type
) -> None:
    with pytest.raises(error):
        join_lines(columns, n, order, extra)


FRAGMENT = st.binary(max_size=8)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Fragments], int, list[int] | None, list[bytes]]:
    n = draw(st.integers(min_value=0, max_value=20))
    columns: list[Fragments] = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.sampled_from(["const", "rows", "codes"]))
        if kind == "const":
            columns.append(draw(FRAGMENT))
        elif kind == "rows":
            columns.append(draw(st.lists(FRAGMENT, min_size=n, max_size=n)))
        else:
            values = draw(st.lists(FRAGMENT, min_size=1, max_size=4))
            codes = draw(st.lists(st.integers(0, len(values) - 1), min_size=n, max_size=n))
            columns.append((values, np.array(codes, dtype=np.int64)))
    extra = draw(st.lists(FRAGMENT, max_size=3))
    order = None
    if draw(st.booleans()):
        choices = list(range(n)) + [-k - 1 for k in range(len(extra))]
        order = draw(st.lists(st.sampled_from(choices), max_size=30)) if choices else []
    return columns, n, order, extra


@settings(max_examples=300, deadline=None)
@given(tables())
def test_join_lines_equals_joining_in_python(
    table: tuple[list[Fragments], int, list[int] | None, list[bytes]],
) -> None:
    columns, n, order, extra = table
    asked = None if order is None else np.array(order, dtype=np.int64)
    assert join_lines(columns, n, asked, extra) == reference(columns, n, order, extra)
