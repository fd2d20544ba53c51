"""Who signs: actors with a level and a region, and region containment by code prefix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """Administrative level an actor acts at."""

    HOUSEHOLD = "household"  # 农户
    VILLAGE = "village"  # 村(社区)
    TOWN = "town"  # 乡镇(街道)
    COUNTY = "county"  # 县(区)乡村振兴部门


# Region codes (统计用区划代码): county 6 digits, township 9, village 12. A household acts in
# its village, so it carries the village code.
REGION_CODE_LENGTH: dict[Level, int] = {
    Level.HOUSEHOLD: 12,
    Level.VILLAGE: 12,
    Level.TOWN: 9,
    Level.COUNTY: 6,
}


def validate_region(code: str, level: Level) -> str:
    """Return `code` when it is a region code of the right length for `level`, else raise."""
    expected = REGION_CODE_LENGTH[level]
    if not (code.isascii() and code.isdigit() and len(code) == expected):
        raise ValueError(f"region {code!r}: a {level} region code has {expected} digits")
    return code


def region_contains(outer: str, inner: str) -> bool:
    """True when region `inner` lies in (or is) region `outer` (code prefix)."""
    return inner.startswith(outer)


def town_of(village: str) -> str:
    """The township code of a 12-digit village code."""
    return validate_region(village, Level.VILLAGE)[: REGION_CODE_LENGTH[Level.TOWN]]


def county_of(region: str) -> str:
    """The county code of a town or village code."""
    return region[: REGION_CODE_LENGTH[Level.COUNTY]]


@dataclass(frozen=True)
class Actor:
    """A named person signing at a level for a region (签字人).

    `role` is the person's function as recorded (e.g. `village_secretary`, `town_officer`,
    `county_bureau`); authorization depends only on `level` and `region`.
    """

    id: str
    name: str
    role: str
    level: Level
    region: str

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("actor id is empty")
        if not self.name.strip():
            raise ValueError(f"actor {self.id}: name is empty")
        object.__setattr__(self, "level", Level(self.level))
        validate_region(self.region, self.level)

    def covers(self, region: str) -> bool:
        """True when this actor's region contains `region`."""
        return region_contains(self.region, region)

    def as_record(self) -> dict[str, Any]:
        """The actor as recorded in the ledger and events."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "level": self.level.value,
            "region": self.region,
        }
