"""Columns of a batch: every field read as its value, codes per table, memoized event counts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from screening_support import household, member, replace

from fangpin_contracts.household import Household
from fangpin_screening.domain.population import (
    EMPLOYMENT,
    EVENT_KIND,
    HUKOU,
    ILLNESS,
    LABOR,
    SAFETY_NET,
    SCHOOL,
    population_of,
)

PERSON_CODES = {
    "hukou": HUKOU,
    "labor_capacity": LABOR,
    "employment": EMPLOYMENT,
    "illness": ILLNESS,
    "school_stage": SCHOOL,
}
PERSON_FLAGS = ("urban_security", "village_leader", "out_of_school", "high_fee_school")


def mixed_batch() -> list[Household]:
    return [
        household(
            members=[
                member(hukou="urban", urban_security=True, employment="public_employee"),
                member(
                    date(2012, 5, 1), relation="child", school_stage="junior", illness="chronic"
                ),
            ],
            income={"wage": 1200.5, "transfer": 300.0, "production_costs": 10.0},
            expenses={"medical_self_paid": 15000.0, "accident_cost": 2.25},
            assets={"vehicle": True, "financial_assets": True},
            flags={"absent_over_year": True},
            safety_net="dibao",
            housing_safe=False,
            events=[
                {"kind": "job_loss", "date": "2024-01-10"},
                {"kind": "disaster", "date": "2021-01-10"},
            ],
        ),
        household(formerly_poor=True, drinking_water_safe=False),
        household(
            members=[
                member(labor_capacity="none", disability_grade=1, medical_insured=False),
                member(relation="spouse", village_leader=True, high_fee_school=True),
                member(relation="parent", labor_capacity="weak", out_of_school=True),
            ],
            safety_net="tekun",
        ),
    ]


def test_every_household_field_becomes_its_column() -> None:
    batch = mixed_batch()
    pop = population_of(batch)
    h = pop.household
    assert pop.n == 3 and pop.household_id == [x.household_id for x in batch]
    for name in ("wage", "business", "property", "transfer", "production_costs"):
        assert h[name].dtype == np.float64
        assert h[name].tolist() == [getattr(x.income, name) for x in batch]
    for name in ("medical_self_paid", "education_self_paid", "disaster_loss", "accident_cost"):
        assert h[name].tolist() == [getattr(x.expenses, name) for x in batch]
    for name in ("formerly_poor", "housing_safe", "drinking_water_safe"):
        assert h[name].dtype == bool and h[name].tolist() == [getattr(x, name) for x in batch]
    for group in ("assets", "flags"):
        for name in type(getattr(batch[0], group)).__struct_fields__:
            expected = [getattr(getattr(x, group), name) for x in batch]
            assert h[name].dtype == bool and h[name].tolist() == expected
    assert h["safety_net"].tolist() == [SAFETY_NET[x.safety_net] for x in batch]
    assert h["members"].tolist() == [len(x.members) for x in batch]


def test_every_member_field_becomes_its_column() -> None:
    batch = mixed_batch()
    pop = population_of(batch)
    people = [(i, m) for i, x in enumerate(batch) for m in x.members]
    p = pop.person
    assert p["household"].tolist() == [i for i, _ in people]
    for name, table in PERSON_CODES.items():
        assert p[name].dtype == np.int8
        assert p[name].tolist() == [table[getattr(m, name)] for _, m in people]
    for name in (*PERSON_FLAGS, "medical_insured"):
        assert p[name].dtype == bool and p[name].tolist() == [getattr(m, name) for _, m in people]
    assert p["disability_grade"].tolist() == [m.disability_grade for _, m in people]
    assert p["birth_date"].tolist() == [m.birth_date.toordinal() for _, m in people]
    assert all(column.flags.c_contiguous for column in p.values())


def test_events_are_counted_per_kind_within_the_window() -> None:
    pop = population_of(mixed_batch())
    first, last = date(2023, 7, 1), date(2024, 6, 29)
    assert pop.count_events("job_loss", first, last).tolist() == [1, 0, 0]
    assert pop.count_events("disaster", first, last).tolist() == [0, 0, 0]
    assert pop.count_events("disaster", date(2021, 1, 10), last).tolist() == [1, 0, 0]
    assert pop.count_events("disaster", date(2021, 1, 11), last).tolist() == [0, 0, 0]
    assert set(EVENT_KIND) >= {"job_loss", "disaster"}


def test_an_empty_batch_has_empty_columns() -> None:
    pop = population_of([])
    assert pop.n == 0 and pop.household_id == []
    assert all(len(column) == 0 for column in (*pop.household.values(), *pop.person.values()))


def test_a_household_built_without_validation_names_the_field_it_breaks() -> None:
    odd = replace(household(), members=[replace(household().members[0], disability_grade=9)])
    with pytest.raises(ValueError, match="disability_grade: 9"):
        population_of([odd])
    with pytest.raises(ValueError, match="safety_net: 'welfare'"):
        population_of([replace(household(), safety_net="welfare")])
