"""Subscriptions (who receives what, by role and region) and recipient resolution for an event."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from fangpin_contracts.subjects import DEPARTMENTS
from fangpin_notify.domain.kinds import ChannelKind, EventKind, Role


class InvalidSubscription(ValueError):
    """A subscription that cannot be kept: bad region for the role, bad address, unknown dept."""


# Administrative codes: county 6 digits, town (乡镇) 9, village (村) 12.
REGION_LENGTHS: dict[Role, frozenset[int]] = {
    Role.VILLAGE_CADRE: frozenset({12}),
    Role.TOWN_REVIEWER: frozenset({9}),
    Role.COUNTY_BUREAU: frozenset({6}),
    Role.DEPT_DUTY: frozenset({6}),
    Role.CONTACT_CADRE: frozenset({6, 9, 12}),
}

# Who receives a kind when their subscription does not list kinds explicitly.
DEFAULT_ROUTING: Mapping[EventKind, frozenset[Role]] = {
    EventKind.CLUE_VERIFICATION_DUE: frozenset({Role.VILLAGE_CADRE, Role.CONTACT_CADRE}),
    EventKind.NOTICE_PERIOD_STARTED: frozenset({Role.VILLAGE_CADRE, Role.TOWN_REVIEWER}),
    EventKind.NOTICE_PERIOD_ENDED: frozenset({Role.VILLAGE_CADRE, Role.TOWN_REVIEWER}),
    EventKind.SIGNATURE_AWAITED: frozenset(
        {Role.VILLAGE_CADRE, Role.TOWN_REVIEWER, Role.COUNTY_BUREAU}
    ),
    EventKind.CASE_OVERDUE: frozenset({Role.TOWN_REVIEWER, Role.COUNTY_BUREAU}),
    EventKind.MEASURE_DISPATCHED: frozenset({Role.DEPT_DUTY, Role.CONTACT_CADRE}),
    EventKind.MEASURE_OVERDUE: frozenset({Role.DEPT_DUTY, Role.COUNTY_BUREAU}),
    EventKind.VISIT_DUE: frozenset({Role.CONTACT_CADRE}),
    EventKind.INCOME_COLLECTION_DUE: frozenset({Role.VILLAGE_CADRE, Role.CONTACT_CADRE}),
    EventKind.SCALE_RISK_ALERT: frozenset({Role.TOWN_REVIEWER, Role.COUNTY_BUREAU, Role.DEPT_DUTY}),
    EventKind.CASE_DECIDED: frozenset({Role.VILLAGE_CADRE, Role.TOWN_REVIEWER, Role.CONTACT_CADRE}),
    EventKind.PLAN_CREATED: frozenset({Role.VILLAGE_CADRE, Role.CONTACT_CADRE}),
    # A task names the role it is for (TaskDue.recipient_role); the target role decides.
    EventKind.TASK_DUE: frozenset(Role),
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^\+?[0-9]{8,15}$")


def _check_region(region: str) -> None:
    if not region.isdigit() or len(region) not in {6, 9, 12}:
        raise InvalidSubscription(f"region: {region!r} is not a 6, 9 or 12 digit code")


def regions_overlap(a: str, b: str) -> bool:
    """One area contains the other: a county code covers its towns and villages and vice versa."""
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a recipient; the address (phone, e-mail) is never in the repr."""

    channel: ChannelKind
    address: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", ChannelKind(self.channel))
        match self.channel:
            case ChannelKind.EMAIL if not _EMAIL.match(self.address):
                raise InvalidSubscription("address: not an e-mail address")
            case ChannelKind.SMS if not _MOBILE.match(self.address.replace(" ", "")):
                raise InvalidSubscription("address: not a phone number")
            case ChannelKind.WEBHOOK if not self.address.startswith(("http://", "https://")):
                raise InvalidSubscription("address: not an http(s) URL")
            case _:
                pass


