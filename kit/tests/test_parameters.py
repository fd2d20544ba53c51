"""Dated ruleset parameters: loading, validation errors (file, key, reason) and resolution."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fangpin_kit.parameters import (
    ENV_RULESETS_DIR,
    ParameterError,
    ParameterSpec,
    SectionSpec,
    available_provinces,
    default_rulesets_dir,
    load_section,
    sections_in,
    undeclared_spec,
)

SPEC = SectionSpec(
    "demo",
    (
        ParameterSpec("threshold", float, "yuan"),
        ParameterSpec("window_days", int),
        ParameterSpec("enabled", bool),
        ParameterSpec("label", str),
    ),
)

BASELINE = """\
section: demo
parameters:
  threshold:
    description: a threshold
    unit: yuan
    values:
      - {start: 2021-01-01, value: 6000, reference: "doc 1"}
      - {start: 2024-01-01, value: 7300, reference: "doc 2"}
  window_days:
    values:
      - {start: 2021-01-01, value: 365, reference: "doc 3"}
  enabled:
    values:
      - {start: 2021-01-01, value: true, reference: "doc 4"}
  label:
    values:
      - {start: 2021-01-01, value: "a", reference: "doc 5"}
      - {start: 2023-07-01, value: "b", reference: "doc 6"}
"""

LABEL_VALUES = (
    '  label:\n    values:\n      - {start: 2021-01-01, value: "a", reference: "doc 5"}\n'
    '      - {start: 2023-07-01, value: "b", reference: "doc 6"}\n'
)
ENABLED_VALUES = (
    '  enabled:\n    values:\n      - {start: 2021-01-01, value: true, reference: "doc 4"}\n'
)
LEVELS = (
    "section: demo\nparameters:\n  levels:\n    values:\n"
    "      - {start: 2021-01-01, value: {a: b}, reference: r}\n"
)

PROVINCE = """\
section: demo
parameters:
  threshold:
    values:
      - {start: 2023-01-01, value: 8500, reference: "province doc"}
