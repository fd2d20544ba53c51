"""Daily digest (每日汇总): one message per recipient per day instead of many single ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from fangpin_notify.domain.parameters import NotifyParameters


class Route(StrEnum):
    SEND_NOW = "send_now"
    HOLD_FOR_DIGEST = "hold_for_digest"


@dataclass(frozen=True)
class DigestItem:
    """A pending notification for a recipient on a day, with its subject already rendered."""

    recipient_id: str
    day: date
    dedupe_key: str
    kind: str
    title: str
    urgent: bool = False  # escalations and alerts are never held back


@dataclass(frozen=True)
class Digest:
    """The bundled items of one recipient for one day."""

    recipient_id: str
    day: date
    items: tuple[DigestItem, ...]

    @property
    def dedupe_key(self) -> str:
        return f"digest|{self.recipient_id}|{self.day.isoformat()}"

    @property
    def titles(self) -> list[str]:
        return [item.title for item in self.items]


@dataclass(frozen=True)
class DayPlan:
    """What to send for a batch: items sent singly and digests replacing the rest."""

    singles: tuple[DigestItem, ...]
    digests: tuple[Digest, ...]


def route(item: DigestItem, singles_sent_today: int, params: NotifyParameters) -> Route:
    """Live items: the first `digest_threshold` of the day go out at once, later ones wait."""
    if item.urgent or singles_sent_today < params.digest_threshold:
        return Route.SEND_NOW
    return Route.HOLD_FOR_DIGEST


def _group(items: Iterable[DigestItem]) -> dict[tuple[str, date], list[DigestItem]]:
    groups: dict[tuple[str, date], dict[str, DigestItem]] = {}
    for item in items:
        groups.setdefault((item.recipient_id, item.day), {}).setdefault(item.dedupe_key, item)
    return {key: list(by_key.values()) for key, by_key in sorted(groups.items())}


def build_digests(held: Iterable[DigestItem]) -> list[Digest]:
    """Held items, one digest per recipient per day, items in arrival order, no duplicates."""
    return [
        Digest(recipient_id=recipient, day=day, items=tuple(items))
        for (recipient, day), items in _group(held).items()
    ]


def plan_batch(items: Iterable[DigestItem], params: NotifyParameters) -> DayPlan:
    """A batch (e.g. the morning reminder run): a recipient with more than `digest_threshold`
    items that day gets one digest of the non-urgent ones; urgent items always go singly."""
    singles: list[DigestItem] = []
    digests: list[Digest] = []
    for (recipient, day), group in _group(items).items():
        if len(group) <= params.digest_threshold:
            singles.extend(group)
            continue
        singles.extend(i for i in group if i.urgent)
        bundled = tuple(i for i in group if not i.urgent)
        if len(bundled) == 1:
            singles.extend(bundled)
        elif bundled:
            digests.append(Digest(recipient_id=recipient, day=day, items=bundled))
    return DayPlan(singles=tuple(singles), digests=tuple(digests))
