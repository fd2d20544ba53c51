"""Loading and saving notify's records through the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_kit.paging import Keyset, Page, PageRequest
from fangpin_notify.adapters.orm import (
    CaseProgressRow,
    DeadlineRow,
    DigestDayRow,
    MeasureDispatchRow,
    NoticeRow,
    SubscriptionRow,
)
from fangpin_notify.domain.delivery import Attempt, Delivery, DeliveryStatus
from fangpin_notify.domain.kinds import ChannelKind, EventKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.subscriptions import Endpoint, Subscription

SUBSCRIPTION_NAMESPACE = uuid.UUID("8a6f4f0e-3c2b-5d7a-9e61-0b4c2d9f7a15")

HELD = "held"
DIGESTED = "digested"
# Notices that went (or go) out singly: what the digest threshold counts.
SINGLE_STATES = frozenset(s.value for s in DeliveryStatus)
NOTICE_STATES = SINGLE_STATES | {HELD, DIGESTED}

# Listing orders: subscriptions by recipient, area and channel (the id, derived from those,
# breaks ties); notices by creation, newest first unless asked otherwise; deadlines earliest
# due first.
SUBSCRIPTION_KEYSET = Keyset(
    "notify.subscriptions",
    SubscriptionRow.recipient_id,
    SubscriptionRow.region,
    SubscriptionRow.channel,
    SubscriptionRow.subscription_id,
)
NOTICE_KEYSET = Keyset("notify.notices", NoticeRow.created_at, NoticeRow.notice_id)
DEADLINE_KEYSET = Keyset("notify.deadlines", DeadlineRow.due, DeadlineRow.key)


def subscription_id_for(sub: Subscription) -> str:
    """Same recipient, role, region, dept and endpoint: same subscription."""
    parts = [
        sub.recipient_id,
        sub.role.value,
        sub.region,
        sub.dept or "",
        sub.endpoint.channel.value,
        sub.endpoint.address,
    ]
    return str(uuid.uuid5(SUBSCRIPTION_NAMESPACE, "|".join(parts)))


def to_subscription(row: SubscriptionRow) -> Subscription:
    return Subscription(
        recipient_id=row.recipient_id,
        role=row.role,  # type: ignore[arg-type]
        region=row.region,
        endpoint=Endpoint(ChannelKind(row.channel), row.address),
        event_kinds=frozenset(EventKind(k) for k in row.event_kinds),
        dept=row.dept or None,
        locale=row.locale,
        active=row.active,
    )


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, subscription_id: str) -> SubscriptionRow | None:
        return await self.session.get(SubscriptionRow, subscription_id)

    async def save(self, sub: Subscription, now: datetime) -> SubscriptionRow:
        """Create the subscription, or update (and reactivate) the same one."""
        subscription_id = subscription_id_for(sub)
        row = await self.get(subscription_id)
        kinds = sorted(k.value for k in sub.event_kinds)
        if row is None:
            row = SubscriptionRow(
                subscription_id=subscription_id,
                recipient_id=sub.recipient_id,
                role=sub.role.value,
                region=sub.region,
                dept=sub.dept or "",
                channel=sub.endpoint.channel.value,
                address=sub.endpoint.address,
                event_kinds=kinds,
                locale=sub.locale,
                active=sub.active,
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
        else:
            row.event_kinds = kinds
            row.locale = sub.locale
            row.active = sub.active
            row.updated_at = now
        await self.session.flush()
        return row

    async def deactivate(
        self, now: datetime, *, subscription_id: str = "", recipient_id: str = ""
    ) -> int:
        query = sa.update(SubscriptionRow).where(SubscriptionRow.active.is_(True))  # type: ignore[attr-defined]
        if subscription_id:
            query = query.where(SubscriptionRow.subscription_id == subscription_id)
        if recipient_id:
            query = query.where(SubscriptionRow.recipient_id == recipient_id)
        result = await self.session.execute(query.values(active=False, updated_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def list(
        self,
        *,
        page: PageRequest,
        recipient_id: str = "",
        role: str = "",
        region: str = "",
        include_inactive: bool = False,
    ) -> Page[SubscriptionRow]:
        """One page of subscriptions in SUBSCRIPTION_KEYSET order."""
        query = sa.select(SubscriptionRow)
        if not include_inactive:
            query = query.where(SubscriptionRow.active.is_(True))  # type: ignore[attr-defined]
        if recipient_id:
            query = query.where(SubscriptionRow.recipient_id == recipient_id)
        if role:
            query = query.where(SubscriptionRow.role == role)
        if region:
            query = query.where(_overlapping(region))
        rows = list((await self.session.execute(SUBSCRIPTION_KEYSET.apply(query, page))).scalars())
        return SUBSCRIPTION_KEYSET.page(rows, page)

    async def candidates(self, region: str, contact_cadres: Collection[str]) -> list[Subscription]:
        """Active subscriptions that may match an event in `region` (the domain decides)."""
        where = _overlapping(region)
        if contact_cadres:
            where = sa.or_(where, SubscriptionRow.recipient_id.in_(list(contact_cadres)))  # type: ignore[attr-defined]
        query = sa.select(SubscriptionRow).where(
            SubscriptionRow.active.is_(True),  # type: ignore[attr-defined]
            where,
        )
        return [to_subscription(r) for r in (await self.session.execute(query)).scalars()]

    async def all_active(self) -> list[Subscription]:
        query = sa.select(SubscriptionRow).where(SubscriptionRow.active.is_(True))  # type: ignore[attr-defined]
        return [to_subscription(r) for r in (await self.session.execute(query)).scalars()]


def _overlapping(region: str) -> Any:
    """Subscriptions whose area contains `region` or lies inside it (code prefixes)."""
    prefixes = [region[:n] for n in (6, 9, 12) if n <= len(region)]
    return sa.or_(
        SubscriptionRow.region.in_(prefixes),  # type: ignore[attr-defined]
        SubscriptionRow.region.startswith(region),  # type: ignore[attr-defined]
    )


def to_notice(row: NoticeRow) -> Notice:
    return Notice(
        notice_id=row.notice_id,
        dedupe_key=row.dedupe_key,
        kind=row.kind,
        recipient_id=row.recipient_id,
        channel=ChannelKind(row.channel),
        address=row.address,
        subject=row.subject,
        body=row.body,
        locale=row.locale,
        created_at=row.created_at,
        household_id=row.household_id,
        source_event=row.source_event,
    )


def to_delivery(row: NoticeRow) -> Delivery:
    """The delivery state machine of a notice that is out singly (not held or digested)."""
    return Delivery(
        notice_id=row.notice_id,
        channel=ChannelKind(row.channel),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        provider_ref=row.provider_ref,
        history=[
            Attempt(
                number=int(a["number"]),
                at=datetime.fromisoformat(a["at"]),
                ok=bool(a["ok"]),
                detail=str(a["detail"]),
            )
            for a in row.history
        ],
    )


def delivery_values(delivery: Delivery) -> dict[str, Any]:
    """The columns holding a delivery's state."""
    return {
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "provider_ref": delivery.provider_ref,
        "history": [
            {"number": a.number, "at": a.at.isoformat(), "ok": a.ok, "detail": a.detail}
            for a in delivery.history
        ],
    }


class NoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add notices given as column values (fast for the many of a morning sweep)."""
        for start in range(0, len(rows), 500):
            await self.session.execute(sa.insert(NoticeRow), list(rows[start : start + 500]))

    async def set_status(
        self, notice_ids: Sequence[str], status: str, now: datetime, *, digest_key: str = ""
    ) -> None:
        """Release held notices (`pending`) or mark them sent in a digest (`digested`)."""
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if digest_key:
            values["digest_key"] = digest_key
        for start in range(0, len(notice_ids), 500):
            chunk = list(notice_ids[start : start + 500])
            await self.session.execute(
                sa.update(NoticeRow).where(NoticeRow.notice_id.in_(chunk)).values(**values)  # type: ignore[attr-defined]
            )

    async def get(self, notice_id: str) -> NoticeRow | None:
        return await self.session.get(NoticeRow, notice_id)

    async def existing_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = sorted(set(keys))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self.session.execute(
                sa.select(NoticeRow.dedupe_key).where(NoticeRow.dedupe_key.in_(chunk))  # type: ignore[attr-defined]
            )
            found.update(rows.scalars())
        return found

    async def keys_by_deadline(self, deadline_keys: Collection[str]) -> dict[str, set[str]]:
        """Dedupe keys already recorded for each deadline."""
        out: dict[str, set[str]] = {key: set() for key in deadline_keys}
        wanted = sorted(deadline_keys)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self.session.execute(
                sa.select(NoticeRow.deadline_key, NoticeRow.dedupe_key)
                .where(NoticeRow.deadline_key.in_(chunk))  # type: ignore[union-attr]
                .distinct()
            )
            for deadline_key, dedupe_key in rows:
                out[deadline_key].add(dedupe_key)
        return out

    async def singles_on(self, recipient_id: str, day: date) -> int:
        """Notifications (not notices: one per dedupe key) sent singly to a recipient on a day."""
        query = sa.select(sa.func.count(sa.distinct(NoticeRow.dedupe_key))).where(
            NoticeRow.recipient_id == recipient_id,
            NoticeRow.day == day,
            NoticeRow.status.in_(sorted(SINGLE_STATES)),  # type: ignore[attr-defined]
            NoticeRow.kind != "digest",
        )
        return int((await self.session.execute(query)).scalar_one())

    async def held(self) -> list[NoticeRow]:
        query = (
            sa.select(NoticeRow)
            .where(NoticeRow.status == HELD)
            .order_by(NoticeRow.created_at, NoticeRow.notice_id)
        )
        return list((await self.session.execute(query)).scalars())

    async def due(self, now: datetime, limit: int) -> list[NoticeRow]:
        """Notices waiting for an attempt whose backoff has elapsed, oldest first."""
        query = (
            sa.select(NoticeRow)
            .where(
                NoticeRow.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),  # type: ignore[attr-defined]
                sa.or_(
                    NoticeRow.next_attempt_at.is_(None),  # type: ignore[union-attr]
                    NoticeRow.next_attempt_at <= now,  # type: ignore[operator]
                ),
            )
            .order_by(NoticeRow.created_at, NoticeRow.notice_id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def claim(self, rows: Collection[NoticeRow], now: datetime) -> set[str]:
        """Mark an attempt under way (`sending`) on each row nobody changed since it was read;
        returns the ids claimed (another replica may have taken some)."""
        if not rows:
            return set()
        result = await self.session.execute(
            sa.update(NoticeRow)
            .where(
                sa.tuple_(NoticeRow.notice_id, NoticeRow.status, NoticeRow.attempts).in_(
                    [(r.notice_id, r.status, r.attempts) for r in rows]
                )
            )
            .values(
                status=DeliveryStatus.SENDING.value,
                attempts=NoticeRow.attempts + 1,
                claimed_at=now,
                updated_at=now,
            )
            .returning(NoticeRow.notice_id)
        )
        return set(result.scalars())

    async def record(self, notice_id: str, delivery: Delivery, now: datetime) -> None:
        """Save a delivery's state without loading the notice."""
        await self.session.execute(
            sa.update(NoticeRow)
            .where(NoticeRow.notice_id == notice_id)
            .values(**delivery_values(delivery), updated_at=now)
        )

    async def interrupted(self) -> list[NoticeRow]:
        query = sa.select(NoticeRow).where(NoticeRow.status == DeliveryStatus.SENDING.value)
        return list((await self.session.execute(query)).scalars())

    async def list(self, **filters: str) -> list[NoticeRow]:
        """The newest notices (the first page of `page`, filters as there)."""
        first = NOTICE_KEYSET.request(size=0, token="", descending=True)
        return (await self.page(first, **filters)).rows

    async def page(
        self,
        page: PageRequest,
        *,
        recipient_id: str = "",
        household_id: str = "",
        kind: str = "",
        status: str = "",
        channel: str = "",
        deadline_key: str = "",
        source_event: str = "",
        phase: str = "",
    ) -> Page[NoticeRow]:
        """One page of notices in NOTICE_KEYSET order."""
        query = sa.select(NoticeRow)
        for column, value in (
            (NoticeRow.recipient_id, recipient_id),
            (NoticeRow.household_id, household_id),
            (NoticeRow.kind, kind),
            (NoticeRow.status, status),
            (NoticeRow.channel, channel),
            (NoticeRow.deadline_key, deadline_key),
            (NoticeRow.source_event, source_event),
            (NoticeRow.phase, phase),
        ):
            if value:
                query = query.where(column == value)
        rows = list((await self.session.execute(NOTICE_KEYSET.apply(query, page))).scalars())
        return NOTICE_KEYSET.page(rows, page)


class DeadlineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> DeadlineRow | None:
        return await self.session.get(DeadlineRow, key)

    def add(self, row: DeadlineRow) -> None:
        self.session.add(row)

    async def open_for(
        self, ref: str = "", *, household_id: str = "", ref_prefix: str = ""
    ) -> list[DeadlineRow]:
        query = sa.select(DeadlineRow).where(DeadlineRow.status == "open")
        if ref:
            query = query.where(DeadlineRow.ref == ref)
        if household_id:
            query = query.where(DeadlineRow.household_id == household_id)
        if ref_prefix:
            query = query.where(DeadlineRow.ref.startswith(ref_prefix))  # type: ignore[attr-defined]
        return list((await self.session.execute(query)).scalars())

    async def sweepable(self, until: date) -> list[DeadlineRow]:
        """Open deadlines due by `until` (later ones have nothing to send yet)."""
        query = (
            sa.select(DeadlineRow)
            .where(DeadlineRow.status == "open", DeadlineRow.due <= until)
            .order_by(DeadlineRow.due, DeadlineRow.key)
        )
        return list((await self.session.execute(query)).scalars())

    async def list(
        self,
        *,
        page: PageRequest,
        status: str = "",
        household_id: str = "",
        region: str = "",
        kind: str = "",
        ref: str = "",
    ) -> Page[DeadlineRow]:
        """One page of deadlines in DEADLINE_KEYSET order."""
        query = sa.select(DeadlineRow)
        if status:
            query = query.where(DeadlineRow.status == status)
        if household_id:
            query = query.where(DeadlineRow.household_id == household_id)
        if region:
            query = query.where(DeadlineRow.region.startswith(region))  # type: ignore[attr-defined]
        if kind:
            query = query.where(DeadlineRow.kind == kind)
        if ref:
            query = query.where(DeadlineRow.ref == ref)
        rows = list((await self.session.execute(DEADLINE_KEYSET.apply(query, page))).scalars())
        return DEADLINE_KEYSET.page(rows, page)

    async def reminder_counts(self, keys: Collection[str]) -> dict[str, int]:
        """Notifications recorded per deadline (one per recipient and phase)."""
        if not keys:
            return {}
        rows = await self.session.execute(
            sa.select(NoticeRow.deadline_key, sa.func.count(sa.distinct(NoticeRow.dedupe_key)))
            .where(NoticeRow.deadline_key.in_(sorted(keys)))  # type: ignore[union-attr]
            .group_by(NoticeRow.deadline_key)
        )
        return {key: int(n) for key, n in rows}


