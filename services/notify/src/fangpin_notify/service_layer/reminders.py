"""The reminder sweep: open deadlines become reminders and escalations, each sent once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fangpin_kit.clock import china_date
from fangpin_kit.db import UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_notify.adapters.orm import DeadlineRow
from fangpin_notify.adapters.repository import (
    DeadlineRepository,
    DigestDayRepository,
    NoticeRepository,
    SubscriptionRepository,
    close_deadline,
)
from fangpin_notify.domain.kinds import EventKind, Phase
from fangpin_notify.domain.parameters import NotifyParameters
from fangpin_notify.domain.reminders import Deadline, reminders_due
from fangpin_notify.domain.templates import TemplateError
from fangpin_notify.service_layer.context import NotifyContext
from fangpin_notify.service_layer.handlers import EXPIRED_SUFFIX, ON_EXPIRY
from fangpin_notify.service_layer.notifications import (
    Audience,
    Draft,
    SubscriptionIndex,
    decode_context,
    draft,
    merge_recipients,
    place,
    place_daily_batch,
    recipients_among,
    roles_of,
)

log = get_logger("fangpin.notify.sweep")

URGENT_PHASES = frozenset({Phase.DUE, Phase.ESCALATION})


@dataclass(frozen=True)
class SweepReport:
    """What one sweep recorded."""

    ran: bool = False
    notifications: int = 0
    held: int = 0
    digests: int = 0
    closed: int = 0


def reminder_drafts(
    ctx: NotifyContext,
    row: DeadlineRow,
    subscriptions: SubscriptionIndex,
    params: NotifyParameters,
    today: date,
    sent: set[str],
) -> list[Draft]:
    """Reminders of one deadline open today and not yet recorded, rendered per recipient."""
    kind = EventKind(row.kind)
    escalation_kind = EventKind(row.escalation_kind) if row.escalation_kind else None
    contact_cadres = tuple(row.contact_cadres)
    candidates = subscriptions.candidates(row.region, contact_cadres)
    signers = recipients_among(
        ctx,
        kind,
        Audience(row.region, roles_of(row.roles), row.dept, contact_cadres),
        candidates,
    )
    above = []
    if row.escalation_roles:
        above = recipients_among(
            ctx,
            escalation_kind or kind,
            Audience(
                row.region,
                roles_of(row.escalation_roles),
                row.dept,
                contact_cadres,
                escalation=True,
            ),
            candidates,
        )
    deadline = Deadline(
        key=row.key,
        kind=kind,
        due=row.due,
        recipients=tuple(r.recipient_id for r in signers),
        escalation_recipients=tuple(r.recipient_id for r in above),
        escalation_kind=escalation_kind,
    )
    recipients = merge_recipients(signers, above)
    context = decode_context(row.context)
    return [
        draft(
            ctx,
            reminder.kind,
            {**context, **reminder.context(today)},
            recipients[reminder.recipient_id],
            reminder.dedupe_key,
            phase=reminder.phase,
            urgent=reminder.phase in URGENT_PHASES,
            household_id=row.household_id,
            source_event=row.source_event,
            deadline_key=row.key,
        )
        for reminder in reminders_due(deadline, params, today, sent=sent)
    ]


def expiry_drafts(
    ctx: NotifyContext, row: DeadlineRow, subscriptions: SubscriptionIndex
) -> list[Draft]:
    """The one message of a date that has passed (e.g. the public notice has run)."""
    kind = EventKind(row.kind)
    audience = Audience(row.region, roles_of(row.roles), row.dept, tuple(row.contact_cadres))
    context = decode_context(row.context)
    return [
        draft(
            ctx,
            kind,
            context,
            recipient,
            f"{row.key}|{recipient.recipient_id}|{EXPIRED_SUFFIX}",
            household_id=row.household_id,
            source_event=row.source_event,
            deadline_key=row.key,
        )
        for recipient in recipients_among(
            ctx, kind, audience, subscriptions.candidates(row.region, audience.contact_cadres)
        )
    ]


async def sweep(uow: UnitOfWork, ctx: NotifyContext) -> SweepReport:
    """Record every reminder due today that is not recorded yet.

    Runs from the ruleset's reminder hour on (China time). The day's first run also plans
    the daily digest: a recipient with more than `digest_threshold` routine items gets them
    in one message, together with what was held back since the last digest.
    """
    now = ctx.clock()
    today = china_date(now)
    if ctx.local_hour() < ctx.reminder_hour:
        return SweepReport()
    params = ctx.parameters(today)
    deadlines = await DeadlineRepository(uow.session).sweepable(
        today + timedelta(days=params.reminder_lead_days)
    )
    subscriptions = SubscriptionIndex(
        await SubscriptionRepository(uow.session).all_active() if deadlines else ()
    )
    sent = await NoticeRepository(uow.session).keys_by_deadline([d.key for d in deadlines])
    drafts: list[Draft] = []
    closed = 0
    for row in deadlines:
        try:
            if row.mode == ON_EXPIRY:
                if today > row.due:
                    fresh = expiry_drafts(ctx, row, subscriptions)
                    drafts.extend(d for d in fresh if d.dedupe_key not in sent[row.key])
                    close_deadline(row, "date passed, notice sent", now)
                    closed += 1
                continue
            drafts.extend(reminder_drafts(ctx, row, subscriptions, params, today, sent[row.key]))
        except (TemplateError, ValueError) as err:  # one bad deadline never blocks the rest
            log.error("deadline cannot be reminded", deadline=row.key, error=str(err))
    if await DigestDayRepository(uow.session).ran(today):
        placed = await place(uow, ctx, drafts)
    else:
        placed = await place_daily_batch(uow, ctx, drafts)
    return SweepReport(
        ran=True,
        notifications=len({r["dedupe_key"] for r in placed.rows}),
        held=len({r["dedupe_key"] for r in placed.held}),
        digests=len({r["dedupe_key"] for r in placed.digests}),
        closed=closed,
    )
