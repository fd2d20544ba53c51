"""`fangpin notify ...`: subscriptions, notices with their delivery state, and deadlines."""

from __future__ import annotations

from typing import Any

import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from fangpin.v1 import notify_pb2, notify_pb2_grpc
from fangpin_cli.endpoints import call
from fangpin_cli.output import (
    JsonFlag,
    LangOption,
    deadlines_table,
    emit_one,
    emit_rows,
    notice_view,
    notices_table,
    subscription_view,
    subscriptions_table,
    unsubscribe_view,
)
from fangpin_cli.paging import (
    After,
    AllPages,
    AllPagesOnly,
    OldestFirst,
    follow,
    limit_option,
    next_page_hint,
)

app = typer.Typer(no_args_is_help=True, help="Notifications (notify): who hears what, and when.")

Stub = notify_pb2_grpc.NotifyServiceStub


def _dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


@app.command("subscribe")
def subscribe(
    recipient: str = typer.Argument(..., help="person or desk, e.g. a cadre's user id"),
    role: str = typer.Option(
        ..., help="village_cadre | town_reviewer | county_bureau | dept_duty | contact_cadre"
    ),
    region: str = typer.Option(..., help="12-digit village, 9-digit town or 6-digit county"),
    channel: str = typer.Option("log", help="log | webhook | email | sms"),
    address: str = typer.Option("", help="URL, e-mail address or mobile for the channel"),
    dept: str = typer.Option("", help="department code (dept_duty only)"),
    kind: list[str] = typer.Option([], "--kind", help="only these kinds (repeatable)"),
    locale: str = typer.Option("", help="zh-CN (default) or en"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Subscribe a recipient; subscribing again with the same endpoint updates it."""

    async def run(stub: Stub) -> notify_pb2.NotifySubscription:
        return await stub.Subscribe(
            notify_pb2.SubscribeRequest(
                recipient_id=recipient,
                role=role,
                region=region,
                channel=channel,
                address=address,
                dept=dept,
                event_kinds=kind,
                locale=locale,
            )
        )

    subscription = _dict(call("notify", Stub, run))
    emit_one(subscription, as_json=as_json, lang=lang, view=subscription_view)


@app.command("unsubscribe")
def unsubscribe(
    subscription_id: str = typer.Argument("", help="the subscription to end"),
    recipient: str = typer.Option("", help="end every subscription of this recipient"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """End one subscription, or all of a recipient's."""
    if not subscription_id and not recipient:
        raise typer.BadParameter("give a SUBSCRIPTION_ID or --recipient")

    async def run(stub: Stub) -> notify_pb2.UnsubscribeResponse:
        return await stub.Unsubscribe(
            notify_pb2.UnsubscribeRequest(subscription_id=subscription_id, recipient_id=recipient)
        )

    removed = {"removed": call("notify", Stub, run).removed}
    emit_one(removed, as_json=as_json, lang=lang, view=unsubscribe_view)


@app.command("subscriptions")
def subscriptions(
    recipient: str = typer.Option("", help="only this recipient"),
    role: str = typer.Option("", help="only this role"),
    region: str = typer.Option("", help="whose area overlaps this code"),
    all_: bool = typer.Option(False, "--all", help="include ended subscriptions"),
    limit: int = limit_option(100, "by recipient, area and channel"),
    after: str = After,
    all_pages: bool = AllPagesOnly,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """List subscriptions: a table on a terminal, else JSON lines (phone numbers masked)."""
    request = notify_pb2.ListSubscriptionsRequest(
        recipient_id=recipient, role=role, region=region, include_inactive=all_, limit=limit
    )

    async def run(stub: Stub) -> notify_pb2.ListSubscriptionsResponse:
        return await follow(
            stub.ListSubscriptions, request, "subscriptions", after=after, all_pages=all_pages
        )

    reply = call("notify", Stub, run)
    rows = [_dict(sub) for sub in reply.subscriptions]
    emit_rows(rows, as_json=as_json, lang=lang, view=subscriptions_table)
    next_page_hint(reply)


@app.command("list")
def list_(
    recipient: str = typer.Option("", help="e.g. unassigned:village_cadre@652827101001"),
    household: str = typer.Option("", help="household id"),
    kind: str = typer.Option("", help="notice kind, e.g. signature_awaited"),
    state: str = typer.Option("", help="pending, delivered, retrying, dead_lettered, held..."),
    channel: str = typer.Option("", help="log | webhook | email | sms"),
    phase: str = typer.Option("", help="before | due | escalation"),
    deadline: str = typer.Option("", help="deadline key"),
    limit: int = limit_option(50, "newest first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
    body: bool = typer.Option(False, help="include the message body"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Recorded notices, newest first: a table on a terminal, else JSON lines."""
    request = notify_pb2.ListNoticesRequest(
        recipient=recipient,
        household_id=household,
        kind=kind,
        state=state,
        channel=channel,
        phase=phase,
        deadline_key=deadline,
        limit=limit,
        oldest_first=oldest_first,
    )

    async def run(stub: Stub) -> notify_pb2.ListNoticesResponse:
        return await follow(stub.ListNotices, request, "notices", after=after, all_pages=all_pages)

    reply = call("notify", Stub, run)
    rows = []
    for notice in reply.notices:
        shown = _dict(notice)
        if not body:
            shown.pop("body", None)
        rows.append(shown)
    emit_rows(rows, as_json=as_json, lang=lang, view=notices_table, with_names=True)
    next_page_hint(reply)


@app.command("show")
def show(notice_id: str, as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """One notice with its delivery state and every attempt."""

    async def run(stub: Stub) -> notify_pb2.Notice:
        return await stub.GetNotice(notify_pb2.GetNoticeRequest(notice_id=notice_id))

    notice = _dict(call("notify", Stub, run))
    emit_one(notice, as_json=as_json, lang=lang, view=notice_view, with_names=True)


@app.command("deadlines")
def deadlines(
    status: str = typer.Option("open", help="open | closed | all"),
    household: str = typer.Option("", help="household id"),
    region: str = typer.Option("", help="region code prefix"),
    kind: str = typer.Option("", help="reminder kind"),
    ref: str = typer.Option("", help="case:<id>, clue:<id> or task:<id>"),
    limit: int = limit_option(100, "earliest due first"),
    after: str = After,
    all_pages: bool = AllPages,
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Deadlines notify reminds of, with how many notices each has had: a table on a
    terminal, else JSON lines."""
    request = notify_pb2.ListDeadlinesRequest(
        status="" if status == "all" else status,
        household_id=household,
        region=region,
        kind=kind,
        ref=ref,
        limit=limit,
    )

    async def run(stub: Stub) -> notify_pb2.ListDeadlinesResponse:
        return await follow(
            stub.ListDeadlines, request, "deadlines", after=after, all_pages=all_pages
        )

    reply = call("notify", Stub, run)
    rows = [_dict(deadline) for deadline in reply.deadlines]
    emit_rows(rows, as_json=as_json, lang=lang, view=deadlines_table, with_names=True)
    next_page_hint(reply)
