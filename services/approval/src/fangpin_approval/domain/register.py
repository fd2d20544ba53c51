"""Register of monitored households (监测对象台账): status, category, risks, dates and history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fangpin_approval.domain.actors import Actor, Level, validate_region
from fangpin_approval.domain.codes import (
    Category,
    EliminationMode,
    RegisterStatus,
    RiskType,
    sorted_risk_types,
)
from fangpin_approval.domain.deadlines import local_date
from fangpin_approval.domain.errors import InvalidTransition, PermissionDenied
from fangpin_approval.domain.events import CaseDecided, HouseholdStatusChanged, Outcome
from fangpin_approval.domain.procedure import FlowKind

# A household in these statuses may (again) go through identification: never registered,
# risk returned after elimination, elimination rolled back, or left the green channel.
_MAY_BE_IDENTIFIED = frozenset(
    {RegisterStatus.ELIMINATED, RegisterStatus.ROLLED_BACK, RegisterStatus.REMOVED}
)


# Safety-net codes of the household record (`safety_net`) under which a household with no
# labor capacity is held instead of eliminated: 特困供养 and full dibao (全额/最高档低保).
HOLDING_SAFETY_NETS = frozenset({"tekun", "dibao_full"})


def safety_net_hold_reason(household: Mapping[str, Any] | None) -> str | None:
    """Why an eliminated household must stay monitored instead, or None.

    DOMAIN.md section 4: households with no labor capacity on the social safety net are not
    eliminated; they stay monitored and are marked (`held`). `household` is a v1 record.
    """
    if not household:
        return None
    members = household.get("members") or []
    net = household.get("safety_net", "none")
    if not members or net not in HOLDING_SAFETY_NETS:
        return None
    if any(m.get("labor_capacity", "full") != "none" for m in members):
        return None
    return (
        f"no member has labor capacity and the household is on the safety net ({net}): "
        "it stays monitored and is not eliminated (兜底保障, 不标注风险消除)"
    )


@dataclass(frozen=True)
class StatusChange:
    """One line of a household's register history."""

    on: dt.date
    from_status: RegisterStatus | None
    to_status: RegisterStatus
    case_id: str | None
    reason: str
    actor_id: str | None = None


