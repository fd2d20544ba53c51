"""Which path decodes and renders batches: the columnar extension (C) when it is there, else
the reference path alone (same output, slower), said once per process in a warning.

The extension (`fangpin_columnar`) is built at install with a C compiler; on a machine without
one the install skips it, and screening still works. `FANGPIN_SCREEN_REFERENCE_ONLY=1` leaves
it unused on purpose (to compare both paths, or to rule the extension out).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES
from itertools import repeat
from pathlib import Path
from types import ModuleType
from typing import Final, TypeAlias

import numpy as np

REFERENCE_ONLY_ENV: Final = "FANGPIN_SCREEN_REFERENCE_ONLY"

Fragments: TypeAlias = bytes | list[bytes] | tuple[list[bytes], np.ndarray]
"""A column of line fragments: the same bytes on every row, one bytes per row, or (values,
code of each row); the same shape as `fangpin_columnar.Fragments`."""


def _load() -> tuple[ModuleType | None, str]:
    """The extension module, or None and why it is not used."""
    if os.environ.get(REFERENCE_ONLY_ENV, "").strip() not in ("", "0"):
        return None, f"{REFERENCE_ONLY_ENV} is set"
    try:
        import fangpin_columnar
    except ImportError as exc:  # not built (no C compiler at install), or hidden
        return None, _why_not_imported(exc)
    return fangpin_columnar, ""


def _why_not_imported(exc: ImportError) -> str:
    """The plainest reason: the package is there without its compiled modules, or `exc`."""
    spec = importlib.util.find_spec("fangpin_columnar")
    if spec is not None and spec.submodule_search_locations:
        built = [
            path
            for folder in spec.submodule_search_locations
            for suffix in EXTENSION_SUFFIXES
            for path in Path(folder).glob(f"_*{suffix}")
        ]
        if not built:
            return (
                "it was installed without its compiled modules (the install builds them only "
                "where a C compiler and Python's headers are found)"
            )
    return f"it cannot be imported ({exc})"


COLUMNAR, WHY_NOT = _load()
"""`fangpin_columnar` when it serves, else None; `WHY_NOT` says why (empty when it serves)."""

PATH: Final = "columnar" if COLUMNAR is not None else "reference"
"""The path this process screens with: `columnar` (C decoder and line assembly) or `reference`."""

if COLUMNAR is None:
    logging.getLogger("fangpin_screening").warning(
        "fangpin screening: the columnar extension (C, fangpin_columnar) is not used: %s; "
        "the reference path decides every line: same output, slower",
        WHY_NOT,
    )


def _rows(column: Fragments, n: int) -> Sequence[bytes]:
    """The fragment of each of the `n` rows of one column."""
    if isinstance(column, bytes):
        return list(repeat(column, n))
    if isinstance(column, list):
        if len(column) != n:
            raise ValueError(f"a column has {len(column)} rows, not {n}")
        return column
    values, codes = column
    return [values[k] for k in np.asarray(codes, dtype=np.int64).tolist()]


def join_lines_reference(
    columns: Sequence[Fragments],
    n: int,
    order: np.ndarray | None = None,
    extra: Sequence[bytes] = (),
) -> bytes:
    """`fangpin_columnar.join_lines` in Python: rows 0..n-1 (or the rows `order` lists, a
    negative value -k standing for `extra[k - 1]`), each the concatenation of its fragments."""
    table = [b"".join(parts) for parts in zip(*(_rows(c, n) for c in columns), strict=True)]
    if not columns:
        table = [b""] * n
    if order is None:
        return b"".join(table)
    lines = []
    for k in np.asarray(order, dtype=np.int64).tolist():
        if k >= n or (k < 0 and -k - 1 >= len(extra)):
            raise IndexError(f"order value {k} is out of range")
        lines.append(table[k] if k >= 0 else extra[-k - 1])
    return b"".join(lines)


join_lines = COLUMNAR.join_lines if COLUMNAR is not None else join_lines_reference
"""Lines from columns of fragments: the C assembly when the extension serves."""
