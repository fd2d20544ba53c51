"""Lines of text assembled from columns of fragments (C), the inverse of the decoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _text

Fragments = bytes | list[bytes] | tuple[list[bytes], np.ndarray]
"""A column: the same bytes on every row, one bytes per row, or (values, code of each row)."""


def join_lines(
    columns: Sequence[Fragments],
    n: int,
    order: np.ndarray | None = None,
    extra: Sequence[bytes] = (),
) -> bytes:
    """Rows 0..n-1 (or the rows `order` lists), each the concatenation of its fragments.

    In `order`, a value k >= 0 is row k and a value k < 0 is `extra[-k - 1]`, as it is: lines
    made elsewhere (rejections) take their place among the rows in one pass. The output is
    sized first and written once.
    """
    prepared: list[bytes | list[bytes] | tuple[list[bytes], np.ndarray]] = []
    for column in columns:
        if isinstance(column, tuple):
            values, codes = column
            prepared.append((values, np.ascontiguousarray(codes, dtype=np.int64)))
        else:
            prepared.append(column)
    lines = None if order is None else np.ascontiguousarray(order, dtype=np.int64)
    result: bytes = _text.join_lines(prepared, n, lines, list(extra))
    return result
