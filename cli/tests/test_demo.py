"""The demo county generator: valid, reproducible households at any size."""

from __future__ import annotations

from datetime import date

from fangpin_cli.demo import DemoCounty, generate_households, iter_households
from fangpin_contracts.household import validate_household

TODAY = date(2027, 2, 8)


def test_twenty_thousand_households_are_valid_with_unique_id_numbers() -> None:
    seen: set[str] = set()
    count = 0
    for record in iter_households(DemoCounty(households=20_000, seed=11), TODAY):
        validate_household(record)  # the v1 schema and the GB 11643 check digit
        for member in record["members"]:
            assert member["id_number"] not in seen, member["id_number"]
            seen.add(member["id_number"])
            # the ID number encodes the member's birth date
            assert member["id_number"][6:14] == member["birth_date"].replace("-", "")
        count += 1
    assert count == 20_000
    assert len(seen) > 40_000


def test_the_same_seed_and_day_give_the_same_county() -> None:
    demo = DemoCounty(households=500, seed=3)
    assert generate_households(demo, TODAY) == generate_households(demo, TODAY)
    assert generate_households(demo, TODAY) != generate_households(
        DemoCounty(households=500, seed=4), TODAY
    )