def close_deadline(row: DeadlineRow, reason: str, now: datetime) -> None:
    row.status = "closed"
    row.closed_reason = reason[:200]
    row.closed_at = now
    row.updated_at = now


class CaseProgressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: str) -> CaseProgressRow | None:
        return await self.session.get(CaseProgressRow, case_id)

    def add(self, row: CaseProgressRow) -> None:
        self.session.add(row)


class DispatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, dispatch_id: str) -> MeasureDispatchRow | None:
        return await self.session.get(MeasureDispatchRow, dispatch_id)

    async def latest_for_measure(self, measure_id: str) -> MeasureDispatchRow | None:
        query = (
            sa.select(MeasureDispatchRow)
            .where(MeasureDispatchRow.measure_id == measure_id)
            .order_by(MeasureDispatchRow.updated_at.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def save(self, row: MeasureDispatchRow) -> None:
        await self.session.merge(row)


class DigestDayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ran(self, day: date) -> bool:
        return await self.session.get(DigestDayRow, day) is not None

    def mark(self, day: date, now: datetime) -> None:
        self.session.add(DigestDayRow(day=day, ran_at=now))


async def counts(session: AsyncSession) -> dict[str, int]:
    """What notify holds, for operators and `make run`'s summary."""
    out: dict[str, int] = {}
    out["notices"] = int(
        (await session.execute(sa.select(sa.func.count()).select_from(NoticeRow))).scalar_one()
    )
    by_status = await session.execute(
        sa.select(NoticeRow.status, sa.func.count()).group_by(NoticeRow.status)
    )
    for status, n in by_status:
        out[f"notices_{status}"] = int(n)
    for name, query in {
        "subscriptions": sa.select(sa.func.count())
        .select_from(SubscriptionRow)
        .where(SubscriptionRow.active.is_(True)),  # type: ignore[attr-defined]
        "deadlines_open": sa.select(sa.func.count())
        .select_from(DeadlineRow)
        .where(DeadlineRow.status == "open"),
        "unassigned": sa.select(sa.func.count(sa.distinct(NoticeRow.dedupe_key))).where(
            NoticeRow.recipient_id.startswith("unassigned:")  # type: ignore[attr-defined]
        ),
    }.items():
        out[name] = int((await session.execute(query)).scalar_one())
    return out
