"""Screening's dated parameters: the section loaded once, compiled per as-of date and province."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from pathlib import Path
from typing import Final

from fangpin_kit.parameters import Section, load_section
from fangpin_screening.domain.engine import CompiledRuleset
from fangpin_screening.domain.parameters import SCREENING_SECTION, ScreeningParameters

COMPILED_CACHE: Final = 64
"""Compiled rulesets kept (one per as-of date and province in use)."""


class ScreeningRules:
    """The screening section of `rulesets/`, checked at start-up (a bad file fails loudly).

    Parameters are cached by ruleset id; a compiled ruleset also carries its as-of date (the
    income window and members' ages depend on it), so those are cached per date and province.
    """

    def __init__(self, rulesets_dir: Path, province: str | None) -> None:
        self.section: Section = load_section(SCREENING_SECTION, rulesets_dir)
        self.province = province
        self._params: dict[str, ScreeningParameters] = {}
        self._compiled: OrderedDict[tuple[date, str | None], CompiledRuleset] = OrderedDict()

    def ruleset_id(self, day: date, province: str | None = None) -> str:
        """Id of the ruleset in force on `day`, e.g. `cn-52@2024-01-01`."""
        return self.section.resolve(day, province or self.province).ruleset_id

    def on(self, day: date, province: str | None = None) -> CompiledRuleset:
        """The ruleset in force on `day` for `province` (default the county's), compiled.

        Raises `fangpin_kit.parameters.ParameterError` when no value is in force on `day`.
        """
        key = (day, province or self.province)
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        resolved = self.section.resolve(day, key[1])
        params = self._params.get(resolved.ruleset_id)
        if params is None:
            params = ScreeningParameters.from_mapping(resolved)
            self._params[resolved.ruleset_id] = params
        compiled = CompiledRuleset(
            ruleset_id=resolved.ruleset_id, as_of=day, province=resolved.province, params=params
        )
        self._compiled[key] = compiled
        if len(self._compiled) > COMPILED_CACHE:
            self._compiled.popitem(last=False)
        return compiled
