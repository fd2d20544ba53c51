"""Household record v1: msgspec model agrees with the JSON schema; errors name the field path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin_contracts.household import (
    _COUNTY,
    _HOUSEHOLD_ID,
    _ID_NUMBER,
    _TOWN,
    _VILLAGE,
    Household,
    RecordError,
    check_households,
    decode_household,
    decode_lines,
    household_id_of,
    household_to_dict,
    id_number_valid,
    id_numbers_valid,
    schema_path,
    validate_household,
)
from fangpin_contracts.household import _mismatches as mismatches

# the project's own copy of the external contract (spec/), kept equal to ../shared/spec
SPEC = Path(__file__).resolve().parents[2] / "spec"
SCHEMA = json.loads(Path(schema_path()).read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def minimal() -> dict[str, Any]:
    return {
        "household_id": "H00001",
        "region": {"county": "652827", "village": "652827100011"},
        "members": [
            {
                "id_number": "652827198001113756",
                "name": "张三",
                "relation": "head",
                "birth_date": "1980-01-11",
            }
        ],
    }


def full() -> dict[str, Any]:
    record = minimal()
    record["region"]["town"] = "652827100"
    record["members"][0].update(
        {
            "hukou": "urban",
            "urban_security": True,
            "labor_capacity": "semi",
            "employment": "migrant_unstable",
            "village_leader": True,
            "illness": "chronic",
            "disability_grade": 2,
            "school_stage": "college",
            "out_of_school": False,
            "high_fee_school": True,
            "medical_insured": False,
        }
    )
    record.update(
        {
            "formerly_poor": True,
            "relocated": True,
            "income": {
                "wage": 1.5,
                "business": 2,
                "property": 0,
                "transfer": 3,
                "production_costs": 1,
            },
            "expenses": {
                "medical_self_paid": 1,
                "education_self_paid": 2,
                "disaster_loss": 3,
                "accident_cost": 4,
            },
            "housing_safe": False,
            "drinking_water_safe": False,
            "assets": {
                "town_property": True,
                "vehicle": True,
                "machinery": True,
                "business_registered": True,
                "financial_assets": True,
            },
            "flags": {
                "supporters_able": True,
                "illegal_conduct": True,
                "unwilling_to_work": True,
                "refused_asset_check": True,
                "absent_over_year": True,
            },
            "events": [{"kind": "job_loss", "date": "2024-01-05", "loss": 5000}],
            "safety_net": "dibao_full",
        }
    )
    return record


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()

MUTATIONS: list[tuple[tuple[Any, ...], Any]] = [
    (("household_id",), "H1"),
    (("household_id",), "H0000_1"),
    (("household_id",), "x" * 33),
    (("household_id",), 123),
    (("household_id",), _DELETE),
    (("region",), _DELETE),
    (("region", "county"), "65282"),
    (("region", "county"), "65282a"),
    (("region", "town"), "65282710"),
    (("region", "town"), None),
    (("region", "village"), "6528271000111"),
    (("region", "extra"), 1),
    (("members",), []),
    (("members",), [minimal()["members"][0]] * 31),
    (("members", 0, "id_number"), "65282719800111375"),
    (("members", 0, "id_number"), "65282719800111375x"),
    (("members", 0, "name"), ""),
    (("members", 0, "name"), "名" * 51),
    (("members", 0, "relation"), "boss"),
    (("members", 0, "birth_date"), "1980-02-30"),
    (("members", 0, "birth_date"), "1980/01/11"),
    (("members", 0, "hukou"), "foreign"),
    (("members", 0, "urban_security"), "yes"),
    (("members", 0, "labor_capacity"), "strong"),
    (("members", 0, "employment"), "astronaut"),
    (("members", 0, "illness"), "mild"),
    (("members", 0, "disability_grade"), 5),
    (("members", 0, "disability_grade"), -1),
    (("members", 0, "disability_grade"), True),
    (("members", 0, "school_stage"), "phd"),
    (("members", 0, "medical_insured"), 1),
    (("members", 0, "nickname"), "x"),
    (("income",), {"wage": -1}),
    (("income",), {"salary": 1}),
    (("income",), {"wage": "100"}),
    (("expenses",), {"medical_self_paid": -0.5}),
    (("assets",), {"car": True}),
    (("flags",), {"supporters_able": None}),
    (("events",), [{"kind": "flood", "date": "2024-01-01"}]),
    (("events",), [{"kind": "disaster"}]),
    (("events",), [{"kind": "disaster", "date": "2024-01-01", "loss": -1}]),
    (("safety_net",), "wubao"),
    (("formerly_poor",), "true"),
    (("unknown",), 1),
]


def schema_accepts(record: Any) -> bool:
    return VALIDATOR.is_valid(record)


def model_accepts(record: Any) -> bool:
    try:
        decode_household(json.dumps(record, ensure_ascii=False))
    except RecordError:
        return False
    return True


@pytest.mark.parametrize("record", [minimal(), full()], ids=["minimal", "full"])
def test_model_and_schema_accept_valid_records(record: dict[str, Any]) -> None:
    assert schema_accepts(record)
    assert model_accepts(record)


@pytest.mark.parametrize(
    ("path", "value"), MUTATIONS, ids=[".".join(map(str, p)) for p, _ in MUTATIONS]
)
def test_model_and_schema_agree_on_mutated_records(path: tuple[Any, ...], value: Any) -> None:
    for base in (minimal(), full()):
        if (
            path[0] == "region"
            and path[-1] == "town"
            and "town" not in base["region"]
            and value is _DELETE
        ):
            continue
        record = _set(base, path, value)
        assert model_accepts(record) == schema_accepts(record), record


def test_pattern_anchors_follow_json_schema_semantics() -> None:
    # ECMA-262 `$` (JSON Schema) matches only at the end; Python's `re` (and so the python
    # jsonschema package) also before a final newline. The model follows the schema's meaning.
    record = _set(minimal(), ("household_id",), "H00001\n")
    assert not model_accepts(record)
    with pytest.raises(RecordError) as caught:
        validate_household(record)
    assert caught.value.path == "household_id"


def test_model_and_schema_agree_on_every_screening_example() -> None:
    for line in (SPEC / "examples" / "screening_in.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert schema_accepts(record) and model_accepts(record)


def test_packaged_schema_is_the_contract_copy() -> None:
    contract = SPEC / "household.schema.json"
    assert json.loads(contract.read_text(encoding="utf-8")) == SCHEMA


def test_bad_check_digit_is_rejected_with_member_path() -> None:
    record = minimal()
    record["members"].append(dict(record["members"][0], id_number="652827198001113757"))
    with pytest.raises(RecordError) as caught:
        decode_household(json.dumps(record))
    assert caught.value.path == "members[1].id_number"
    assert caught.value.reason == "bad check digit"
    assert str(caught.value) == "members[1].id_number: bad check digit"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"{", ""),
        (b"", ""),
        (b"[]", ""),
        (b'{"household_id": "H00001"}', "region"),
        (
            b'{"household_id": "H00001", "region": {"county": "652827"}, "members": []}',
            "region.village",
        ),
    ],
)
def test_errors_name_the_field_path(raw: bytes, path: str) -> None:
    with pytest.raises(RecordError) as caught:
        decode_household(raw)
    assert caught.value.path == path
    assert str(caught.value) == f"{path}: {caught.value.reason}"


def test_unknown_field_error_names_the_unknown_field() -> None:
    record = _set(minimal(), ("members", 0, "nickname"), "x")
    with pytest.raises(RecordError) as caught:
        validate_household(record)
    assert caught.value.path == "members[0].nickname"
    assert caught.value.reason == "unknown field"


def test_enum_error_names_the_member_field() -> None:
    with pytest.raises(RecordError) as caught:
        validate_household(_set(minimal(), ("members", 0, "relation"), "boss"))
    assert caught.value.path == "members[0].relation"


def test_defaults_fill_missing_optional_objects() -> None:
    household = validate_household(minimal())
    assert household.income.wage == 0 and household.expenses.medical_self_paid == 0
    assert household.housing_safe and household.drinking_water_safe
    assert household.members[0].labor_capacity == "full"
    assert household.members[0].medical_insured is True
    assert household.events == [] and household.safety_net == "none"


def test_household_to_dict_round_trips_and_is_schema_valid() -> None:
    for record in (minimal(), full()):
        household = validate_household(record)
        as_dict = household_to_dict(household)
        assert schema_accepts(as_dict)
        assert validate_household(as_dict) == household
        assert json.loads(json.dumps(as_dict)) == as_dict


def test_validate_and_decode_give_the_same_household() -> None:
    record = full()
    assert validate_household(record) == decode_household(json.dumps(record))


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("652827198001113756", True),
        ("11010519491231002X", True),
        ("11010519491231002x", False),
        ("110105194912310021", False),
        ("652827198001113757", False),
        ("65282719800111375", False),
        ("6528271980011137560", False),
        ("65282719800111375X", False),
        ("", False),
    ],
)
def test_id_number_check_digit(number: str, valid: bool) -> None:
    assert id_number_valid(number) is valid
    assert id_numbers_valid([number]).tolist() == [valid]


def test_vectorized_id_check_matches_scalar_check() -> None:
    numbers = ["652827198001113756", "11010519491231002X", "652827198001113757", "abc", "１" * 18]
    numbers += [f"1101051949123100{d}{c}" for d in range(10) for c in "0123456789X"]
    assert id_numbers_valid(numbers).tolist() == [id_number_valid(n) for n in numbers]


def test_decode_lines_reports_each_bad_line_and_keeps_the_rest() -> None:
    good = json.dumps(minimal()).encode()
    bad_digit = good.replace(b"3756", b"3757")
    lines = [good, b"", bad_digit, b"not json", good.replace(b'"head"', b'"boss"'), good]
    households, origin, errors = decode_lines(lines)
    assert origin == [0, 5]
    assert [h.household_id for h in households] == ["H00001", "H00001"]
    assert sorted(errors) == [1, 2, 3, 4]
    assert str(errors[1]) == ": empty record"
    assert str(errors[2]) == "members[0].id_number: bad check digit"
    assert errors[3].path == ""
    assert errors[4].path == "members[0].relation"


def test_a_string_that_is_not_utf8_is_a_record_error_not_a_crash() -> None:
    good = json.dumps(minimal(), ensure_ascii=False).encode()
    broken = good.replace(b'"head"', b'"\xc0\xaf"')
    households, origin, errors = decode_lines([broken, good])
    assert origin == [1] and len(households) == 1
    assert str(errors[0]) == ": invalid JSON (a string is not valid UTF-8)"
    with pytest.raises(RecordError, match="not valid UTF-8"):
        decode_household(broken)
    assert household_id_of(broken) is None


def test_check_households_reports_the_first_problem_per_household() -> None:
    base = validate_household(minimal())
    bad_id = msgspec.structs.replace(base, household_id="H_1")
    member = msgspec.structs.replace(base.members[0], id_number="652827198001113757")
    bad_member = msgspec.structs.replace(base, members=[base.members[0], member])
    errors = check_households([base, bad_id, bad_member])
    assert sorted(errors) == [1, 2]
    assert errors[1].path == "household_id"
    assert str(errors[2]) == "members[1].id_number: bad check digit"


def test_household_id_of_rejected_records() -> None:
    assert household_id_of(b'{"household_id": "H9", "x": 1}') == "H9"
    assert household_id_of(b'{"household_id": 9}') is None
    assert household_id_of(b"[1]") is None
    assert household_id_of(b"{") is None


def test_household_is_a_msgspec_struct_that_encodes_to_schema_json() -> None:
    household = validate_household(full())
    assert isinstance(household, Household)
    assert schema_accepts(json.loads(msgspec.json.encode(household)))


# -- batch checks: the vectorized paths agree with the regex and the scalar check ----------

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(body: str) -> str:
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


ODD_CHARS = "0123456789X-aZ１ \n"


@st.composite
def code_like(draw: st.DrawFn, length: int) -> str:
    """Mostly digit strings of about `length` characters, some with an odd character."""
    size = draw(st.sampled_from([length, length, length - 1, length + 1, 0]))
    text = draw(st.text(alphabet="0123456789", min_size=size, max_size=size))
    if text and draw(st.booleans()):
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(ODD_CHARS)) + text[at + 1 :]
    return text


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["household_id", "county", "town", "village", "id_number"]).flatmap(
        lambda field: st.tuples(
            st.just(field),
            st.lists(
                code_like({"household_id": 8, "county": 6, "town": 9, "village": 12}.get(field, 18))
                | st.text(alphabet=ODD_CHARS, max_size=34),
                min_size=1,
                max_size=12,
            ),
        )
    )
)
def test_batch_pattern_checks_flag_exactly_what_the_regex_rejects(
    case: tuple[str, list[str]],
) -> None:
    field, values = case
    element = {
        "household_id": _HOUSEHOLD_ID,
        "county": _COUNTY,
        "town": _TOWN,
        "village": _VILLAGE,
        "id_number": _ID_NUMBER,
    }[field]
    pattern = re.compile(element)
    expected = [i for i, value in enumerate(values) if not pattern.fullmatch(value)]
    assert mismatches(values, element) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet="0123456789", min_size=17, max_size=17).map(with_check_digit)
        | code_like(18),
        min_size=1,
        max_size=12,
    )
)
def test_batch_id_check_agrees_with_the_scalar_check(numbers: list[str]) -> None:
    assert id_numbers_valid(numbers).tolist() == [id_number_valid(n) for n in numbers]


def test_check_digit_x_anywhere_but_last_is_a_pattern_error() -> None:
    good = "11010519491231002X"
    misplaced = "X1010519491231002" + "X"
    assert id_numbers_valid([good, misplaced]).tolist() == [True, False]
    record = minimal()
    record["members"][0]["id_number"] = misplaced
    with pytest.raises(RecordError) as caught:
        decode_household(json.dumps(record))
    assert str(caught.value) == "members[0].id_number: does not match ^[0-9]{17}[0-9X]$"


def test_decode_lines_gives_the_same_answers_as_one_line_at_a_time() -> None:
    good = json.dumps(minimal()).encode()
    lines = [good, good.replace(b"3756", b"3757"), good, good.replace(b'"head"', b'"boss"'), b""]
    for batch in (lines[:1] * 3, lines):
        households, origin, errors = decode_lines(batch)
        for index, line in enumerate(batch):
            try:
                single = decode_household(line)
            except RecordError as error:
                assert str(errors[index]) == str(error)
            else:
                assert households[origin.index(index)] == single
