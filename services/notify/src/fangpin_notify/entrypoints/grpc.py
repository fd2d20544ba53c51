"""Notify's gRPC servicer: subscriptions, notices with their delivery state, deadlines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

import grpc

from fangpin.v1 import common_pb2, notify_pb2, notify_pb2_grpc
from fangpin_kit.db import Database
from fangpin_kit.masking import mask_phone, mask_text
from fangpin_kit.paging import Keyset, PageRequest, PagingError
from fangpin_notify.adapters.orm import DeadlineRow, NoticeRow, SubscriptionRow
from fangpin_notify.adapters.repository import (
    DEADLINE_KEYSET,
    NOTICE_KEYSET,
    NOTICE_STATES,
    SUBSCRIPTION_KEYSET,
    DeadlineRepository,
    NoticeRepository,
    SubscriptionRepository,
    counts,
)
from fangpin_notify.domain.kinds import ChannelKind, Phase
from fangpin_notify.domain.subscriptions import InvalidSubscription
from fangpin_notify.service_layer import handlers
from fangpin_notify.service_layer.context import NotifyContext


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, database: Database, ctx: NotifyContext) -> None:
        self.database = database
        self.ctx = ctx

    async def Subscribe(
        self, request: notify_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.NotifySubscription:
        async with self.database.uow() as uow:
            try:
                row = await handlers.subscribe(
                    uow,
                    self.ctx,
                    recipient_id=request.recipient_id,
                    role=request.role,
                    region=request.region,
                    channel=request.channel,
                    address=request.address,
                    dept=request.dept,
                    event_kinds=list(request.event_kinds),
                    locale=request.locale,
                )
            except InvalidSubscription as err:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            await uow.commit()
        return _subscription_message(row)

    async def Unsubscribe(
        self, request: notify_pb2.UnsubscribeRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.UnsubscribeResponse:
        async with self.database.uow() as uow:
            try:
                removed = await handlers.unsubscribe(
                    uow,
                    self.ctx,
                    subscription_id=request.subscription_id,
                    recipient_id=request.recipient_id,
                )
            except InvalidSubscription as err:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            await uow.commit()
        if removed == 0 and request.subscription_id:
            async with self.database.sessions() as session:
                known = await SubscriptionRepository(session).get(request.subscription_id)
            if known is None:
                await context.abort(
                    grpc.StatusCode.NOT_FOUND, f"subscription {request.subscription_id}"
                )
        return notify_pb2.UnsubscribeResponse(removed=removed)

    async def ListSubscriptions(
        self, request: notify_pb2.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.ListSubscriptionsResponse:
        if request.region and (not request.region.isdigit() or len(request.region) > 12):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "region: digits of a code")
        filters = {
            "recipient_id": request.recipient_id,
            "role": request.role,
            "region": request.region,
            "include_inactive": request.include_inactive,
        }
        page = await _page(context, SUBSCRIPTION_KEYSET, request, filters)
        async with self.database.sessions() as session:
            found = await SubscriptionRepository(session).list(page=page, **filters)
        return notify_pb2.ListSubscriptionsResponse(
            subscriptions=[_subscription_message(r) for r in found.rows],
            next_page_token=found.next_page_token,
        )

    async def ListNotices(
        self, request: notify_pb2.ListNoticesRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.ListNoticesResponse:
        if request.state and request.state not in NOTICE_STATES:
            states = ", ".join(sorted(NOTICE_STATES))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"state: one of {states}")
        if request.channel and request.channel not in {c.value for c in ChannelKind}:
            channels = ", ".join(c.value for c in ChannelKind)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"channel: one of {channels}")
        if request.phase and request.phase not in {p.value for p in Phase}:
            phases = ", ".join(p.value for p in Phase)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"phase: one of {phases}")
        filters = {
            "recipient_id": request.recipient,
            "household_id": request.household_id,
            "kind": request.kind,
            "status": request.state,
            "channel": request.channel,
            "deadline_key": request.deadline_key,
            "source_event": request.source_event,
            "phase": request.phase,
        }
        page = await _page(
            context, NOTICE_KEYSET, request, filters, descending=not request.oldest_first
        )
        async with self.database.sessions() as session:
            found = await NoticeRepository(session).page(page, **filters)
        return notify_pb2.ListNoticesResponse(
            notices=[_notice_message(r) for r in found.rows],
            next_page_token=found.next_page_token,
        )

    async def GetNotice(
        self, request: notify_pb2.GetNoticeRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Notice:
        if not request.notice_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "notice_id: required")
        async with self.database.sessions() as session:
            row = await NoticeRepository(session).get(request.notice_id)
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"notice {request.notice_id}")
        return _notice_message(row, history=True)

    async def ListDeadlines(
        self, request: notify_pb2.ListDeadlinesRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.ListDeadlinesResponse:
        if request.status and request.status not in {"open", "closed"}:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "status: open or closed")
        filters = {
            "status": request.status,
            "household_id": request.household_id,
            "region": request.region,
            "kind": request.kind,
            "ref": request.ref,
        }
        page = await _page(context, DEADLINE_KEYSET, request, filters)
        async with self.database.sessions() as session:
            deadlines = DeadlineRepository(session)
            found = await deadlines.list(page=page, **filters)
            sent = await deadlines.reminder_counts([r.key for r in found.rows])
        return notify_pb2.ListDeadlinesResponse(
            deadlines=[_deadline_message(r, sent.get(r.key, 0)) for r in found.rows],
            next_page_token=found.next_page_token,
        )

    async def GetStats(
        self, request: common_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatsResponse:
        async with self.database.sessions() as session:
            return common_pb2.StatsResponse(service="notify", counts=await counts(session))


async def _page(
    context: grpc.aio.ServicerContext,
    keyset: Keyset,
    request: notify_pb2.ListSubscriptionsRequest
    | notify_pb2.ListNoticesRequest
    | notify_pb2.ListDeadlinesRequest,
    filters: Mapping[str, object],
    *,
    descending: bool = False,
) -> PageRequest:
    """The page a list request asks for (`limit` is its size); INVALID_ARGUMENT names a bad
    size or token."""
    try:
        return keyset.request(
            size=request.limit,
            token=request.page_token,
            descending=descending,
            filters=filters,
            size_field="limit",
        )
    except PagingError as err:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        raise


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def masked_address(channel: str, address: str) -> str:
    """What an operator may see of an address: phones masked, a webhook without its query."""
    if not address:
        return ""
    if channel == ChannelKind.SMS:
        return mask_phone(address)
    if channel == ChannelKind.WEBHOOK:
        parts = urlsplit(address)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"
    return mask_text(address)


def _subscription_message(row: SubscriptionRow) -> notify_pb2.NotifySubscription:
    return notify_pb2.NotifySubscription(
        subscription_id=row.subscription_id,
        recipient_id=row.recipient_id,
        role=row.role,
        region=row.region,
        dept=row.dept,
        channel=row.channel,
        address=masked_address(row.channel, row.address),
        event_kinds=row.event_kinds,
        locale=row.locale,
        active=row.active,
        created_at=_iso(row.created_at),
        updated_at=_iso(row.updated_at),
    )


def _notice_message(row: NoticeRow, *, history: bool = False) -> notify_pb2.Notice:
    message = notify_pb2.Notice(
        notice_id=row.notice_id,
        kind=row.kind,
        recipient=row.recipient_id,
        channel=row.channel,
        state=row.status,
        title=row.subject,
        body=row.body,
        household_id=row.household_id or "",
        created_at=_iso(row.created_at),
        source_event=row.source_event or "",
        phase=row.phase or "",
        attempts=row.attempts,
        last_error=row.last_error or "",
        next_attempt_at=_iso(row.next_attempt_at),
        delivered_at=_iso(row.delivered_at),
        dedupe_key=row.dedupe_key,
        address=masked_address(row.channel, row.address),
        deadline_key=row.deadline_key or "",
        digest_key=row.digest_key or "",
    )
    if history:
        message.history.extend(
            notify_pb2.DeliveryAttempt(
                number=int(a["number"]), at=str(a["at"]), ok=bool(a["ok"]), detail=str(a["detail"])
            )
            for a in row.history
        )
    return message


def _deadline_message(row: DeadlineRow, notices: int) -> notify_pb2.NotifyDeadline:
    return notify_pb2.NotifyDeadline(
        key=row.key,
        kind=row.kind,
        due=row.due.isoformat(),
        region=row.region,
        household_id=row.household_id or "",
        dept=row.dept or "",
        roles=row.roles,
        escalation_roles=row.escalation_roles,
        status=row.status,
        closed_reason=row.closed_reason or "",
        mode=row.mode,
        source_event=row.source_event,
        created_at=_iso(row.created_at),
        closed_at=_iso(row.closed_at),
        notices=notices,
    )