@dataclass
class MonitoredHousehold:
    """A household in the register and every change that put it there or took it out.

    `green_channel` marks a household registered at once through the green channel whose
    procedure has not completed yet. `held` households (整户无劳动能力兜底保障) stay monitored
    and are never eliminated.
    """

    household_id: str
    region: str
    status: RegisterStatus
    category: Category | None
    risk_types: tuple[RiskType, ...]
    identified_on: dt.date
    green_channel: bool = False
    eliminated_on: dt.date | None = None
    elimination_mode: EliminationMode | None = None
    held_reason: str | None = None
    history: list[StatusChange] = field(default_factory=list)
    events: list[HouseholdStatusChanged] = field(default_factory=list)

    @classmethod
    def identify(
        cls,
        *,
        household_id: str,
        region: str,
        case_id: str,
        category: Category | None,
        risk_types: Iterable[RiskType],
        on: dt.date,
        green_channel: bool = False,
    ) -> MonitoredHousehold:
        """Register a household identified for the first time."""
        entry = cls(
            household_id=household_id,
            region=validate_region(region, Level.VILLAGE),
            status=RegisterStatus.MONITORED,
            category=category,
            risk_types=sorted_risk_types(list(risk_types)),
            identified_on=on,
            green_channel=green_channel,
        )
        entry._change(None, RegisterStatus.MONITORED, on, case_id, _identified(green_channel))
        return entry

    def check_can_open(self, kind: FlowKind) -> None:
        """Raise InvalidTransition when a case of `kind` may not start for this household."""
        if kind is FlowKind.IDENTIFICATION and self.status not in _MAY_BE_IDENTIFIED:
            raise InvalidTransition(
                f"household {self.household_id} is {self.status}: it is already monitored"
            )
        if kind is FlowKind.ELIMINATION:
            if self.status is RegisterStatus.HELD:
                raise InvalidTransition(
                    f"household {self.household_id} is held (no labor capacity on the safety "
                    "net): it stays monitored and its risk is not eliminated"
                )
            if self.status is not RegisterStatus.MONITORED:
                raise InvalidTransition(
                    f"household {self.household_id} is {self.status}: only monitored households "
                    "can be nominated for elimination"
                )
            if self.green_channel:
                raise InvalidTransition(
                    f"household {self.household_id} is in the green channel: its identification "
                    "has not completed"
                )

    def reidentify(
        self,
        *,
        case_id: str,
        category: Category | None,
        risk_types: Iterable[RiskType],
        on: dt.date,
        green_channel: bool = False,
    ) -> None:
        """Identify again after elimination, roll-back or removal (再认定)."""
        self.check_can_open(FlowKind.IDENTIFICATION)
        previous = self.status
        self.status = RegisterStatus.MONITORED
        self.category = category
        self.risk_types = sorted_risk_types(list(risk_types))
        self.identified_on = on
        self.green_channel = green_channel
        self.eliminated_on = None
        self.elimination_mode = None
        self._change(previous, self.status, on, case_id, _identified(green_channel))

    def complete_green_channel(
        self,
        *,
        case_id: str,
        category: Category | None,
        risk_types: Iterable[RiskType],
        on: dt.date,
    ) -> None:
        """The green-channel household completed the procedure: it stays monitored for good."""
        if not self.green_channel or self.status is not RegisterStatus.MONITORED:
            raise InvalidTransition(f"household {self.household_id} is not in the green channel")
        self.green_channel = False
        self.category = category
        self.risk_types = sorted_risk_types(list(risk_types))
        self._change(
            self.status, self.status, on, case_id, "identification approved (绿色通道补齐程序)"
        )

    def remove(self, *, case_id: str, on: dt.date, reason: str) -> None:
        """A green-channel household that did not complete identification leaves (清退)."""
        if not self.green_channel or self.status is not RegisterStatus.MONITORED:
            raise InvalidTransition(
                f"household {self.household_id} is {self.status}, not a green-channel household"
            )
        self.green_channel = False
        self._set(RegisterStatus.REMOVED, on, case_id, reason)

    def eliminate(self, *, case_id: str, mode: EliminationMode, on: dt.date) -> None:
        """Mark the risk eliminated (标注风险消除)."""
        self.check_can_open(FlowKind.ELIMINATION)
        self.eliminated_on = on
        self.elimination_mode = EliminationMode(mode)
        self._set(
            RegisterStatus.ELIMINATED, on, case_id, f"risk eliminated ({self.elimination_mode})"
        )

    def hold(self, actor: Actor, at: dt.datetime, *, reason: str) -> None:
        """Mark a household with no labor capacity on the safety net: monitored, not eliminated."""
        self._authorize_county(actor, "mark a household held")
        if self.status is not RegisterStatus.MONITORED:
            raise InvalidTransition(
                f"household {self.household_id} is {self.status}: only monitored ones are held"
            )
        self.held_reason = _required(reason, "holding a household")
        self._set(RegisterStatus.HELD, local_date(at), None, reason, actor)

    def release_hold(self, actor: Actor, at: dt.datetime, *, reason: str) -> None:
        """The household regained labor capacity or left the safety net: back to monitored."""
        self._authorize_county(actor, "release a held household")
        if self.status is not RegisterStatus.HELD:
            raise InvalidTransition(f"household {self.household_id} is {self.status}, not held")
        self.held_reason = None
        self._set(
            RegisterStatus.MONITORED, local_date(at), None, _required(reason, "release"), actor
        )

    def roll_back(self, actor: Actor, at: dt.datetime, *, reason: str) -> None:
        """Undo an unstable elimination (风险消除回退); the household re-enters identification."""
        self._authorize_county(actor, "roll back an elimination")
        if self.status is not RegisterStatus.ELIMINATED:
            raise InvalidTransition(
                f"household {self.household_id} is {self.status}: only eliminated households "
                "are rolled back"
            )
        self._set(
            RegisterStatus.ROLLED_BACK, local_date(at), None, _required(reason, "roll-back"), actor
        )

    def pull_events(self) -> list[HouseholdStatusChanged]:
        """Hand the pending events to the service layer and forget them."""
        events, self.events = self.events, []
        return events

    def _authorize_county(self, actor: Actor, what: str) -> None:
        if actor.level is not Level.COUNTY:
            raise PermissionDenied(f"{actor.level} {actor.id} may not {what}: only county may")
        if not actor.covers(self.region):
            raise PermissionDenied(
                f"{actor.level} {actor.id} of region {actor.region} may not {what} for "
                f"household {self.household_id} in region {self.region}"
            )

    def _set(
        self,
        status: RegisterStatus,
        on: dt.date,
        case_id: str | None,
        reason: str,
        actor: Actor | None = None,
    ) -> None:
        previous, self.status = self.status, status
        self._change(previous, status, on, case_id, reason, actor)

    def _change(
        self,
        previous: RegisterStatus | None,
        status: RegisterStatus,
        on: dt.date,
        case_id: str | None,
        reason: str,
        actor: Actor | None = None,
    ) -> None:
        self.history.append(
            StatusChange(on, previous, status, case_id, reason, actor.id if actor else None)
        )
        self.events.append(
            HouseholdStatusChanged(
                self.household_id, self.region, previous, status, on, case_id, reason
            )
        )


