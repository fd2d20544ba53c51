"""Measure terms: when a term ends and whether a measure continues after risk elimination."""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from fangpin_assistance.domain.catalog import SubMeasure
from fangpin_assistance.domain.codes import CLOSED_STATUSES, MeasureStatus, TermKind
from fangpin_assistance.domain.dates import add_months

_ONE_DAY = timedelta(days=1)
RUNNING_STATUSES = frozenset({MeasureStatus.ACCEPTED, MeasureStatus.IN_PROGRESS})


def term_end(
    sub_measure: SubMeasure,
    *,
    started_on: date | None,
    reported_end: date | None,
    school_stage_ends_on: date | None,
) -> date | None:
    """Last day of a measure's term, or None when it has no term or the end is not known yet.

    Contracts and agreements end on the date the department reports (小额信贷合同到期,
    公益岗位协议到期); education aid ends with the beneficiary's current school stage (完成当前
    学段) unless the department reports otherwise; fixed terms run `months` from the start.
    """
    match sub_measure.term.kind:
        case TermKind.NONE:
            return None
        case TermKind.CONTRACT_END | TermKind.AGREEMENT_END:
            return reported_end
        case TermKind.SCHOOL_STAGE_END:
            return reported_end or school_stage_ends_on
        case TermKind.FIXED_MONTHS:
            if reported_end is not None:
                return reported_end
            if started_on is None or sub_measure.term.months is None:
                return None
            return add_months(started_on, sub_measure.term.months) - _ONE_DAY


class TermedMeasure(Protocol):
    """What the continuation rule reads from a measure."""

    @property
    def measure_id(self) -> str: ...
    @property
    def status(self) -> MeasureStatus: ...
    @property
    def sub_measure(self) -> SubMeasure: ...
    @property
    def term_end(self) -> date | None: ...


class Continuation(StrEnum):
    """What happens to a measure when the household's risk is eliminated."""

    CONTINUES = "continues"
    ENDS = "ends"
    ALREADY_CLOSED = "already_closed"


@dataclass(frozen=True)
class TermDecision:
    """The continuation of one measure after elimination, with the reason."""

    measure_id: str
    continuation: Continuation
    until: date | None
    reason: str


def continuation_after_elimination(measure: TermedMeasure, eliminated_on: date) -> TermDecision:
    """Measures with a running term continue to its end (风险消除后尚未到期的措施可延续享受).

    Measures without a term, or whose term never started or already ran out, end with the
    elimination. A term whose end is not yet known continues with `until=None`.
    """
    if measure.status in CLOSED_STATUSES:
        return TermDecision(measure.measure_id, Continuation.ALREADY_CLOSED, None, "closed")
    if measure.sub_measure.term.kind is TermKind.NONE:
        return TermDecision(measure.measure_id, Continuation.ENDS, None, "no_term")
    if measure.status not in RUNNING_STATUSES:
        return TermDecision(measure.measure_id, Continuation.ENDS, None, "term_not_started")
    end = measure.term_end
    if end is None:
        return TermDecision(measure.measure_id, Continuation.CONTINUES, None, "term_end_unknown")
    if end >= eliminated_on:
        return TermDecision(
            measure.measure_id, Continuation.CONTINUES, end, measure.sub_measure.term.kind.value
        )
    return TermDecision(measure.measure_id, Continuation.ENDS, None, "term_ended")
