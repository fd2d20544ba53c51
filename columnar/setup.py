"""Build of the C extension (`setuptools` reads the rest from pyproject.toml).

The extension is optional: without a C compiler (or Python's headers) the build warns and
installs the package without it, and batch screening uses the reference path (same output,
slower; see fangpin_screening.domain.fastpath). `FANGPIN_COLUMNAR_REQUIRED=1` makes a failed
build an error instead (for CI or images that must have the fast path).
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
REQUIRED = os.environ.get("FANGPIN_COLUMNAR_REQUIRED", "").strip() not in ("", "0")


class OptionalBuildExt(build_ext):
    """`build_ext` that skips, with a warning, what it cannot compile (unless REQUIRED)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all: CCompilerError, PlatformError, ...
            self._skip("the C extension", exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # the compiler or the headers failed on this one
            self._skip(ext.name, exc)

    def _skip(self, what: str, exc: Exception) -> None:
        if REQUIRED:
            raise exc
        sys.stderr.write(
            f"WARNING fangpin-columnar: {what} was not built ({type(exc).__name__}: {exc}); "
            "installing without it: batch screening uses the reference path (same output, "
            "slower). Install a C compiler (gcc) and Python's headers, then reinstall, for "
            "the fast path.\n"
        )


setup(
    ext_modules=[
        Extension(
            f"fangpin_columnar.{name}", [f"src/fangpin_columnar/{name}.c"], extra_compile_args=FLAGS
        )
        for name in ("_columnar", "_text")
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