@dataclass(frozen=True)
class Subscription:
    """订阅: a recipient in a role, for a region (and dept), reached through one endpoint.

    `event_kinds` empty means the role's defaults (DEFAULT_ROUTING); otherwise exactly those.
    `recipient_id` is the person or desk, e.g. a cadre's user id or `dept:civil_affairs`.
    """

    recipient_id: str
    role: Role
    region: str
    endpoint: Endpoint = field(default_factory=lambda: Endpoint(ChannelKind.LOG))
    event_kinds: frozenset[EventKind] = frozenset()
    dept: str | None = None
    locale: str = "zh-CN"
    active: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "event_kinds", frozenset(EventKind(k) for k in self.event_kinds))
        if not self.recipient_id.strip():
            raise InvalidSubscription("recipient_id: empty")
        _check_region(self.region)
        if len(self.region) not in REGION_LENGTHS[self.role]:
            lengths = sorted(REGION_LENGTHS[self.role])
            raise InvalidSubscription(
                f"region: a {self.role} subscribes with a {lengths} digit code, got {self.region}"
            )
        if self.role is Role.DEPT_DUTY:
            if self.dept not in DEPARTMENTS:
                raise InvalidSubscription(f"dept: {self.dept!r} is not a department code")
        elif self.dept is not None:
            raise InvalidSubscription(f"dept: only a {Role.DEPT_DUTY} subscription has one")
        if not self.locale:
            raise InvalidSubscription("locale: empty")

    def wants(self, kind: EventKind, *, escalation: bool = False) -> bool:
        """Listed kinds only, else the role's defaults; an escalation (逾期督办) addressed to
        the role reaches a subscription with the defaults whatever its kind."""
        if self.event_kinds:
            return kind in self.event_kinds
        return escalation or self.role in DEFAULT_ROUTING[kind]


@dataclass(frozen=True)
class Recipient:
    """A person or desk to notify about one event, with every role that made them a recipient."""

    recipient_id: str
    roles: frozenset[Role]
    locale: str
    endpoints: tuple[Endpoint, ...]


def _matches(
    sub: Subscription,
    kind: EventKind,
    region: str,
    dept: str | None,
    contact_cadres: Collection[str],
    target_roles: Collection[Role] | None,
    escalation: bool,
) -> bool:
    if not sub.active or not sub.wants(kind, escalation=escalation):
        return False
    if target_roles is not None and sub.role not in target_roles:
        return False
    match sub.role:
        case Role.CONTACT_CADRE:
            # The household's own contact cadre (帮扶联系人), wherever they are posted.
            return sub.recipient_id in contact_cadres
        case Role.DEPT_DUTY:
            return regions_overlap(sub.region, region) and (dept is None or sub.dept == dept)
        case _:
            return regions_overlap(sub.region, region)


def resolve_recipients(
    event_kind: EventKind,
    region: str,
    dept: str | None,
    contact_cadres: Collection[str],
    subscriptions: Iterable[Subscription],
    *,
    target_roles: Collection[Role] | None = None,
    escalation: bool = False,
) -> list[Recipient]:
    """Who must learn about an event of `event_kind` in `region` (a 6, 9 or 12 digit code).

    A subscription matches when its area and the event's overlap (a county bureau hears of
    its villages; a county-wide task reaches every village cadre), a department's duty
    contact only for its own department (or for events naming none), and a contact cadre
    only for their own households (`contact_cadres`). `target_roles` narrows to the roles
    the event addresses (e.g. the step awaiting a town reviewer's signature). An
    `escalation` goes to the target roles even where the kind is not among a role's
    defaults (a missed verification escalates to the town). Several subscriptions of one
    person merge into one recipient with every matching endpoint.
    """
    if escalation and target_roles is None:
        raise ValueError("an escalation names the roles it is addressed to (target_roles)")
    kind = EventKind(event_kind)
    _check_region(region)
    by_recipient: dict[str, list[Subscription]] = {}
    for sub in subscriptions:
        if _matches(sub, kind, region, dept, contact_cadres, target_roles, escalation):
            by_recipient.setdefault(sub.recipient_id, []).append(sub)
    recipients = []
    for recipient_id in sorted(by_recipient):
        subs = sorted(
            by_recipient[recipient_id], key=lambda s: (s.endpoint.channel, s.endpoint.address)
        )
        endpoints = tuple(dict.fromkeys(s.endpoint for s in subs))
        recipients.append(
            Recipient(
                recipient_id=recipient_id,
                roles=frozenset(s.role for s in subs),
                locale=subs[0].locale,
                endpoints=endpoints,
            )
        )
    return recipients
