"""A synthetic demo county: households (valid v1 records) and department warnings, reproducible."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"

# (dept, kind) pairs department systems send (CONTRACT section 4)
WARNING_SOURCES = (
    ("medical_insurance", "high_medical_expense"),
    ("civil_affairs", "new_dibao"),
    ("education", "dropout"),
    ("housing", "unsafe_housing"),
    ("water", "water_outage"),
    ("hrss", "unemployment"),
    ("emergency", "disaster"),
    ("agriculture", "crop_failure"),
    ("disabled_persons", "new_disability"),
)


def id_number(region: str, birth: date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK[total % 11]


@dataclass(frozen=True)
class DemoCounty:
    county: str = "652827"
    households: int = 300
    seed: int = 2026

    def towns(self) -> list[str]:
        return [f"{self.county}{100 + i * 100:03d}" for i in range(3)]

    def villages(self) -> list[str]:
        return [f"{town}{v:03d}" for town in self.towns() for v in (1, 2)]


def unique_id_number(region: str, birth: date, seq: int, used: set[str]) -> tuple[str, date]:
    """An ID number not in `used` (which it joins) and the birth date it encodes: the next free
    sequence code of that birth date, else of the next day. Keeps demo households valid at any
    size (intake refuses a person who is already a member of another household)."""
    for shift in range(366):
        day = birth + timedelta(days=shift)
        for step in range(1000):
            candidate = id_number(region, day, seq + step)
            if candidate not in used:
                used.add(candidate)
                return candidate, day
    raise ValueError(f"no free ID number near {birth} in region {region}")


def generate_households(demo: DemoCounty, today: date) -> list[dict[str, Any]]:
    """The demo county's households as a list (see `iter_households`)."""
    return list(iter_households(demo, today))


def iter_households(demo: DemoCounty, today: date) -> Iterator[dict[str, Any]]:
    """Valid v1 household records, reproducible from the seed, unique ID numbers at any size."""
    rng = random.Random(demo.seed)
    villages = demo.villages()
    used: set[str] = set()
    seq = 0
    for n in range(demo.households):
        village = villages[n % len(villages)]
        size = rng.choice((1, 2, 3, 3, 4, 4, 5))
        members = []
        for i in range(size):
            seq += 1
            age = rng.randint(30, 70) if i < 2 else rng.randint(3, 22)
            birth = today - timedelta(days=age * 365 + rng.randint(0, 364))
            is_child = i >= 2
            labor = "none" if is_child or age > 65 else rng.choice(("full", "full", "weak", "semi"))
            member_id, birth = unique_id_number(demo.county, birth, seq, used)
            member: dict[str, Any] = {
                "id_number": member_id,
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "relation": "head" if i == 0 else ("spouse" if i == 1 else "child"),
                "birth_date": birth.isoformat(),
                "labor_capacity": labor,
                "employment": "none"
                if labor == "none"
                else rng.choice(("farming", "local_job", "migrant_stable", "migrant_unstable")),
            }
            if is_child:
                member["school_stage"] = (
                    "primary"
                    if age < 12
                    else "junior"
                    if age < 15
                    else rng.choice(("senior", "vocational", "college", "none"))
                )
            if rng.random() < 0.08:
                member["illness"] = rng.choice(("chronic", "serious"))
            members.append(member)
        poor = rng.random() < 0.35
        per_head = rng.uniform(3500, 7200) if poor else rng.uniform(8000, 30000)
        wage = round(per_head * size * rng.uniform(0.3, 0.8), 2)
        business = round(per_head * size - wage + 1000, 2)
        record: dict[str, Any] = {
            "household_id": f"H{demo.county}{n:05d}",
            "region": {"county": demo.county, "town": village[:9], "village": village},
            "formerly_poor": rng.random() < 0.3,
            "members": members,
            "income": {
                "wage": wage,
                "business": business,
                "property": 0,
                "transfer": 0,
                "production_costs": 1000,
            },
            "expenses": {"medical_self_paid": round(rng.uniform(0, 4000), 2)},
        }
        if rng.random() < 0.03:
            record["housing_safe"] = False
        yield record


def generate_warnings(
    demo: DemoCounty, households: list[dict[str, Any]], today: date, count: int = 40
) -> list[dict[str, Any]]:
    """Warning payloads (CONTRACT section 4) with stable ids, so a reload sends no duplicate."""
    rng = random.Random(demo.seed + 1)
    out = []
    for n in range(count):
        household = rng.choice(households)
        dept, kind = rng.choice(WARNING_SOURCES)
        member = rng.choice(household["members"])
        data: dict[str, Any] = {
            "dept": dept,
            "kind": kind,
            "household_id": household["household_id"],
            "id_number": member["id_number"],
            "observed_at": (today - timedelta(days=rng.randint(0, 20))).isoformat(),
        }
        if kind in ("high_medical_expense", "disaster", "accident"):
            data["amount"] = float(rng.randint(12000, 60000))
        out.append({"event_id": f"demo-{demo.county}-warning-{n:04d}", "data": data})
    return out
