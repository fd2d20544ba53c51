"""Department simulator policy: how a simulated lead department answers a dispatched measure."""

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from fangpin_assistance.domain.codes import Department, ReplyKind, TermKind
from fangpin_assistance.domain.dates import add_months
from fangpin_assistance.domain.events import MeasureDispatched
from fangpin_assistance.domain.measure import DepartmentReply
from fangpin_kit.clock import china_date

SIMULATOR_NAMESPACE = uuid.UUID("0b9e4f7a-2c1d-5e3f-8a6b-7c9d0e1f2a3b")
"""uuid5 namespace of simulated reply ids: the same dispatch always yields the same replies."""


class Behaviour(StrEnum):
    """What a simulated department does with one dispatch."""

    COMPLETE = "complete"
    """Accept, then report completion (one-off measures, or a term run to its end)."""
    ACCEPT = "accept"
    """Accept and keep delivering (the measure stays in progress)."""
    REJECT = "reject"
    SILENT = "silent"
    """Never answer: exercises re-dispatch and escalation."""


@dataclass(frozen=True)
class SimulatorPolicy:
    """A seeded, configurable answering policy for one department.

    The demo term lengths stand in for what a real department system reports (contract and
    agreement end dates); they are simulation settings, not policy parameters.
    """

    department: Department
    seed: int = 0
    weights: Mapping[Behaviour, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                Behaviour.COMPLETE: 0.5,
                Behaviour.ACCEPT: 0.3,
                Behaviour.REJECT: 0.1,
                Behaviour.SILENT: 0.1,
            }
        )
    )
    forced: Mapping[str, Behaviour] = field(default_factory=lambda: MappingProxyType({}))
    """Behaviour by measure key (`finance.microcredit`) or measure type (`finance`)."""
    reply_after: timedelta = timedelta(minutes=1)
    complete_after: timedelta = timedelta(minutes=5)
    term_months: Mapping[TermKind, int] = field(
        default_factory=lambda: MappingProxyType(
            {TermKind.CONTRACT_END: 36, TermKind.AGREEMENT_END: 12}
        )
    )
    reject_reasons: tuple[str, ...] = ("not_eligible", "quota_exhausted", "documents_missing")

    def __post_init__(self) -> None:
        if any(weight < 0 for weight in self.weights.values()):
            raise ValueError("behaviour weights must not be negative")
        if sum(self.weights.values()) <= 0:
            raise ValueError("at least one behaviour needs a positive weight")
        if not self.reject_reasons:
            raise ValueError("reject_reasons must not be empty")


def decide(dispatch: MeasureDispatched, policy: SimulatorPolicy) -> Behaviour:
    """The behaviour for a dispatch: forced by measure, else drawn with the seeded weights.

    The draw depends only on the seed and the dispatch id, so a re-dispatch (same id) gets
    the same answer, as a real department system that deduplicates would give.
    """
    type_code = dispatch.measure_key.partition(".")[0]
    for key in (dispatch.measure_key, type_code):
        if key in policy.forced:
            return policy.forced[key]
    behaviours = [b for b in Behaviour if policy.weights.get(b, 0) > 0]
    rng = random.Random(f"{policy.seed}:{dispatch.dispatch_id}")
    return rng.choices(behaviours, weights=[policy.weights[b] for b in behaviours])[0]


def _reply_id(dispatch: MeasureDispatched, kind: ReplyKind) -> str:
    return str(uuid.uuid5(SIMULATOR_NAMESPACE, f"{dispatch.dispatch_id}:{kind}"))


def simulate(dispatch: MeasureDispatched, policy: SimulatorPolicy) -> tuple[DepartmentReply, ...]:
    """The replies the department sends for one dispatch, in order, each with its send time.

    Dispatches addressed to another department get no reply. Reply ids are derived from the
    dispatch id, so answering the same dispatch twice produces the same (deduplicated) replies.
    """
    if dispatch.department is not policy.department:
        return ()
    behaviour = decide(dispatch, policy)
    sent_at = dispatch.occurred_at + policy.reply_after
    started_on = china_date(sent_at)
    months = policy.term_months.get(dispatch.term_kind)
    term_end = add_months(started_on, months) if months else None

    def reply(kind: ReplyKind, at_offset: timedelta, reason: str | None = None) -> DepartmentReply:
        return DepartmentReply(
            reply_id=_reply_id(dispatch, kind),
            measure_id=dispatch.measure_id,
            department=policy.department.value,
            kind=kind,
            sent_at=dispatch.occurred_at + at_offset,
            reason=reason,
            started_on=started_on if kind is ReplyKind.ACCEPTED else None,
            term_end=term_end if kind is ReplyKind.ACCEPTED else None,
        )

    match behaviour:
        case Behaviour.SILENT:
            return ()
        case Behaviour.REJECT:
            rng = random.Random(f"{policy.seed}:{dispatch.dispatch_id}:reason")
            reason = rng.choice(policy.reject_reasons)
            return (reply(ReplyKind.REJECTED, policy.reply_after, reason),)
        case Behaviour.ACCEPT:
            return (reply(ReplyKind.ACCEPTED, policy.reply_after),)
        case Behaviour.COMPLETE:
            return (
                reply(ReplyKind.ACCEPTED, policy.reply_after),
                reply(ReplyKind.COMPLETED, policy.reply_after + policy.complete_after),
            )