"""


def write(root: Path, baseline: str = BASELINE, provinces: dict[str, str] | None = None) -> Path:
    (root / "cn").mkdir(parents=True, exist_ok=True)
    (root / "cn" / "demo.yaml").write_text(baseline, encoding="utf-8")
    for code, text in (provinces or {}).items():
        (root / "provinces" / code).mkdir(parents=True, exist_ok=True)
        (root / "provinces" / code / "demo.yaml").write_text(text, encoding="utf-8")
    return root


def test_value_in_force_is_the_latest_start_on_or_before_the_date(tmp_path: Path) -> None:
    section = load_section(SPEC, write(tmp_path))
    assert section.resolve(date(2023, 12, 31))["threshold"] == 6000
    assert section.resolve(date(2024, 1, 1))["threshold"] == 7300
    assert section.resolve(date(2023, 6, 30))["label"] == "a"
    assert section.resolve(date(2023, 7, 1))["label"] == "b"


def test_ruleset_id_is_scope_at_latest_start_in_force(tmp_path: Path) -> None:
    section = load_section(SPEC, write(tmp_path))
    assert section.resolve(date(2024, 6, 30)).ruleset_id == "cn@2024-01-01"
    assert section.resolve(date(2023, 8, 1)).ruleset_id == "cn@2023-07-01"
    assert section.resolve(date(2021, 3, 1)).ruleset_id == "cn@2021-01-01"


def test_resolution_keeps_references_and_start_dates(tmp_path: Path) -> None:
    resolved = load_section(SPEC, write(tmp_path)).resolve(date(2024, 6, 30))
    assert resolved.reference("threshold") == "doc 2"
    assert resolved.sources["threshold"].start == date(2024, 1, 1)
    assert dict(resolved) == {"threshold": 7300, "window_days": 365, "enabled": True, "label": "b"}


def test_integer_numbers_stay_integers_and_floats_stay_floats(tmp_path: Path) -> None:
    text = BASELINE.replace("value: 7300", "value: 7300.5")
    section = load_section(SPEC, write(tmp_path, text))
    assert type(section.resolve(date(2021, 1, 1))["threshold"]) is int
    assert section.resolve(date(2024, 1, 1))["threshold"] == 7300.5


def test_province_override_applies_from_its_first_start_date(tmp_path: Path) -> None:
    section = load_section(SPEC, write(tmp_path, provinces={"36": PROVINCE}))
    before = section.resolve(date(2022, 6, 1), "36")
    assert before["threshold"] == 6000
    assert before.ruleset_id == "cn-36@2021-01-01"
    after = section.resolve(date(2025, 6, 1), "36")
    assert after["threshold"] == 8500  # the province's value stays until it publishes another
    assert after.ruleset_id == "cn-36@2023-07-01"
    assert after.reference("threshold") == "province doc"
    assert after["window_days"] == 365


def test_province_without_overrides_resolves_to_the_baseline_scope(tmp_path: Path) -> None:
    section = load_section(SPEC, write(tmp_path, provinces={"36": PROVINCE}))
    resolved = section.resolve(date(2025, 6, 1), "52")
    assert resolved.province is None
    assert resolved.ruleset_id == "cn@2024-01-01"
    assert resolved["threshold"] == 7300


def test_available_provinces_lists_override_directories(tmp_path: Path) -> None:
    root = write(tmp_path, provinces={"36": PROVINCE, "52": PROVINCE})
    assert available_provinces("demo", root) == ["36", "52"]
    assert available_provinces("other", root) == []
    assert sections_in(root) == ["demo"]


def test_no_value_in_force_fails_with_missing_value(tmp_path: Path) -> None:
    section = load_section(SPEC, write(tmp_path))
    with pytest.raises(ParameterError) as caught:
        section.resolve(date(2020, 12, 31))
    assert caught.value.key == "threshold"
    assert "missing value" in caught.value.reason
    assert caught.value.file.endswith("demo.yaml")


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("section: demo\nparameters: [", "", "malformed YAML"),
        ("- a\n- b\n", "", "malformed"),
        (BASELINE.replace("section: demo", "section: other"), "section", "expected 'demo'"),
        (BASELINE + "extra: 1\n", "extra", "unknown top-level key"),
        (
            BASELINE
            + "  speed:\n    values:\n      - {start: 2021-01-01, value: 1, reference: x}\n",
            "speed",
            "unknown parameter",
        ),
        (BASELINE.replace("  label:", "  label_gone:"), "label_gone", "unknown parameter"),
        (BASELINE.replace(LABEL_VALUES, ""), "label", "missing parameter"),
        (
            BASELINE.replace("2024-01-01, value: 7300", "2021-01-01, value: 7300"),
            "threshold.values[1].start",
            "duplicate start date",
        ),
        (
            BASELINE.replace("2024-01-01, value: 7300", "2020-01-01, value: 7300"),
            "threshold.values[1].start",
            "out of order",
        ),
        (
            BASELINE.replace("value: 365,", "value: null,"),
            "window_days.values[0].value",
            "missing value",
        ),
        (BASELINE.replace("value: 365,", ""), "window_days.values[0].value", "missing value"),
        (
            BASELINE.replace("value: 365,", "value: 365.5,"),
            "window_days.values[0].value",
            "expected int",
        ),
        (
            BASELINE.replace("value: 6000,", "value: true,"),
            "threshold.values[0].value",
            "expected number",
        ),
        (BASELINE.replace("value: 6000,", "value: .nan,"), "threshold.values[0].value", "finite"),
        (BASELINE.replace("value: true,", "value: 1,"), "enabled.values[0].value", "expected bool"),
        (
            BASELINE.replace('reference: "doc 3"', 'reference: ""'),
            "window_days.values[0].reference",
            "legal reference",
        ),
        (
            BASELINE.replace("start: 2021-01-01, value: 365", "start: 2021-13-01, value: 365"),
            "window_days.values[0].start",
            "start date",
        ),
        (
            BASELINE.replace("start: 2021-01-01, value: 365", "value: 365"),
            "window_days.values[0].start",
            "start date",
        ),
        (
            BASELINE.replace("    unit: yuan\n", "    unit: yuan\n    colour: red\n"),
            "threshold.colour",
            "unknown key",
        ),
        (
            BASELINE.replace(
                "  window_days:\n    values:\n", "  window_days:\n    values: []\n    old:\n"
            ),
            "window_days.old",
            "unknown key",
        ),
        (
            BASELINE.replace(ENABLED_VALUES, "  enabled:\n    values: []\n"),
            "enabled.values",
            "missing value",
        ),
        (
            BASELINE.replace("  window_days:\n", "  window_days:\n  window_days:\n"),
            "",
            "duplicate key",
        ),
    ],
)
def test_invalid_files_fail_with_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(ParameterError) as caught:
        load_section(SPEC, tmp_path)
    error = caught.value
    assert error.file == str(tmp_path / "cn" / "demo.yaml")
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith(error.file)


def test_province_file_errors_name_the_province_file(tmp_path: Path) -> None:
    bad = PROVINCE.replace("value: 8500", "value: high")
    write(tmp_path, provinces={"36": bad})
    with pytest.raises(ParameterError) as caught:
        load_section(SPEC, tmp_path)
    assert caught.value.file == str(tmp_path / "provinces" / "36" / "demo.yaml")
    assert caught.value.key == "threshold.values[0].value"


def test_province_directory_must_be_two_digits(tmp_path: Path) -> None:
    write(tmp_path, provinces={"360": PROVINCE})
    with pytest.raises(ParameterError, match="2-digit"):
        load_section(SPEC, tmp_path)


def test_missing_baseline_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot read"):
        load_section(SPEC, tmp_path)


def test_partial_view_skips_parameters_it_does_not_declare(tmp_path: Path) -> None:
    view = SectionSpec("demo", (ParameterSpec("window_days", int),), partial=True)
    resolved = load_section(view, write(tmp_path)).resolve(date(2024, 1, 1))
    assert dict(resolved) == {"window_days": 365}


def test_structured_values_are_typed(tmp_path: Path) -> None:
    text = LEVELS
    write(tmp_path, text)
    spec = SectionSpec("demo", (ParameterSpec("levels", dict),))
    assert load_section(spec, tmp_path).resolve(date(2022, 1, 1))["levels"] == {"a": "b"}
    wrong = SectionSpec("demo", (ParameterSpec("levels", list),))
    with pytest.raises(ParameterError, match="expected list"):
        load_section(wrong, tmp_path)


def test_undeclared_spec_checks_structure_only(tmp_path: Path) -> None:
    write(tmp_path)
    spec = undeclared_spec("demo", tmp_path)
    assert [p.name for p in spec.parameters] == ["threshold", "window_days", "enabled", "label"]
    assert load_section(spec, tmp_path).resolve(date(2024, 1, 1))["label"] == "b"


def test_section_spec_rejects_a_parameter_declared_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        SectionSpec("demo", (ParameterSpec("a", int), ParameterSpec("a", int)))


def test_rulesets_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_RULESETS_DIR, str(tmp_path))
    assert default_rulesets_dir() == tmp_path


def test_rulesets_dir_defaults_to_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_RULESETS_DIR, raising=False)
    found = default_rulesets_dir()
    assert (found / "cn").is_dir()
    assert found == Path(__file__).resolve().parents[2] / "rulesets"
