"""Without the columnar extension (C) `fangpin screen` still works: the reference path decides
every line, the output is byte-identical, and one warning on stderr says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fangpin_screening.domain import fastpath
from fangpin_screening.domain.fastpath import REFERENCE_ONLY_ENV, join_lines_reference

EXAMPLES = Path(__file__).resolve().parents[4] / "spec" / "examples"
WARNING = "the columnar extension (C, fangpin_columnar) is not used"
SCREEN = "from fangpin_cli.main import app; app(['screen', *sys.argv[1:]])"
HIDE = "import sys; sys.modules['fangpin_columnar'] = None; "


def screen(
    path: Path,
    *,
    hide: bool = False,
    reference_only: bool = False,
    python_path: Path | None = None,
) -> tuple[bytes, str]:
    """`fangpin screen PATH --as-of 2024-06-29` in a fresh process: (stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != REFERENCE_ONLY_ENV}
    if reference_only:
        env[REFERENCE_ONLY_ENV] = "1"
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), env.get("PYTHONPATH")]))
    code = (HIDE if hide else "import sys; ") + SCREEN
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), "--as-of", "2024-06-29", "--workers", "2"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr.decode()
    return result.stdout, result.stderr.decode()


needs_extension = pytest.mark.skipif(
    fastpath.COLUMNAR is None, reason=f"the columnar extension is not used: {fastpath.WHY_NOT}"
)


@needs_extension
def test_the_fast_path_serves_when_the_extension_is_there_and_says_nothing() -> None:
    out, err = screen(EXAMPLES / "screening_in.jsonl")
    assert out.count(b"\n") == len((EXAMPLES / "screening_in.jsonl").read_bytes().splitlines())
    assert WARNING not in err


@needs_extension
@pytest.mark.parametrize("how", ["hidden", "env"])
def test_the_examples_screen_byte_identically_without_the_extension(how: str) -> None:
    fast, _ = screen(EXAMPLES / "screening_in.jsonl")
    slow, err = screen(
        EXAMPLES / "screening_in.jsonl", hide=how == "hidden", reference_only=how == "env"
    )
    assert slow == fast
    assert err.count(WARNING) == 1
    reason = "None in sys.modules" if how == "hidden" else f"{REFERENCE_ONLY_ENV} is set"
    assert reason in err


@needs_extension
def test_a_package_installed_without_its_compiled_modules_falls_back(tmp_path: Path) -> None:
    """What an install on a machine without a C compiler leaves: the Python files only."""
    assert fastpath.COLUMNAR is not None and fastpath.COLUMNAR.__file__ is not None
    package = Path(fastpath.COLUMNAR.__file__).parent
    copy = tmp_path / "site" / "fangpin_columnar"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    fast, _ = screen(EXAMPLES / "screening_in.jsonl")
    slow, err = screen(EXAMPLES / "screening_in.jsonl", python_path=tmp_path / "site")
    assert slow == fast
    assert err.count(WARNING) == 1
    assert "installed without its compiled modules" in err


@needs_extension
def test_a_large_input_over_workers_with_rejections_is_identical_and_warned_once(
    tmp_path: Path,
) -> None:
    examples = (EXAMPLES / "screening_in.jsonl").read_bytes().splitlines()
    lines = []
    for n in range(300):  # about 3 MiB: more than one 2 MiB chunk, so workers share it
        lines.extend(examples)
        lines.append(b"{oops" if n % 2 else b"household_id,region")
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 2 * 2**20
    fast, _ = screen(path)
    slow, err = screen(path, reference_only=True)
    assert slow == fast
    assert slow.count(b"\n") == len(lines)
    assert err.count(WARNING) == 1


@needs_extension
def test_the_python_line_assembly_matches_the_c_one() -> None:
    assert fastpath.COLUMNAR is not None
    codes = np.array([2, 0, 1, 0], dtype=np.int64)
    columns: list[fastpath.Fragments] = [
        b'{"id":"',
        [b"a", b"bb", "\u4e2d".encode(), b""],
        b'","v":',
        ([b"1", b"22", b"333"], codes),
        b"}\n",
    ]
    extra = [b"rejected one\n", b"rejected two\n"]
    for order in (None, np.array([3, -1, 0, -2, 2, 1, 1], dtype=np.int64)):
        want = fastpath.COLUMNAR.join_lines(columns, 4, order, extra)
        assert join_lines_reference(columns, 4, order, extra) == want
    assert join_lines_reference([], 2) == fastpath.COLUMNAR.join_lines([], 2) == b""


def test_the_python_line_assembly_refuses_what_c_refuses() -> None:
    with pytest.raises(IndexError, match="order value 4 is out of range"):
        join_lines_reference([b"x\n"], 2, np.array([4], dtype=np.int64))
    with pytest.raises(IndexError, match="order value -2 is out of range"):
        join_lines_reference([b"x\n"], 2, np.array([-2], dtype=np.int64), [b"r\n"])
    with pytest.raises(ValueError, match="a column has 1 rows, not 2"):
        join_lines_reference([[b"x\n"]], 2)
