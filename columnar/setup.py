"""Build of the C extension (`setuptools` reads the rest from pyproject.toml)."""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension(
            f"fangpin_columnar.{name}", [f"src/fangpin_columnar/{name}.c"], extra_compile_args=FLAGS
        )
        for name in ("_columnar", "_text")
    ]
)
