"""Assistance's configuration: dated parameters, county catalog extensions, the cadre roster."""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest

from assistance_support import COUNTY, FakeClock, context
from fangpin_assistance.adapters.orm import MIGRATIONS, metadata
from fangpin_assistance.adapters.repository import RosterRepository
from fangpin_assistance.adapters.rules import (
    CatalogError,
    ParameterError,
    assistance_rules_provider,
    county_catalog,
)
from fangpin_assistance.adapters.settings import AssistanceSettings
from fangpin_assistance.bootstrap import RosterFileError, load_roster
from fangpin_kit import migrations
from fangpin_kit.db import Database
from fangpin_kit.settings import repo_root

EXTENSION = """
measure_types:
  tea_cooperative:
    name_zh: 茶叶合作社带动
    lead_departments: [agriculture]
    developmental: true
    safety_net: false
    sub_measures:
      dividend: {name_zh: 入股分红, department: agriculture, term: {months: 24}}
"""


@pytest.fixture
def rulesets(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    shutil.copytree(repo_root() / "rulesets", target)
    return target


def test_parameters_follow_the_dated_ruleset_and_the_province_override(rulesets: Path) -> None:
    override = rulesets / "provinces" / "65" / "assistance.yaml"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(
        textwrap.dedent(
            """
            section: assistance
            parameters:
              plan_due_days:
                values:
                  - {start: 2024-01-01, value: 7, reference: "test province rule"}
            """
        ),
        encoding="utf-8",
    )
    rules_on = assistance_rules_provider(rulesets, "65", check_on=date(2024, 6, 1))
    assert rules_on(date(2023, 12, 31)).plan_due_days == 10
    assert rules_on(date(2024, 6, 1)).plan_due_days == 7
    provider = assistance_rules_provider(rulesets, "52", check_on=date(2024, 6, 1))
    assert provider(date(2024, 6, 1)).plan_due_days == 10


def test_a_bad_ruleset_fails_at_start_naming_file_and_parameter(rulesets: Path) -> None:
    path = rulesets / "cn" / "assistance.yaml"
    text = path.read_text(encoding="utf-8").replace("max_redispatches:", "max_redispatches_typo:")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError) as err:
        assistance_rules_provider(rulesets, None, check_on=date(2024, 6, 1))
    assert err.value.file.endswith("cn/assistance.yaml")
    assert err.value.key == "max_redispatches_typo"


def test_county_catalog_extensions_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extension = tmp_path / "tea.yaml"
    extension.write_text(EXTENSION, encoding="utf-8")
    monkeypatch.setenv("FANGPIN_ASSISTANCE_CATALOG_EXTENSIONS", f" {extension} ,")
    settings = AssistanceSettings()
    assert settings.catalog_extension_paths == [extension]
    catalog = county_catalog(settings.catalog_extension_paths)
    assert catalog.sub_measure("tea_cooperative.dividend").term.months == 24
    with pytest.raises(CatalogError, match=r"missing\.yaml: <document>: cannot read"):
        county_catalog([tmp_path / "missing.yaml"])


async def test_roster_file_puts_cadres_on_duty_and_names_a_bad_entry(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    migrations.upgrade(MIGRATIONS, url)
    database = Database.connect(url, metadata)
    ctx = context(FakeClock())
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        f"{COUNTY}: [county-duty]\n{COUNTY}100011: [cadre-wang, cadre-li]\n", encoding="utf-8"
    )
    try:
        assert await load_roster(database, ctx, roster) == 3
        assert await load_roster(database, ctx, roster) == 3  # idempotent
        async with database.sessions() as session:
            repo = RosterRepository(session)
            assert await repo.cadres_for(f"{COUNTY}100011") == ["cadre-li", "cadre-wang"]
            assert await repo.cadres_for(f"{COUNTY}100012") == ["county-duty"]
        roster.write_text("110101: [stranger]\n", encoding="utf-8")
        with pytest.raises(RosterFileError, match=r"roster\.yaml: 110101: region: not in county"):
            await load_roster(database, ctx, roster)
    finally:
        await database.dispose()
