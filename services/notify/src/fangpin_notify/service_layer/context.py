"""What notify's use cases need from outside: county, parameters, templates, clock, channels."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

from fangpin_kit.clock import CHINA, Clock, china_date
from fangpin_notify.domain.kinds import ChannelKind, Role
from fangpin_notify.domain.parameters import NotifyParameters
from fangpin_notify.domain.templates import TemplateCatalog

# Who acts at which administrative level (the procedure's levels, approval's `Level`).
ROLE_LEVEL: Mapping[Role, str] = {
    Role.VILLAGE_CADRE: "village",
    Role.CONTACT_CADRE: "village",
    Role.TOWN_REVIEWER: "town",
    Role.COUNTY_BUREAU: "county",
    Role.DEPT_DUTY: "county",
}
LEVEL_ROLE: Mapping[str, Role] = {
    "household": Role.VILLAGE_CADRE,  # a household's part is helped by its village cadre
    "village": Role.VILLAGE_CADRE,
    "town": Role.TOWN_REVIEWER,
    "county": Role.COUNTY_BUREAU,
}


@dataclass(frozen=True)
class NotifyContext:
    """The composition root builds one per process; tests build their own (any clock)."""

    county: str
    parameters: Callable[[date], NotifyParameters]
    escalation: Callable[[date], Mapping[str, str]]
    catalog: TemplateCatalog
    clock: Clock
    enabled_channels: Collection[ChannelKind] = field(default=(ChannelKind.LOG,))
    reminder_hour: int = 8
    default_locale: str = "zh-CN"
    source: str = "fangpin/notify"

    def today(self) -> date:
        return china_date(self.clock())

    def local_hour(self) -> int:
        return self.clock().astimezone(CHINA).hour

    def escalate(self, role: Role, day: date) -> Role:
        """The role an overdue matter of `role` escalates to (逐级督办, from the ruleset)."""
        return LEVEL_ROLE[self.escalation(day)[ROLE_LEVEL[role]]]


# Other names events use for a level's desk.
ROLE_ALIASES: Mapping[str, Role] = {"township": Role.TOWN_REVIEWER}


def role_for(value: str) -> Role:
    """A role named by an event: a notify role (`town_reviewer`) or a level (`town`)."""
    if value in LEVEL_ROLE:
        return LEVEL_ROLE[value]
    if value in ROLE_ALIASES:
        return ROLE_ALIASES[value]
    return Role(value)
