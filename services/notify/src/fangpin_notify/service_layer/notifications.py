"""Turning a fact into recorded notices: recipients, rendering, exactly-once and the digest."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fangpin_kit.clock import china_date
from fangpin_kit.db import UnitOfWork
from fangpin_kit.masking import mask_id_number
from fangpin_notify.adapters.orm import NoticeRow
from fangpin_notify.adapters.repository import (
    DIGESTED,
    HELD,
    DigestDayRepository,
    NoticeRepository,
    SubscriptionRepository,
)
from fangpin_notify.domain.delivery import DeliveryStatus
from fangpin_notify.domain.digest import DigestItem, Route, plan_batch, route
from fangpin_notify.domain.kinds import ChannelKind, EventKind, Phase, Role
from fangpin_notify.domain.notices import Notice, compose_notices
from fangpin_notify.domain.subscriptions import (
    Endpoint,
    Recipient,
    Subscription,
    resolve_recipients,
)
from fangpin_notify.domain.templates import Message, render, render_digest
from fangpin_notify.service_layer.context import NotifyContext

UNASSIGNED = "unassigned:"
PENDING = DeliveryStatus.PENDING.value
_SCOPE_LENGTH: Mapping[Role, int] = {
    Role.VILLAGE_CADRE: 12,
    Role.CONTACT_CADRE: 12,
    Role.TOWN_REVIEWER: 9,
    Role.COUNTY_BUREAU: 6,
    Role.DEPT_DUTY: 6,
}


@dataclass(frozen=True)
class Audience:
    """Whom a fact addresses: roles in a region (and a department, the household's cadres)."""

    region: str
    roles: frozenset[Role]
    dept: str | None = None
    contact_cadres: tuple[str, ...] = ()
    escalation: bool = False


def unassigned_recipient(role: Role, audience: Audience, locale: str) -> Recipient:
    """`unassigned:<role>@<region>` on the log channel: kept and visible, never lost."""
    length = _SCOPE_LENGTH[role]
    scope = audience.region[:length] if len(audience.region) >= length else audience.region
    name = role.value
    if role is Role.DEPT_DUTY and audience.dept:
        name = f"{role.value}:{audience.dept}"
    return Recipient(
        recipient_id=f"{UNASSIGNED}{name}@{scope}",
        roles=frozenset({role}),
        locale=locale,
        endpoints=(Endpoint(ChannelKind.LOG),),
    )


def recipients_among(
    ctx: NotifyContext, kind: EventKind, audience: Audience, subscriptions: Iterable[Subscription]
) -> list[Recipient]:
    """Subscribers the audience reaches, plus an unassigned recipient per role nobody covers."""
    found = resolve_recipients(
        kind,
        audience.region,
        audience.dept,
        audience.contact_cadres,
        subscriptions,
        target_roles=audience.roles,
        escalation=audience.escalation,
    )
    covered = {role for r in found for role in r.roles}
    for role in sorted(audience.roles - covered):
        found.append(unassigned_recipient(role, audience, ctx.default_locale))
    return found


class SubscriptionIndex:
    """Active subscriptions by area, so a sweep over many deadlines looks at the few that may
    match each (the domain still decides)."""

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self._by_region: dict[str, list[Subscription]] = {}
        self._by_recipient: dict[str, list[Subscription]] = {}
        for sub in subscriptions:
            # a contact cadre hears of their own households only, wherever they subscribed
            if sub.role is not Role.CONTACT_CADRE:
                self._by_region.setdefault(sub.region, []).append(sub)
            self._by_recipient.setdefault(sub.recipient_id, []).append(sub)

    def candidates(self, region: str, contact_cadres: Iterable[str] = ()) -> list[Subscription]:
        found: dict[int, Subscription] = {}
        codes = {region[:n] for n in (6, 9, 12) if n <= len(region)}
        if len(region) < 12:  # a town or county matter also reaches the areas inside it
            codes.update(code for code in self._by_region if code.startswith(region))
        for code in codes:
            found.update((id(s), s) for s in self._by_region.get(code, ()))
        for cadre in contact_cadres:
            found.update((id(s), s) for s in self._by_recipient.get(cadre, ()))
        return list(found.values())


async def recipients_for(
    uow: UnitOfWork, ctx: NotifyContext, kind: EventKind, audience: Audience
) -> list[Recipient]:
    subs = await SubscriptionRepository(uow.session).candidates(
        audience.region, audience.contact_cadres
    )
    return recipients_among(ctx, kind, audience, subs)


def merge_recipients(*groups: Iterable[Recipient]) -> dict[str, Recipient]:
    """One recipient per id, with the roles and endpoints of every group it appears in."""
    merged: dict[str, Recipient] = {}
    for group in groups:
        for r in group:
            seen = merged.get(r.recipient_id)
            if seen is None:
                merged[r.recipient_id] = r
                continue
            merged[r.recipient_id] = Recipient(
                recipient_id=r.recipient_id,
                roles=seen.roles | r.roles,
                locale=seen.locale,
                endpoints=tuple(dict.fromkeys(seen.endpoints + r.endpoints)),
            )
    return merged


@dataclass(frozen=True)
class Draft:
    """A rendered notification for one recipient, before it is recorded and routed."""

    dedupe_key: str
    recipient: Recipient
    message: Message
    phase: Phase | None = None
    urgent: bool = False
    household_id: str | None = None
    source_event: str | None = None
    deadline_key: str | None = None


def draft(
    ctx: NotifyContext,
    kind: EventKind,
    context: Mapping[str, Any],
    recipient: Recipient,
    dedupe_key: str,
    *,
    phase: Phase | None = None,
    urgent: bool = False,
    household_id: str | None = None,
    source_event: str | None = None,
    deadline_key: str | None = None,
) -> Draft:
    """Render `kind` for the recipient (their roles decide what they may see)."""
    message = render(
        ctx.catalog, kind, context, roles=recipient.roles, locale=recipient.locale, phase=phase
    )
    return Draft(
        dedupe_key=dedupe_key,
        recipient=recipient,
        message=message,
        phase=phase,
        urgent=urgent,
        household_id=household_id,
        source_event=source_event,
        deadline_key=deadline_key,
    )


def _one_per_channel(notices: Sequence[Notice]) -> list[Notice]:
    """The notice id derives from key and channel: a second address on a channel is dropped."""
    seen: set[ChannelKind] = set()
    out: list[Notice] = []
    for notice in notices:
        if notice.channel not in seen:
            seen.add(notice.channel)
            out.append(notice)
    return out


NoticeValues = dict[str, Any]


def _rows(
    d: Draft, status: str, day: date, now: datetime, digest_key: str | None = None
) -> list[NoticeValues]:
    """The notices of a draft, one per channel of the recipient, as column values."""
    notices = compose_notices(
        d.dedupe_key,
        d.recipient,
        d.message,
        created_at=now,
        household_id=d.household_id,
        source_event=d.source_event,
    )
    return [
        {
            "notice_id": n.notice_id,
            "dedupe_key": n.dedupe_key,
            "kind": n.kind,
            "phase": d.phase.value if d.phase else None,
            "recipient_id": n.recipient_id,
            "channel": n.channel.value,
            "address": n.address,
            "subject": n.subject,
            "body": n.body,
            "locale": n.locale,
            "household_id": n.household_id,
            "source_event": n.source_event,
            "deadline_key": d.deadline_key,
            "urgent": d.urgent,
            "day": day,
            "status": status,
            "digest_key": digest_key,
            "attempts": 0,
            "history": [],
            "created_at": now,
            "updated_at": now,
        }
        for n in _one_per_channel(notices)
    ]


@dataclass
class Placement:
    """What recording a batch of drafts did (notices as column values)."""

    pending: list[NoticeValues] = field(default_factory=list)
    held: list[NoticeValues] = field(default_factory=list)
    digests: list[NoticeValues] = field(default_factory=list)
    skipped: int = 0  # already recorded (redelivery, re-run)

    @property
    def rows(self) -> list[NoticeValues]:
        return self.pending + self.held + self.digests


async def place(uow: UnitOfWork, ctx: NotifyContext, drafts: Sequence[Draft]) -> Placement:
    """Record drafts not recorded before; past the day's threshold a recipient's routine
    notices wait for the daily digest (`held`), urgent ones always go at once."""
    now = ctx.clock()
    today = china_date(now)
    params = ctx.parameters(today)
    notices = NoticeRepository(uow.session)
    existing = await notices.existing_keys(d.dedupe_key for d in drafts)
    singles: dict[str, int] = {}
    out = Placement()
    for d in drafts:
        if d.dedupe_key in existing:
            out.skipped += 1
            continue
        existing.add(d.dedupe_key)
        status = DeliveryStatus.PENDING.value
        recipient = d.recipient.recipient_id
        if not d.urgent:
            if recipient not in singles:
                singles[recipient] = await notices.singles_on(recipient, today)
            if route(_item(d, today), singles[recipient], params) is Route.HOLD_FOR_DIGEST:
                status = HELD
            else:
                singles[recipient] += 1
        rows = _rows(d, status, today, now)
        (out.held if status == HELD else out.pending).extend(rows)
    await notices.insert(out.rows)
    return out


def _item(d: Draft, day: date) -> DigestItem:
    return DigestItem(
        recipient_id=d.recipient.recipient_id,
        day=day,
        dedupe_key=d.dedupe_key,
        kind=d.message.kind,
        title=d.message.subject,
        urgent=d.urgent,
    )


async def place_daily_batch(
    uow: UnitOfWork, ctx: NotifyContext, drafts: Sequence[Draft]
) -> Placement:
    """The day's first reminder run: this run's drafts and every notice held since the last
    one are planned together; a recipient over the threshold gets one digest (每日汇总)."""
    now = ctx.clock()
    today = china_date(now)
    params = ctx.parameters(today)
    notices = NoticeRepository(uow.session)
    existing = await notices.existing_keys(d.dedupe_key for d in drafts)
    fresh: dict[str, Draft] = {}
    for d in drafts:
        if d.dedupe_key in existing or d.dedupe_key in fresh:
            continue
        fresh[d.dedupe_key] = d
    held: dict[str, list[NoticeRow]] = {}
    for row in await notices.held():
        held.setdefault(row.dedupe_key, []).append(row)

    items = [
        DigestItem(
            recipient_id=rows[0].recipient_id,
            day=today,
            dedupe_key=key,
            kind=rows[0].kind,
            title=rows[0].subject,
        )
        for key, rows in held.items()
    ] + [_item(d, today) for d in fresh.values()]
    plan = plan_batch(items, params)
    out = Placement(skipped=len(drafts) - len(fresh))
    bundled: list[NoticeValues] = []
    released: list[str] = []
    for item in plan.singles:
        if item.dedupe_key in fresh:
            out.pending.extend(_rows(fresh[item.dedupe_key], PENDING, today, now))
        else:
            released.extend(r.notice_id for r in held[item.dedupe_key])
    await notices.set_status(released, PENDING, now)
    for digest in plan.digests:
        endpoints: dict[tuple[str, str], None] = {}
        locale = ctx.default_locale
        carried: list[str] = []
        for item in digest.items:
            if item.dedupe_key in fresh:
                d = fresh[item.dedupe_key]
                locale = d.recipient.locale
                endpoints.update(
                    {(e.channel.value, e.address): None for e in d.recipient.endpoints}
                )
                bundled.extend(_rows(d, DIGESTED, today, now, digest_key=digest.dedupe_key))
            else:
                for row in held[item.dedupe_key]:
                    locale = row.locale
                    endpoints[(row.channel, row.address)] = None
                    carried.append(row.notice_id)
        await notices.set_status(carried, DIGESTED, now, digest_key=digest.dedupe_key)
        message = render_digest(ctx.catalog, today, digest.titles, locale=locale)
        recipient = Recipient(
            recipient_id=digest.recipient_id,
            roles=frozenset(),
            locale=message.locale,
            endpoints=tuple(Endpoint(ChannelKind(c), a) for c, a in endpoints),
        )
        bundle = Draft(dedupe_key=digest.dedupe_key, recipient=recipient, message=message)
        out.digests.extend(_rows(bundle, PENDING, today, now))
    await notices.insert(out.rows + bundled)
    DigestDayRepository(uow.session).mark(today, now)
    await uow.session.flush()
    return out


def household_fields(snapshot: Mapping[str, Any] | None) -> dict[str, Any]:
    """Head of household's name and masked ID number from a v1 record snapshot, if any.

    The ID number is stored masked: a notice can never show more than the mask.
    """
    if not snapshot:
        return {}
    members = snapshot.get("members") or []
    head = next((m for m in members if m.get("relation") == "head"), members[0] if members else {})
    out: dict[str, Any] = {}
    if head.get("name"):
        out["household_name"] = str(head["name"])
    if head.get("id_number"):
        out["id_number"] = mask_id_number(str(head["id_number"]))
    return out


DATE_FIELDS = "__dates__"


def encode_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Template fields as JSON: dates as ISO text, their names listed to read them back."""
    out: dict[str, Any] = {}
    dates = []
    for name, value in context.items():
        if isinstance(value, date):
            out[name] = value.isoformat()
            dates.append(name)
        else:
            out[name] = value
    if dates:
        out[DATE_FIELDS] = sorted(dates)
    return out


def decode_context(stored: Mapping[str, Any]) -> dict[str, Any]:
    dates = set(stored.get(DATE_FIELDS, ()))
    return {
        name: date.fromisoformat(value) if name in dates else value
        for name, value in stored.items()
        if name != DATE_FIELDS
    }


def roles_of(values: Collection[str]) -> frozenset[Role]:
    return frozenset(Role(v) for v in values)
