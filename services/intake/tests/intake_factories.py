"""Valid v1 household records for intake's tests."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from fangpin_cli.demo import id_number
from fangpin_kit.clock import in_china

COUNTY = "652827"
START = in_china(date(2024, 6, 3))  # Monday 10:00 in China: the clock of the service tests


def household(household_id: str = "H00001", county: str = COUNTY, **extra: Any) -> dict[str, Any]:
    from datetime import date

    record: dict[str, Any] = {
        "household_id": household_id,
        "region": {"county": county, "town": f"{county}100", "village": f"{county}100011"},
        "members": [
            {
                "id_number": id_number(county, date(1980, 1, 11), hash(household_id) % 900),
                "name": "王伟",
                "relation": "head",
                "birth_date": "1980-01-11",
            },
            {
                "id_number": id_number(county, date(1982, 3, 5), hash(household_id) % 900 + 1),
                "name": "李芳",
                "relation": "spouse",
                "birth_date": "1982-03-05",
            },
        ],
        "income": {"wage": 8000, "business": 4000},
    }
    record.update(copy.deepcopy(extra))
    return record
