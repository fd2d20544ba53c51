"""Build of the C extension (`setuptools` reads the rest from pyproject.toml)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "fangpin_columnar._columnar",
            sources=["src/fangpin_columnar/_columnar.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
