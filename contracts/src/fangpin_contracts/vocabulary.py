"""Names of fangpin's codes for people (中文名称): one vocabulary for the CLI, notices and consoles.

The data is packaged beside this module: `vocabulary_zh.toml` names every code of every code
list (categories, risk types, exclusions, departments, steps, statuses, ...), one table per
kind; `vocabulary_en.toml` holds English labels where they say more than the code. A code
without a label is shown as itself, so a new code is never hidden, only unnamed (and the
completeness test names it).

Measure types and sub-measures are named by the assistance measure catalog; a consumer that has
the catalog adds its names with `Vocabulary.extended` (the CLI does).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

LANGS: Final = ("zh", "en")
"""Label languages: zh (zh-CN, complete) and en (partial, else the code)."""

_FILES: Final = {"zh": "vocabulary_zh.toml", "en": "vocabulary_en.toml"}

Table = Mapping[str, str]


class VocabularyError(ValueError):
    """A vocabulary file is malformed; the message names the file, kind and code."""


class Vocabulary:
    """Labels by language, kind (a code list) and code; immutable."""

    def __init__(self, tables: Mapping[str, Mapping[str, Table]]) -> None:
        if "zh" not in tables:
            raise VocabularyError("a vocabulary needs the zh tables")
        self._tables = MappingProxyType(
            {
                lang: MappingProxyType(
                    {kind: MappingProxyType(dict(codes)) for kind, codes in kinds.items()}
                )
                for lang, kinds in tables.items()
            }
        )

    def kinds(self) -> tuple[str, ...]:
        """Every kind (code list) the vocabulary knows, in file order."""
        return tuple(self._tables["zh"])

    def codes(self, kind: str) -> tuple[str, ...]:
        """The codes of `kind` that have a zh label, in file order."""
        return tuple(self._table("zh", kind))

    def has(self, kind: str, code: str, lang: str = "zh") -> bool:
        """Whether `code` of `kind` has its own label in `lang`."""
        return code in self._table(lang, kind)

    def label(self, kind: str, code: str, lang: str = "zh") -> str:
        """The name of `code` in the list `kind`; the code itself when it has none.

        An unknown kind is a programming error (KeyError naming it), an unknown code is not.
        """
        return self._table(lang, kind).get(code, code)

    def labels(self, kind: str, codes: Iterable[str], lang: str = "zh") -> list[str]:
        """`label` of each code, in order."""
        table = self._table(lang, kind)
        return [table.get(code, code) for code in codes]

    def extended(
        self, kind: str, zh: Mapping[str, str], en: Mapping[str, str] | None = None
    ) -> Vocabulary:
        """A copy with more labels for `kind` (e.g. measure names from the catalog)."""
        tables = {lang: dict(kinds) for lang, kinds in self._tables.items()}
        for lang, labels in (("zh", zh), ("en", en or {})):
            current = dict(tables.setdefault(lang, {}).get(kind, {}))
            tables[lang][kind] = current | dict(labels)
        return Vocabulary(tables)

    def _table(self, lang: str, kind: str) -> Table:
        if lang not in self._tables:
            raise ValueError(f"lang {lang!r}: expected one of {', '.join(LANGS)}")
        if kind not in self._tables["zh"]:
            raise KeyError(f"vocabulary has no kind {kind!r}")
        return self._tables[lang].get(kind, {})


def parse(name: str, text: str) -> dict[str, dict[str, str]]:
    """One vocabulary file: tables of `code = "label"`; VocabularyError names what is wrong."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise VocabularyError(f"{name}: {err}") from err
    tables: dict[str, dict[str, str]] = {}
    for kind, codes in document.items():
        if not isinstance(codes, dict):
            raise VocabularyError(f"{name}: {kind}: expected a table of code = label")
        for code, text_label in codes.items():
            if not isinstance(text_label, str) or not text_label.strip():
                raise VocabularyError(f"{name}: {kind}.{code}: expected a non-empty label")
        tables[kind] = dict(codes)
    return tables


def build(zh: Mapping[str, Table], en: Mapping[str, Table]) -> Vocabulary:
    """A vocabulary from parsed tables; an English label needs its zh label (no orphans)."""
    for kind, codes in en.items():
        if kind not in zh:
            raise VocabularyError(f"{_FILES['en']}: {kind}: not a kind of {_FILES['zh']}")
        for code in codes:
            if code not in zh[kind]:
                raise VocabularyError(f"{_FILES['en']}: {kind}.{code}: no zh label")
    return Vocabulary({"zh": zh, "en": en})


@cache
def load() -> Vocabulary:
    """The vocabulary packaged with fangpin_contracts (read once)."""
    package = resources.files("fangpin_contracts")
    parsed = {
        lang: parse(name, package.joinpath(name).read_text(encoding="utf-8"))
        for lang, name in _FILES.items()
    }
    return build(parsed["zh"], parsed["en"])


def label(kind: str, code: str, lang: str = "zh") -> str:
    """The packaged vocabulary's name of `code` in the list `kind` (the code when it has none)."""
    return load().label(kind, code, lang)
