"""The household facts assistance plans from: a plain value object, independent of contracts."""

from dataclasses import dataclass
from datetime import date

from fangpin_assistance.domain.codes import (
    Category,
    LaborCapacity,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
)

WORKING_CAPACITIES = frozenset({LaborCapacity.FULL, LaborCapacity.WEAK, LaborCapacity.SEMI})
"""有劳动能力 includes weak and semi labor (含弱劳力半劳力)."""


@dataclass(frozen=True)
class MemberSummary:
    """One member as assistance sees it.

    `member_ref` is an opaque reference (e.g. the member's index or a masked ID), never a
    full ID number.
    """

    member_ref: str
    labor_capacity: LaborCapacity = LaborCapacity.FULL
    school_stage: SchoolStage = SchoolStage.NONE
    school_stage_ends_on: date | None = None
    """End of the member's current school stage (学段), when known."""

    @property
    def can_work(self) -> bool:
        """Whether the member has labor capacity, weak and semi included."""
        return self.labor_capacity in WORKING_CAPACITIES


@dataclass(frozen=True)
class HouseholdSummary:
    """What the planner and the plan rules need about one monitored household."""

    household_id: str
    county: str
    village: str
    category: Category | None
    """None while a green-channel (绿色通道) household is not yet identified."""
    risk_types: tuple[RiskType, ...]
    members: tuple[MemberSummary, ...]
    referrals: tuple[Referral, ...] = ()
    safety_net: SafetyNet = SafetyNet.NONE
    formerly_poor: bool = False
    green_channel: bool = False

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"household {self.household_id}: needs at least one member")
        refs = [member.member_ref for member in self.members]
        if len(set(refs)) != len(refs):
            raise ValueError(f"household {self.household_id}: member references must be unique")

    @property
    def has_labor(self) -> bool:
        """Some member can work (weak and semi labor included)."""
        return any(member.can_work for member in self.members)

    @property
    def has_full_labor(self) -> bool:
        """Some member has full labor capacity (普通劳动力)."""
        return any(member.labor_capacity is LaborCapacity.FULL for member in self.members)

    @property
    def whole_no_labor(self) -> bool:
        """整户无劳动能力."""
        return not self.has_labor

    def member(self, member_ref: str) -> MemberSummary:
        """The member with this reference; KeyError when unknown."""
        for member in self.members:
            if member.member_ref == member_ref:
                return member
        raise KeyError(f"household {self.household_id}: unknown member {member_ref!r}")

    def workers(self) -> tuple[MemberSummary, ...]:
        """Members who can work, full labor first (the usual beneficiary order)."""
        working = [member for member in self.members if member.can_work]
        return tuple(
            sorted(working, key=lambda member: member.labor_capacity is not LaborCapacity.FULL)
        )