def _identified(green_channel: bool) -> str:
    return "registered through the green channel" if green_channel else "identification approved"


def _required(text: str, what: str) -> str:
    if not text.strip():
        raise InvalidTransition(f"{what} needs a reason")
    return text


def check_can_open(household: MonitoredHousehold | None, household_id: str, kind: FlowKind) -> None:
    """Raise InvalidTransition when a case of `kind` may not start for the household."""
    if household is None:
        if kind is FlowKind.ELIMINATION:
            raise InvalidTransition(
                f"household {household_id} is not in the register: nothing to eliminate"
            )
        return
    household.check_can_open(kind)


def apply_decision(
    household: MonitoredHousehold | None, decided: CaseDecided
) -> MonitoredHousehold | None:
    """The register entry after a case decision (None stays None when nothing is registered)."""
    on = local_date(decided.decided_at)
    outcome = decided.outcome
    if decided.kind is FlowKind.ELIMINATION:
        if outcome is Outcome.APPROVED:
            if household is None or decided.elimination_mode is None:
                raise InvalidTransition(f"household {decided.household_id}: nothing to eliminate")
            household.eliminate(case_id=decided.case_id, mode=decided.elimination_mode, on=on)
        return household
    if outcome in (Outcome.APPROVED, Outcome.GREEN_CHANNEL_ENTERED):
        entering = outcome is Outcome.GREEN_CHANNEL_ENTERED
        if household is None:
            return MonitoredHousehold.identify(
                household_id=decided.household_id,
                region=decided.region,
                case_id=decided.case_id,
                category=decided.category,
                risk_types=decided.risk_types,
                on=on,
                green_channel=entering,
            )
        if household.green_channel and not entering:
            household.complete_green_channel(
                case_id=decided.case_id,
                category=decided.category,
                risk_types=decided.risk_types,
                on=on,
            )
        else:
            household.reidentify(
                case_id=decided.case_id,
                category=decided.category,
                risk_types=decided.risk_types,
                on=on,
                green_channel=entering,
            )
        return household
    if decided.green_channel and household is not None and household.green_channel:
        # exited, rejected or withdrawn while in the channel: assistance stops
        household.remove(case_id=decided.case_id, on=on, reason=decided.reason or str(outcome))
    return household
