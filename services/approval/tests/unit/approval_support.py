"""Helpers of the approval domain tests: baseline parameters, actors of one county, a driver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fangpin_approval.domain.actors import Actor, Level
from fangpin_approval.domain.case import Case
from fangpin_approval.domain.codes import Category, Exclusion, RiskType
from fangpin_approval.domain.deadlines import CHINA_TZ
from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_approval.domain.procedure import FlowKind, Step
from fangpin_approval.domain.register import MonitoredHousehold
from fangpin_kit.workdays import WorkdayCalendar

PROCEDURE_YAML = Path(__file__).resolve().parents[4] / "rulesets" / "cn" / "procedure.yaml"

COUNTY = "652827"
TOWN = "652827100"
VILLAGE = "652827100201"
NEIGHBOUR_VILLAGE = "652827100202"
OTHER_TOWN = "652827101"
OTHER_TOWN_VILLAGE = "652827101201"
OTHER_COUNTY = "652828"
HOUSEHOLD = "H0001"


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    """A timestamp in China on that day."""
    return dt.datetime(year, month, day, hour, tzinfo=CHINA_TZ)


def baseline_values(on: dt.date) -> dict[str, Any]:
    """The procedure section's values in force on `on`, read straight from the ruleset file."""
    section = yaml.safe_load(PROCEDURE_YAML.read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    for name, parameter in section["parameters"].items():
        in_force = [v for v in parameter["values"] if v["start"] <= on]
        values[name] = max(in_force, key=lambda v: v["start"])["value"]
    return values


def baseline_parameters(**changes: Any) -> ProcedureParameters:
    values = baseline_values(dt.date(2024, 1, 1)) | changes
    return ProcedureParameters.from_values(values, ruleset="cn@2021-01-01")


@dataclass(frozen=True)
class Actors:
    household: Actor
    other_household: Actor
    village: Actor
    village2: Actor
    neighbour_village: Actor
    town: Actor
    other_town: Actor
    county: Actor
    other_county: Actor


def make_actors() -> Actors:
    return Actors(
        household=Actor(HOUSEHOLD, "张三丰", "household_head", Level.HOUSEHOLD, VILLAGE),
        other_household=Actor("H0002", "王五", "household_head", Level.HOUSEHOLD, VILLAGE),
        village=Actor("V-01", "李支书", "village_secretary", Level.VILLAGE, VILLAGE),
        village2=Actor("V-02", "周文书", "village_clerk", Level.VILLAGE, VILLAGE),
        neighbour_village=Actor(
            "V-09", "吴支书", "village_secretary", Level.VILLAGE, NEIGHBOUR_VILLAGE
        ),
        town=Actor("T-01", "赵镇长", "town_officer", Level.TOWN, TOWN),
        other_town=Actor("T-09", "孙镇长", "town_officer", Level.TOWN, OTHER_TOWN),
        county=Actor("C-01", "钱局长", "county_bureau", Level.COUNTY, COUNTY),
        other_county=Actor("C-09", "郑局长", "county_bureau", Level.COUNTY, OTHER_COUNTY),
    )


OpenCase = Callable[..., Case]


def make_open_case(params: ProcedureParameters, calendar: WorkdayCalendar) -> OpenCase:
    """Open an identification case (defaults: clue and opening on Mon 2024-03-04)."""

    def make(
        clue_on: dt.date = dt.date(2024, 3, 4),
        *,
        opened: dt.datetime | None = None,
        case_id: str = "C1",
        household: MonitoredHousehold | None = None,
        parameters: ProcedureParameters | None = None,
    ) -> Case:
        return Case.open(
            case_id=case_id,
            kind=FlowKind.IDENTIFICATION,
            household_id=HOUSEHOLD,
            region=VILLAGE,
            clue_on=clue_on,
            at=opened or at(clue_on.year, clue_on.month, clue_on.day, 9),
            params=parameters or params,
            calendar=calendar,
            household=household,
            source="self_declaration",
        )

    return make


class Driver:
    """Takes a case through its steps the ordinary way, one action per call."""

    def __init__(self, actors: Actors) -> None:
        self.a = actors

    def apply(self, case: Case, when: dt.datetime) -> None:
        case.sign(self.a.household, when, expected_version=case.version, comment="申请+授权承诺")

    def verify(self, case: Case, when: dt.datetime) -> None:
        case.sign(
            self.a.village,
            when,
            expected_version=case.version,
            comment="入户核实",
            co_signers=[self.a.town],
            attachments=["att://visit-form-1"],
        )

    def screen(self, case: Case, when: dt.datetime, *exclusions: Exclusion) -> None:
        case.record_screening(
            when,
            category=Category.MARGINAL,
            risk_types=[RiskType.ILLNESS, RiskType.EDUCATION],
            exclusions=exclusions,
            ruleset="cn@2024-01-01",
        )

    def publish(self, case: Case, when: dt.datetime) -> None:
        case.publish_notice(self.a.village, when, expected_version=case.version)

    def appraise(self, case: Case, when: dt.datetime) -> None:
        case.sign(self.a.village, when, expected_version=case.version, comment="评议通过")

    def town_review(self, case: Case, when: dt.datetime) -> None:
        case.sign(self.a.town, when, expected_version=case.version, comment="审核通过")

    def county_approve(self, case: Case, when: dt.datetime) -> None:
        case.sign(self.a.county, when, expected_version=case.version, comment="批准")

    def to_step(
        self, case: Case, step: Step | None = None, start: dt.date = dt.date(2024, 3, 4)
    ) -> None:
        """Drive a case opened on `start` to `step`, or through approval when `step` is None.

        Application day 0, verification and screening day 1, notice days 2-6, appraisal day 7,
        town review day 8, county approval day 9.
        """

        def day(offset: int, hour: int = 10) -> dt.datetime:
            d = start + dt.timedelta(days=offset)
            return at(d.year, d.month, d.day, hour)

        plan: list[tuple[Step, list[Callable[[], None]]]] = [
            (Step.APPLICATION, [lambda: self.apply(case, day(0))]),
            (
                Step.VERIFICATION,
                [lambda: self.verify(case, day(1)), lambda: self.screen(case, day(1, 11))],
            ),
            (
                Step.VILLAGE_APPRAISAL,
                [lambda: self.publish(case, day(2)), lambda: self.appraise(case, day(7))],
            ),
            (Step.TOWN_REVIEW, [lambda: self.town_review(case, day(8))]),
            (Step.COUNTY_APPROVAL, [lambda: self.county_approve(case, day(9))]),
        ]
        for current, actions in plan:
            if current == step:
                return
            for action in actions:
                action()
        if step is not None:
            raise AssertionError(f"{step} is not a step the driver stops at")
