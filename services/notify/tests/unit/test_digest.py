"""Daily digest: many items for one recipient on one day become one message."""

from __future__ import annotations

from datetime import date

from fangpin_notify.domain.digest import DigestItem, Route, build_digests, plan_batch, route
from fangpin_notify.domain.parameters import NotifyParameters

DAY = date(2024, 6, 5)


def item(n: int, recipient: str = "li", day: date = DAY, urgent: bool = False) -> DigestItem:
    return DigestItem(recipient, day, f"k{n}|{recipient}", "visit_due", f"走访{n}", urgent)


def test_recipient_at_or_under_the_threshold_gets_single_messages(
    params: NotifyParameters,
) -> None:
    plan = plan_batch([item(n) for n in range(3)], params)
    assert len(plan.singles) == 3
    assert plan.digests == ()


def test_recipient_over_the_threshold_gets_one_digest(params: NotifyParameters) -> None:
    plan = plan_batch([item(n) for n in range(12)] + [item(1, "wang")], params)
    assert [s.recipient_id for s in plan.singles] == ["wang"]
    (digest,) = plan.digests
    assert digest.recipient_id == "li"
    assert digest.titles == [f"走访{n}" for n in range(12)]
    assert digest.dedupe_key == "digest|li|2024-06-05"


def test_urgent_items_are_never_held_in_a_digest(params: NotifyParameters) -> None:
    items = [item(n) for n in range(5)] + [item(99, urgent=True)]
    plan = plan_batch(items, params)
    assert [s.dedupe_key for s in plan.singles] == ["k99|li"]
    assert len(plan.digests[0].items) == 5


def test_days_are_digested_separately_and_duplicates_dropped(params: NotifyParameters) -> None:
    items = [item(n) for n in range(4)] * 2 + [item(n, day=date(2024, 6, 6)) for n in range(2)]
    plan = plan_batch(items, params)
    assert [len(d.items) for d in plan.digests] == [4]
    assert [s.day for s in plan.singles] == [date(2024, 6, 6)] * 2


def test_live_items_beyond_the_threshold_wait_for_the_digest(params: NotifyParameters) -> None:
    assert route(item(1), 2, params) is Route.SEND_NOW
    assert route(item(1), 3, params) is Route.HOLD_FOR_DIGEST
    assert route(item(1, urgent=True), 30, params) is Route.SEND_NOW


def test_held_items_become_one_digest_per_recipient_and_day() -> None:
    held = [item(1), item(2), item(3, "wang"), item(1)]
    digests = build_digests(held)
    assert [(d.recipient_id, len(d.items)) for d in digests] == [("li", 2), ("wang", 1)]
