"""Actors and regions, the procedure parameters from the ruleset, and versioned flow definitions."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from approval_support import (
    HOUSEHOLD,
    PROCEDURE_YAML,
    VILLAGE,
    Actors,
    Driver,
    at,
    baseline_parameters,
    baseline_values,
)

from fangpin_approval.domain.actors import Actor, Level, county_of, region_contains, town_of
from fangpin_approval.domain.case import Case, CaseStatus
from fangpin_approval.domain.errors import PermissionDenied
from fangpin_approval.domain.parameters import DayKind, ProcedureParameters
from fangpin_approval.domain.procedure import (
    DEFAULT_FLOWS,
    IDENTIFICATION_2021,
    FlowDefinition,
    FlowKind,
    FlowRegistry,
    Step,
    StepRule,
)
from fangpin_kit.parameters import ParameterSpec, SectionSpec, load_section
from fangpin_kit.workdays import WorkdayCalendar

# ---------------------------------------------------------------- actors


def test_region_containment_is_by_code_prefix() -> None:
    assert region_contains("652827", VILLAGE)
    assert region_contains("652827100", VILLAGE)
    assert region_contains(VILLAGE, VILLAGE)
    assert not region_contains("652827101", VILLAGE)
    assert (town_of(VILLAGE), county_of(VILLAGE)) == ("652827100", "652827")


@pytest.mark.parametrize(
    ("level", "region"),
    [
        (Level.VILLAGE, "652827100"),
        (Level.TOWN, "652827"),
        (Level.COUNTY, "65282x"),
        (Level.HOUSEHOLD, "652827100"),
    ],
)
def test_an_actor_region_code_must_fit_the_level(level: Level, region: str) -> None:
    with pytest.raises(ValueError, match=f"a {level.value} region code has"):
        Actor("A1", "某人", "cadre", level, region)


def test_an_actor_needs_an_id_and_a_name() -> None:
    with pytest.raises(ValueError, match="id is empty"):
        Actor(" ", "某人", "cadre", Level.COUNTY, "652827")
    with pytest.raises(ValueError, match="name is empty"):
        Actor("A1", "", "cadre", Level.COUNTY, "652827")


def test_an_actor_record_names_level_and_region(actors: Actors) -> None:
    assert actors.town.as_record() == {
        "id": "T-01",
        "name": "赵镇长",
        "role": "town_officer",
        "level": "town",
        "region": "652827100",
    }


# ---------------------------------------------------------------- parameters


def test_baseline_ruleset_file_builds_the_procedure_parameters() -> None:
    params = ProcedureParameters.from_values(
        baseline_values(dt.date(2024, 1, 1)), ruleset="cn@2021-01-01"
    )
    assert params.flow_version == "2021"
    assert (params.verification_working_days, params.verification_min_cadres) == (5, 2)
    assert (params.notice_min_days, params.approval_limit) == (5, 15)
    assert params.approval_limit_unit is DayKind.CALENDAR
    assert (params.system_entry_days, params.plan_due_days, params.green_channel_months) == (
        10,
        10,
        1,
    )
    assert params.escalate(Level.VILLAGE) is Level.TOWN
    assert params.escalate(Level.COUNTY) is Level.COUNTY


def test_unknown_or_missing_parameters_are_refused() -> None:
    values = baseline_values(dt.date(2024, 1, 1))
    with pytest.raises(ValueError, match=r"unknown \['surprise'\]"):
        ProcedureParameters.from_values(values | {"surprise": 1}, ruleset="x")
    del values["notice_min_days"]
    with pytest.raises(ValueError, match=r"missing \['notice_min_days'\]"):
        ProcedureParameters.from_values(values, ruleset="x")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"notice_min_days": 0}, "notice_min_days: 0 is not a positive integer"),
        ({"approval_limit": True}, "approval_limit: True is not a positive integer"),
        ({"approval_limit_unit": "lunar"}, "lunar"),
        ({"escalation": {"village": "town"}}, "no target for"),
        (
            {"escalation": {"household": "village", "village": "town", "town": "village"}},
            "no target for",
        ),
        (
            {
                "escalation": {
                    "household": "village",
                    "village": "town",
                    "town": "village",
                    "county": "county",
                }
            },
            "town escalates down to village",
        ),
    ],
)
def test_malformed_parameters_are_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        baseline_parameters(**change)


# ---------------------------------------------------------------- flows


def test_elimination_flow_starts_with_nomination_then_the_identification_steps() -> None:
    elimination = DEFAULT_FLOWS.get(FlowKind.ELIMINATION, "2021")
    assert [r.step for r in elimination.steps] == [
        Step.NOMINATION,
        Step.VERIFICATION,
        Step.VILLAGE_APPRAISAL,
        Step.TOWN_REVIEW,
        Step.COUNTY_APPROVAL,
    ]
    assert elimination.urgent_confirmers == frozenset()


def test_an_unknown_flow_version_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"no identification flow version '2030'; known: \['2021'\]"
    ):
        DEFAULT_FLOWS.get(FlowKind.IDENTIFICATION, "2030")


def test_a_registered_flow_version_is_never_replaced() -> None:
    registry = FlowRegistry([IDENTIFICATION_2021])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(copy.deepcopy(IDENTIFICATION_2021))


def test_flow_definitions_are_checked_when_built() -> None:
    rule = StepRule(
        Step.APPLICATION, signers=frozenset({Level.HOUSEHOLD}), responsible=Level.VILLAGE
    )
    with pytest.raises(ValueError, match="repeats a step"):
        FlowDefinition(
            FlowKind.IDENTIFICATION,
            "x",
            (rule, rule),
            Step.APPLICATION,
            frozenset(),
            frozenset(),
        )
    with pytest.raises(ValueError, match="not one of its steps"):
        FlowDefinition(
            FlowKind.IDENTIFICATION, "x", (rule,), Step.VERIFICATION, frozenset(), frozenset()
        )


def _flow_2026() -> FlowDefinition:
    """A later version in which the county also takes objections at town review (a test variant)."""
    steps = tuple(
        StepRule(
            r.step,
            signers=frozenset({Level.TOWN, Level.COUNTY})
            if r.step is Step.TOWN_REVIEW
            else r.signers,
            responsible=r.responsible,
            can_reject=r.can_reject,
            can_return=r.can_return,
            co_signed=r.co_signed,
            public_notice=r.public_notice,
        )
        for r in IDENTIFICATION_2021.steps
    )
    return FlowDefinition(
        FlowKind.IDENTIFICATION,
        "2026",
        steps,
        Step.VERIFICATION,
        IDENTIFICATION_2021.objection_levels,
        IDENTIFICATION_2021.withdraw_levels,
        IDENTIFICATION_2021.urgent_confirmers,
    )


def test_a_case_finishes_under_the_flow_version_it_started_with(
    actors: Actors, driver: Driver, calendar: WorkdayCalendar
) -> None:
    registry = FlowRegistry([IDENTIFICATION_2021, _flow_2026()])

    def open_under(params: ProcedureParameters, case_id: str) -> Case:
        return Case.open(
            case_id=case_id,
            kind=FlowKind.IDENTIFICATION,
            household_id=HOUSEHOLD,
            region=VILLAGE,
            clue_on=dt.date(2024, 3, 4),
            at=at(2024, 3, 4, 9),
            params=params,
            calendar=calendar,
            household=None,
            flows=registry,
        )

    old = open_under(baseline_parameters(), "C-old")
    new = open_under(baseline_parameters(flow_version="2026"), "C-new")
    for case in (old, new):
        driver.to_step(case, Step.TOWN_REVIEW)
    # the 2026 flow lets the county sign town review; the 2021 case keeps its rules
    new.sign(actors.county, at(2024, 3, 12), expected_version=new.version)
    assert new.step is Step.COUNTY_APPROVAL
    with pytest.raises(PermissionDenied):
        old.sign(actors.county, at(2024, 3, 12), expected_version=old.version)
    assert (old.flow.version, new.flow.version) == ("2021", "2026")
    driver.town_review(old, at(2024, 3, 12))
    driver.county_approve(old, at(2024, 3, 13))
    assert old.status is CaseStatus.APPROVED


def test_the_ruleset_file_loads_with_the_kit_loader_into_procedure_parameters() -> None:
    types = {"flow_version": str, "approval_limit_unit": str, "escalation": dict}
    spec = SectionSpec(
        "procedure",
        tuple(
            ParameterSpec(name, types.get(name, int))
            for name in ProcedureParameters.__dataclass_fields__
            if name != "ruleset"
        ),
    )
    section = load_section(spec, PROCEDURE_YAML.parents[1])
    resolved = section.resolve(dt.date(2024, 6, 1))
    params = ProcedureParameters.from_values(resolved, ruleset=resolved.ruleset_id)
    assert params.ruleset == "cn@2021-01-01"
    assert params == baseline_parameters()
