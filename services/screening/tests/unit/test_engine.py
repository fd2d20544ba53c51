"""One engine, two paths: examples, contract shape, batch = single, rendering, properties."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screening_support import AS_OF, household, id_number, replace, ruleset

from fangpin_contracts.household import Household, RecordError, decode_lines, validate_household
from fangpin_kit.parameters import load_section
from fangpin_screening.domain.engine import compile_ruleset, decide, decide_batch
from fangpin_screening.domain.parameters import SCREENING_SECTION
from fangpin_screening.domain.rules import RULE_NAMES
from fangpin_screening.domain.trace import _group as group_rows

EXAMPLES = Path(__file__).resolve().parents[4] / "spec" / "examples"  # contract copy
CONTRACT_KEYS = [
    "household_id",
    "as_of",
    "ruleset",
    "in_scope",
    "eligible",
    "category",
    "risk_types",
    "excluded_by",
    "needs_appraisal",
    "referrals",
    "per_capita",
    "adjusted_per_capita",
    "threshold",
    "trace",
]


@pytest.fixture(scope="module")
def section() -> Any:
    return load_section(SCREENING_SECTION)


def examples() -> tuple[list[bytes], list[dict[str, Any]]]:
    lines = (EXAMPLES / "screening_in.jsonl").read_bytes().splitlines()
    expected = [
        json.loads(x) for x in (EXAMPLES / "screening_expected.jsonl").read_text().splitlines()
    ]
    return lines, expected


def test_examples_reproduce_the_expected_decisions(section: Any) -> None:
    lines, expected = examples()
    households, origin, errors = decode_lines(lines)
    assert not errors and origin == list(range(len(lines)))
    batch = decide_batch(households, compile_ruleset(section, date(2024, 6, 29)))
    for i, want in enumerate(expected):
        got = batch.decision(i).to_dict()
        assert {key: got[key] for key in want} == want


def test_decision_line_has_the_contract_keys_in_order(section: Any) -> None:
    lines, _ = examples()
    decision = decide(validate_household(json.loads(lines[0])), compile_ruleset(section, AS_OF))
    line = decision.to_dict()
    assert list(line) == CONTRACT_KEYS
    assert line["ruleset"] == "cn@2024-01-01"
    assert line["as_of"] == "2024-06-29"
    assert line["threshold"] == 7300 and isinstance(line["threshold"], int)
    assert [e["rule"] for e in line["trace"]] == list(RULE_NAMES)
    assert all(set(e) == {"rule", "hit", "values"} for e in line["trace"])


def test_income_rule_trace_shows_the_values_it_used(section: Any) -> None:
    decision = decide(household(per_capita=5200.0), compile_ruleset(section, AS_OF))
    first = next(e for e in decision.trace if e.rule == "income_below_threshold")
    assert first.to_dict() == {
        "rule": "income_below_threshold",
        "hit": True,
        "values": {"per_capita": 5200.0, "threshold": 7300},
    }


@pytest.mark.parametrize(
    ("as_of", "province", "threshold", "ruleset_id"),
    [
        (date(2021, 6, 1), None, 6000, "cn@2021-01-01"),
        (date(2022, 6, 1), None, 6300, "cn@2022-01-01"),
        (date(2023, 6, 1), None, 6900, "cn@2023-01-01"),
        (date(2024, 6, 1), None, 7300, "cn@2024-01-01"),
        (date(2025, 6, 1), None, 7500, "cn@2025-01-01"),
        (date(2023, 6, 1), "52", 7300, "cn-52@2023-01-01"),
        (date(2024, 6, 1), "52", 7300, "cn-52@2023-01-01"),
        (date(2024, 6, 1), "36", 8500, "cn-36@2024-01-01"),
        (date(2023, 6, 1), "36", 6900, "cn-36@2023-01-01"),
        (date(2025, 6, 1), "53", 8700, "cn-53@2025-01-01"),
        (date(2025, 6, 1), "62", 8600, "cn-62@2025-01-01"),
        (date(2025, 6, 1), "11", 7500, "cn@2025-01-01"),
    ],
)
def test_rulesets_by_date_and_province(
    section: Any, as_of: date, province: str | None, threshold: int, ruleset_id: str
) -> None:
    compiled = compile_ruleset(section, as_of, province)
    assert compiled.params.monitoring_threshold == threshold
    assert compiled.ruleset_id == ruleset_id
    assert decide(household(per_capita=threshold - 0.01), compiled).in_scope
    assert not decide(household(per_capita=threshold), compiled).in_scope


def test_single_decision_is_the_batch_decision_at_that_row() -> None:
    lines, _ = examples()
    households, _, _ = decode_lines(lines)
    compiled = ruleset()
    batch = decide_batch(households, compiled)
    assert [decide(h, compiled) for h in households] == batch.decisions()


def test_rendered_lines_equal_encoding_each_decision() -> None:
    lines, _ = examples()
    households, _, _ = decode_lines(lines)
    batch = decide_batch(households * 3, ruleset())
    rendered = batch.render_lines()
    assert rendered == [msgspec.json.encode(d.to_dict()).decode() for d in batch.decisions()]
    # a second batch reuses the cached templates and still renders the same text
    again = decide_batch(list(reversed(households)), batch.ruleset).render_lines()
    assert again == [
        msgspec.json.encode(decide(h, batch.ruleset).to_dict()).decode()
        for h in reversed(households)
    ]


def test_empty_batch_decides_nothing() -> None:
    batch = decide_batch([], ruleset())
    assert len(batch) == 0 and batch.render_lines() == [] and batch.decisions() == []


def test_amounts_too_large_for_per_capita_figures_are_rejected() -> None:
    huge = household(income={"wage": 1.7e308, "business": 1.7e308})
    with pytest.raises(RecordError) as caught:
        decide(huge, ruleset())
    assert caught.value.path == "income"
    batch = decide_batch([household(per_capita=100.0), huge], ruleset())
    assert batch.invalid.tolist() == [False, True]
    assert batch.render_lines()[1] == ""


# -- properties ----------------------------------------------------------------------------

FEN = st.integers(min_value=0, max_value=5_000_000).map(lambda fen: fen / 100)
LABOR = st.sampled_from(["full", "weak", "semi", "none"])
EXCLUSION_CHANGES = [
    ("assets", "vehicle"),
    ("assets", "town_property"),
    ("assets", "business_registered"),
    ("assets", "financial_assets"),
    ("flags", "supporters_able"),
    ("flags", "illegal_conduct"),
    ("flags", "unwilling_to_work"),
    ("flags", "refused_asset_check"),
    ("flags", "absent_over_year"),
    ("member", "village_leader"),
    ("member", "public_employee"),
    ("member", "high_fee_school"),
]


@st.composite
def households(draw: st.DrawFn) -> Household:
    size = draw(st.integers(min_value=1, max_value=6))
    people = []
    for k in range(size):
        birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=AS_OF))
        people.append(
            {
                "id_number": id_number(birth, k),
                "name": f"成员{k}",
                "relation": "head" if k == 0 else "child",
                "birth_date": birth.isoformat(),
                "labor_capacity": draw(LABOR),
                "hukou": draw(st.sampled_from(["rural", "rural", "urban"])),
                "urban_security": draw(st.booleans()),
                "illness": draw(st.sampled_from(["none", "none", "chronic", "serious"])),
                "school_stage": draw(st.sampled_from(["none", "primary", "senior", "college"])),
                "out_of_school": draw(st.booleans()),
            }
        )
    record = {
        "household_id": "H" + "0" * 5,
        "region": {"county": "652827", "village": "652827100011"},
        "members": people,
        "formerly_poor": draw(st.booleans()),
        "income": {
            k: draw(FEN) for k in ("wage", "business", "property", "transfer", "production_costs")
        },
        "expenses": {
            k: draw(FEN)
            for k in ("medical_self_paid", "education_self_paid", "disaster_loss", "accident_cost")
        },
        "housing_safe": draw(st.booleans()),
        "events": [
            {"kind": draw(st.sampled_from(["disaster", "job_loss"])), "date": d.isoformat()}
            for d in draw(st.lists(st.dates(date(2023, 1, 1), date(2024, 12, 31)), max_size=2))
        ],
    }
    return validate_household(record)


def with_exclusion(h: Household, change: tuple[str, str]) -> Household:
    where, name = change
    if where == "assets":
        return replace(h, assets=replace(h.assets, **{name: True}))
    if where == "flags":
        return replace(h, flags=replace(h.flags, **{name: True}))
    first = h.members[0]
    changed = (
        replace(first, employment="public_employee")
        if name == "public_employee"
        else replace(first, **{name: True})
    )
    return replace(h, members=[changed, *h.members[1:]])


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(households())
def test_per_capita_and_adjusted_figures_are_consistent(h: Household) -> None:
    decision = decide(h, ruleset())
    counted = sum(1 for m in h.members if not (m.hukou != "rural" and m.urban_security))
    divisor = counted or len(h.members)
    i, e = h.income, h.expenses
    net = i.wage + i.business + i.property + i.transfer - i.production_costs
    rigid = e.medical_self_paid + e.education_self_paid + e.disaster_loss + e.accident_cost
    assert abs(decision.per_capita - net / divisor) <= 0.005 + 1e-9
    assert abs(decision.adjusted_per_capita - (net - rigid) / divisor) <= 0.005 + 1e-9
    assert decision.adjusted_per_capita <= decision.per_capita
    assert round(decision.per_capita, 2) == decision.per_capita
    if rigid == 0:
        assert decision.adjusted_per_capita == decision.per_capita
    assert decision.eligible == (decision.in_scope and not decision.excluded_by)
    assert decision.needs_appraisal == (decision.in_scope and bool(decision.excluded_by))
    assert (decision.category is not None) == decision.in_scope
    assert bool(decision.risk_types) == decision.in_scope
    assert not (decision.referrals and decision.in_scope)


@PROPERTY_SETTINGS
@given(households(), st.sampled_from(EXCLUSION_CHANGES))
def test_adding_an_exclusion_never_makes_a_household_eligible(
    h: Household, change: tuple[str, str]
) -> None:
    compiled = ruleset()
    before = decide(h, compiled)
    after = decide(with_exclusion(h, change), compiled)
    assert not after.eligible
    assert after.in_scope == before.in_scope
    assert set(before.excluded_by) <= set(after.excluded_by)


@PROPERTY_SETTINGS
@given(
    households(),
    st.integers(min_value=0, max_value=30000),
    st.integers(min_value=0, max_value=30000),
)
def test_raising_the_threshold_never_removes_a_household_from_scope(
    h: Household, low: int, extra: int
) -> None:
    lower = decide(h, ruleset(monitoring_threshold=low))
    higher = decide(h, ruleset(monitoring_threshold=low + extra))
    assert not lower.in_scope or higher.in_scope


@PROPERTY_SETTINGS
@given(st.lists(households(), min_size=1, max_size=8))
def test_batch_and_single_paths_agree_and_render_the_same_text(batch_of: list[Household]) -> None:
    compiled = ruleset()
    batch = decide_batch(batch_of, compiled)
    singles = [decide(h, compiled) for h in batch_of]
    assert batch.decisions() == singles
    assert [json.loads(x) for x in batch.render_lines()] == [d.to_dict() for d in singles]


def test_rendering_escapes_ids_that_bypassed_validation() -> None:
    odd = replace(household(per_capita=100.0), household_id='H"1\\2')
    batch = decide_batch([odd, household()], ruleset())
    assert batch.render_lines() == [
        msgspec.json.encode(d.to_dict()).decode() for d in batch.decisions()
    ]


def test_rendered_amounts_are_formatted_like_the_decision_encoding() -> None:
    # repr() writes 1e+17 where the JSON encoder writes 1e17: lines must not depend on the path
    big = household(income={"business": 1.0e17})
    odd = household(income={"business": 1.5e-7, "wage": 123456789.125})
    batch = decide_batch([big, odd, household(per_capita=5200.0)], ruleset())
    assert batch.render_lines() == [
        msgspec.json.encode(d.to_dict()).decode() for d in batch.decisions()
    ]
    assert '"per_capita":1e17' in batch.render_lines()[0]


def test_render_puts_lines_in_the_order_asked_with_extra_lines_in_place() -> None:
    huge = household(income={"wage": 1.7e308, "business": 1.7e308})
    batch = decide_batch([household(per_capita=100.0), huge, household()], ruleset())
    lines = batch.render_lines()
    assert lines[1] == "" and batch.invalid.tolist() == [False, True, False]
    data = batch.render(np.array([2, -1, 0, -2]), [b"first extra\n", b"second\n"])
    assert data.decode().split("\n") == [lines[2], "first extra", lines[0], "second", ""]


@pytest.mark.parametrize("high", [1, 3, 1000, 2**40])
def test_rows_with_equal_keys_share_a_group_whatever_the_key_range(high: int) -> None:
    # dense range, sparse range (sorted) and a range too wide for one number (row-wise unique)
    rng = np.random.default_rng(high)
    table = rng.integers(0, high, size=(4, 400), dtype=np.int64)
    table[1] = 7  # a constant key does not split groups
    table[:, 200:] = table[:, :200]  # every key seen twice
    first, inverse = group_rows(table)
    assert (table[:, first[inverse]] == table).all()
    assert len(first) == len({tuple(column) for column in table.T.tolist()})
