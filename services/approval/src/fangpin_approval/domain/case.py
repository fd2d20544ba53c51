"""The case aggregate: one household's identification or elimination procedure, a state machine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fangpin_approval.domain.actors import Actor, Level, validate_region
from fangpin_approval.domain.codes import (
    Category,
    EliminationMode,
    Exclusion,
    RiskType,
    sorted_risk_types,
)
from fangpin_approval.domain.deadlines import Deadline, DueDates, local_date
from fangpin_approval.domain.errors import Conflict, InvalidTransition, PermissionDenied
from fangpin_approval.domain.events import (
    CaseAdvanced,
    CaseDecided,
    CaseOpened,
    CaseOverdue,
    DomainEvent,
    NoticePublished,
    Outcome,
)
from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_approval.domain.procedure import (
    DEFAULT_FLOWS,
    FlowDefinition,
    FlowKind,
    FlowRegistry,
    Step,
)
from fangpin_approval.domain.register import MonitoredHousehold, check_can_open
from fangpin_kit.workdays import WorkdayCalendar


class CaseStatus(StrEnum):
    """Where a case stands overall."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    """Every kind of entry in a case's timeline (and the audit ledger)."""

    OPEN = "open"
    RECORD_SCREENING = "record_screening"
    SIGN = "sign"
    PUBLISH_NOTICE = "publish_notice"
    OBJECT = "object"
    RETURN = "return"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    RECORD_SPECIAL_REASON = "record_special_reason"
    CONFIRM_URGENT = "confirm_urgent"
    EXPIRE_GREEN_CHANNEL = "expire_green_channel"
    RECORD_SYSTEM_ENTRY = "record_system_entry"
    MARK_OVERDUE = "mark_overdue"


class GreenChannelState(StrEnum):
    """Life of the green channel (绿色通道) of one case."""

    NONE = "none"
    CONFIRMING = "confirming"  # some but not all of village and town have confirmed
    OPEN = "open"  # registered, assisted, procedure running
    COMPLETED = "completed"  # procedure approved within the channel's time
    EXITED = "exited"  # expired, rejected or withdrawn: assistance stops


@dataclass(frozen=True)
class CaseAction:
    """One signed (or system) action on a case; `actor` is None for system actions."""

    case_id: str
    seq: int
    action: Action
    at: dt.datetime
    step: Step
    to_step: Step
    actor: Actor | None = None
    comment: str = ""
    attachments: tuple[str, ...] = ()
    co_signers: tuple[Actor, ...] = ()
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def ledger_record(self, household_id: str) -> dict[str, Any]:
        """The action as one JSON-ready audit ledger record."""
        return {
            "case_id": self.case_id,
            "household_id": household_id,
            "seq": self.seq,
            "action": self.action.value,
            "at": self.at.isoformat(),
            "step": self.step.value,
            "to_step": self.to_step.value,
            "actor": self.actor.as_record() if self.actor else None,
            "co_signers": [a.as_record() for a in self.co_signers],
            "comment": self.comment,
            "attachments": list(self.attachments),
            "reason": self.reason,
            "details": dict(self.details),
        }


@dataclass
class GreenChannel:
    """Confirmations and dates of a case's green channel."""

    state: GreenChannelState = GreenChannelState.NONE
    confirmations: dict[Level, str] = field(default_factory=dict)  # level -> actor id
    reasons: list[str] = field(default_factory=list)
    entered_on: dt.date | None = None


@dataclass
class Case:
    """An identification (识别认定) or elimination (风险消除) case of one household.

    Every mutating method records exactly one `CaseAction`, bumps `version` and queues domain
    events in `events`. Methods taken by people take `expected_version`, the version the actor
    saw: a stale one raises Conflict before anything is checked or applied (the repository
    must also save with compare-and-set on `version`). Refusals: Conflict, then
    InvalidTransition for a closed case, then PermissionDenied, then InvalidTransition.
    Timestamps must be time-zone aware; dates are taken in China (UTC+8).
    """

    id: str
    kind: FlowKind
    household_id: str
    region: str
    flow: FlowDefinition
    params: ProcedureParameters
    clue_on: dt.date
    opened_at: dt.datetime
    step: Step
    due: DueDates
    status: CaseStatus = CaseStatus.OPEN
    version: int = 0
    category: Category | None = None
    risk_types: tuple[RiskType, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    elimination_mode: EliminationMode | None = None
    measures: tuple[str, ...] = ()
    special_reason: str | None = None
    notice_published_on: dt.date | None = None
    verified_on: dt.date | None = None
    green_channel: GreenChannel = field(default_factory=GreenChannel)
    system_entry_on: dt.date | None = None
    decided_at: dt.datetime | None = None
    history: list[CaseAction] = field(default_factory=list)
    breaches: set[str] = field(default_factory=set)
    events: list[DomainEvent] = field(default_factory=list)

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        *,
        case_id: str,
        kind: FlowKind,
        household_id: str,
        region: str,
        clue_on: dt.date,
        at: dt.datetime,
        params: ProcedureParameters,
        calendar: WorkdayCalendar,
        household: MonitoredHousehold | None,
        opened_by: Actor | None = None,
        source: str = "",
        elimination_mode: EliminationMode | None = None,
        measures: Sequence[str] = (),
        flows: FlowRegistry = DEFAULT_FLOWS,
    ) -> Case:
        """Open a case at its flow's first step, under the flow version the parameters name.

        `clue_on` is the date the risk clue was found (identification) or the nomination date
        (elimination); time limits run from it. `household` is the register entry, if any.
        """
        kind = FlowKind(kind)
        validate_region(region, Level.VILLAGE)
        flow = flows.get(kind, params.flow_version)
        opened_on = local_date(at)
        if clue_on > opened_on:
            raise ValueError(f"clue date {clue_on} is after the opening date {opened_on}")
        if household is not None and household.household_id != household_id:
            raise ValueError(f"register entry {household.household_id} is not {household_id}")
        if household is not None and household.region != region:
            raise ValueError(f"household {household_id} is registered in {household.region}")
        category: Category | None = None
        risk_types: tuple[RiskType, ...] = ()
        mode: EliminationMode | None = None
        if kind is FlowKind.ELIMINATION:
            if elimination_mode is None:
                raise InvalidTransition("an elimination names its mode: assisted or natural")
            mode = EliminationMode(elimination_mode)
            if mode is EliminationMode.ASSISTED and not measures:
                raise InvalidTransition("an assisted elimination needs the implemented measures")
            if household is not None:
                category, risk_types = household.category, household.risk_types
        elif elimination_mode is not None or measures:
            raise InvalidTransition("an identification has no elimination mode or measures")
        case = cls(
            id=case_id,
            kind=kind,
            household_id=household_id,
            region=region,
            flow=flow,
            params=params,
            clue_on=clue_on,
            opened_at=at,
            step=flow.first,
            due=DueDates.at_opening(clue_on, params, calendar),
            category=category,
            risk_types=risk_types,
            elimination_mode=mode,
            measures=tuple(measures),
        )
        if opened_by is not None:
            case._authorize(opened_by, flow.rule(flow.first).signers, f"open the {kind} case")
        check_can_open(household, household_id, kind)
        case._record(
            Action.OPEN,
            at,
            opened_by,
            details={
                "source": source,
                "clue_on": clue_on.isoformat(),
                "ruleset": params.ruleset,
                "flow_version": flow.version,
                "elimination_mode": mode.value if mode else None,
                "measures": list(measures),
                "due": case.due.as_record(),
            },
        )
        case.events.append(
            CaseOpened(
                case_id=case.id,
                household_id=household_id,
                kind=kind,
                region=region,
                flow_version=flow.version,
                ruleset=params.ruleset,
                step=case.step,
                clue_on=clue_on,
                opened_at=at,
                due=case.due,
            )
        )
        return case

    @classmethod
    def nominate_for_elimination(
        cls,
        actor: Actor,
        at: dt.datetime,
        *,
        case_id: str,
        household: MonitoredHousehold,
        mode: EliminationMode,
        measures: Sequence[str],
        params: ProcedureParameters,
        calendar: WorkdayCalendar,
        comment: str = "",
        attachments: Sequence[str] = (),
        flows: FlowRegistry = DEFAULT_FLOWS,
    ) -> Case:
        """The village nominates a monitored household for elimination (村提名): open and sign."""
        case = cls.open(
            case_id=case_id,
            kind=FlowKind.ELIMINATION,
            household_id=household.household_id,
            region=household.region,
            clue_on=local_date(at),
            at=at,
            params=params,
            calendar=calendar,
            household=household,
            opened_by=actor,
            source="nomination",
            elimination_mode=mode,
            measures=measures,
            flows=flows,
        )
        case.sign(
            actor, at, expected_version=case.version, comment=comment, attachments=attachments
        )
        return case

    # ----------------------------------------------------------- signed actions

    def sign(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str = "",
        attachments: Sequence[str] = (),
        co_signers: Sequence[Actor] = (),
    ) -> None:
        """Sign the current step; the case moves to the next step or, at the last, is approved."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, f"sign {self.step}")
        rule = self.flow.rule(self.step)
        self._authorize(actor, rule.signers, f"sign {self.step}")
        for other in co_signers:
            self._authorize(other, rule.signers, f"co-sign {self.step}")
        today = self._check_time(at)
        if rule.co_signed:
            signers = {actor.id, *(other.id for other in co_signers)}
            needed = self.params.verification_min_cadres
            if len(signers) < needed:
                raise InvalidTransition(
                    f"{self.step} is signed by at least {needed} cadres; got {len(signers)}"
                )
        if rule.public_notice:
            self._check_notice_completed(today)
            if self.exclusions and not self.special_reason:
                listed = ", ".join(e.value for e in self.exclusions)
                raise InvalidTransition(
                    f"case {self.id}: screening listed exclusions ({listed}); {self.step} can "
                    "only pass with a recorded special-case reason (特殊情况由村民主评议认定)"
                )
        next_step = self.flow.next_step(self.step)
        if next_step is None and self.kind is FlowKind.IDENTIFICATION and self.category is None:
            raise InvalidTransition(
                f"case {self.id} has no screening decision with a category: cannot approve"
            )
        from_step = self.step
        self._record(
            Action.SIGN,
            at,
            actor,
            to_step=next_step or from_step,
            comment=comment,
            attachments=attachments,
            co_signers=co_signers,
        )
        if from_step is Step.VERIFICATION and self.verified_on is None:
            self.verified_on = today
        if next_step is not None:
            self.step = next_step
            self._advanced(Action.SIGN, from_step, actor, at)
            return
        self.due = self.due.with_approval(today, self.params)
        in_channel = self.green_channel.state is GreenChannelState.OPEN
        if in_channel:
            self.green_channel.state = GreenChannelState.COMPLETED
        self._decide(CaseStatus.APPROVED, Outcome.APPROVED, at, reason=None, green=in_channel)

    def publish_notice(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str = "",
        attachments: Sequence[str] = (),
    ) -> None:
        """Start the village public notice (村内公示) after the democratic appraisal."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "publish the notice")
        rule = self.flow.rule(self.step)
        self._authorize(actor, rule.signers, f"publish the notice at {self.step}")
        today = self._check_time(at)
        if not rule.public_notice:
            raise InvalidTransition(
                f"case {self.id} is at {self.step}: the public notice belongs to "
                f"{self.flow.notice_step}"
            )
        if self.notice_published_on is not None:
            raise InvalidTransition(
                f"case {self.id}: the notice was already published on {self.notice_published_on}"
            )
        self._record(Action.PUBLISH_NOTICE, at, actor, comment=comment, attachments=attachments)
        self.notice_published_on = today
        self.due = self.due.with_notice(today, self.params)
        assert self.due.notice_last_day is not None
        self.events.append(
            NoticePublished(
                case_id=self.id,
                household_id=self.household_id,
                kind=self.kind,
                village=self.region,
                published_on=today,
                last_day=self.due.notice_last_day,
            )
        )

    def object(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """Record an objection raised during the public notice: the case goes back to verification.

        Objections are taken while the notice is up, i.e. until the appraisal is signed. The
        special-case reason (if any) is cleared: the new appraisal must decide again.
        """
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "record an objection")
        self._authorize(actor, self.flow.objection_levels, "record an objection")
        self._check_time(at)
        if not self.flow.rule(self.step).public_notice or self.notice_published_on is None:
            raise InvalidTransition(
                f"case {self.id} is at {self.step} with no public notice running: objections "
                "are taken during the notice"
            )
        _require_text(comment, "an objection needs its content")
        from_step, to_step = self.step, self.flow.objection_returns_to
        self._record(
            Action.OBJECT, at, actor, to_step=to_step, comment=comment, attachments=attachments
        )
        self.step = to_step
        self.notice_published_on = None
        self.special_reason = None
        self.due = self.due.without_notice()
        self._advanced(Action.OBJECT, from_step, actor, at)

    def return_(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """Send the case back one step (退回): a town or county return for rework."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "return the case")
        rule = self.flow.rule(self.step)
        self._authorize(actor, rule.signers, f"return the case from {self.step}")
        self._check_time(at)
        if not rule.can_return:
            raise InvalidTransition(f"case {self.id}: {self.step} cannot return a case")
        _require_text(comment, "a return needs its reason")
        from_step, to_step = self.step, self.flow.previous_step(self.step)
        self._record(
            Action.RETURN, at, actor, to_step=to_step, comment=comment, attachments=attachments
        )
        self.step = to_step
        self._advanced(Action.RETURN, from_step, actor, at)

    def reject(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        reason: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """Refuse the case at the current step (不予认定 / 不予消除); a green channel stops."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "reject the case")
        rule = self.flow.rule(self.step)
        self._authorize(actor, rule.signers, f"reject the case at {self.step}")
        self._check_time(at)
        if not rule.can_reject:
            raise InvalidTransition(f"case {self.id}: {self.step} cannot reject a case")
        _require_text(reason, "a rejection needs its reason")
        self._record(Action.REJECT, at, actor, reason=reason, attachments=attachments)
        self._decide(
            CaseStatus.REJECTED, Outcome.REJECTED, at, reason=reason, green=self._leave_channel()
        )

    def withdraw(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        reason: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """The household (or the nominating village) withdraws; a green channel stops."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "withdraw the case")
        self._authorize(actor, self.flow.withdraw_levels, "withdraw the case")
        self._check_time(at)
        _require_text(reason, "a withdrawal needs its reason")
        self._record(Action.WITHDRAW, at, actor, reason=reason, attachments=attachments)
        self._decide(
            CaseStatus.WITHDRAWN, Outcome.WITHDRAWN, at, reason=reason, green=self._leave_channel()
        )

    def record_special_reason(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        reason: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """The village appraisal admits a household despite exclusions, with the reason."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "record a special-case reason")
        notice_step = self.flow.notice_step
        levels = self.flow.rule(notice_step).signers if notice_step else frozenset()
        self._authorize(actor, levels, "record a special-case reason")
        self._check_time(at)
        if self.step != notice_step:
            raise InvalidTransition(
                f"case {self.id} is at {self.step}: the special-case reason is recorded at "
                f"{notice_step}"
            )
        if not self.exclusions:
            raise InvalidTransition(f"case {self.id}: screening listed no exclusion to override")
        _require_text(reason, "a special-case reason cannot be empty")
        self._record(
            Action.RECORD_SPECIAL_REASON,
            at,
            actor,
            reason=reason,
            attachments=attachments,
            details={"exclusions": [e.value for e in self.exclusions]},
        )
        self.special_reason = reason

    def confirm_urgent(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str,
        attachments: Sequence[str] = (),
    ) -> None:
        """Village or town confirms urgent hardship; once both have, the green channel opens.

        The household is then registered at once and assisted (`CaseDecided` with
        `green_channel`); the procedure must complete before `due.green_channel`.
        """
        self._check_version(expected_version)
        self._require_status(CaseStatus.OPEN, "confirm an urgent case")
        confirmers = self.flow.urgent_confirmers
        if not confirmers:
            raise InvalidTransition(f"a {self.kind} case has no green channel")
        self._authorize(actor, confirmers, "confirm an urgent case for the green channel")
        today = self._check_time(at)
        channel = self.green_channel
        if channel.state not in (GreenChannelState.NONE, GreenChannelState.CONFIRMING):
            raise InvalidTransition(f"case {self.id}: the green channel is {channel.state}")
        if actor.level in channel.confirmations:
            raise InvalidTransition(
                f"case {self.id}: the {actor.level} already confirmed the urgent case "
                f"({channel.confirmations[actor.level]})"
            )
        _require_text(comment, "an urgent confirmation states the hardship")
        self._record(Action.CONFIRM_URGENT, at, actor, comment=comment, attachments=attachments)
        channel.confirmations[actor.level] = actor.id
        channel.reasons.append(comment)
        if not confirmers <= channel.confirmations.keys():
            channel.state = GreenChannelState.CONFIRMING
            return
        channel.state = GreenChannelState.OPEN
        channel.entered_on = today
        self.due = self.due.with_green_channel(today, self.params)
        self.events.append(
            self._decided_event(
                Outcome.GREEN_CHANNEL_ENTERED, at, reason="; ".join(channel.reasons), green=True
            )
        )

    def record_system_entry(
        self,
        actor: Actor,
        at: dt.datetime,
        *,
        expected_version: int,
        comment: str = "",
        attachments: Sequence[str] = (),
    ) -> None:
        """The county entered (or marked) the decision in the national system (录入全国系统)."""
        self._check_version(expected_version)
        self._require_status(CaseStatus.APPROVED, "record the system entry")
        self._authorize(actor, frozenset({Level.COUNTY}), "record the system entry")
        today = self._check_time(at)
        if self.system_entry_on is not None:
            raise InvalidTransition(
                f"case {self.id}: system entry already recorded on {self.system_entry_on}"
            )
        self._record(
            Action.RECORD_SYSTEM_ENTRY, at, actor, comment=comment, attachments=attachments
        )
        self.system_entry_on = today

    # ---------------------------------------------------------- system actions

    def record_screening(
        self,
        at: dt.datetime,
        *,
        category: Category | None,
        risk_types: Iterable[RiskType],
        exclusions: Iterable[Exclusion],
        ruleset: str = "",
    ) -> None:
        """Take the screening decision (识别研判) for an identification case before town review."""
        self._require_status(CaseStatus.OPEN, "record a screening decision")
        if self.kind is not FlowKind.IDENTIFICATION:
            raise InvalidTransition(f"case {self.id}: only identification cases take screening")
        notice_step = self.flow.notice_step
        if notice_step is not None and self.flow.index(self.step) > self.flow.index(notice_step):
            raise InvalidTransition(
                f"case {self.id} is at {self.step}: screening is taken up to {notice_step}"
            )
        self._check_time(at)
        category = Category(category) if category is not None else None
        risks = sorted_risk_types([RiskType(r) for r in risk_types])
        excluded = tuple(sorted({Exclusion(e) for e in exclusions}))
        self._record(
            Action.RECORD_SCREENING,
            at,
            None,
            details={
                "category": category.value if category else None,
                "risk_types": [r.value for r in risks],
                "exclusions": [e.value for e in excluded],
                "ruleset": ruleset,
            },
        )
        self.category, self.risk_types, self.exclusions = category, risks, excluded

    def expire_green_channel(self, now: dt.datetime) -> bool:
        """Leave the green channel when its month ran out before approval; True when it did."""
        channel = self.green_channel
        if self.status is not CaseStatus.OPEN or channel.state is not GreenChannelState.OPEN:
            return False
        until = self.due.green_channel
        assert until is not None
        if local_date(now) <= until:
            return False
        self._check_time(now)
        reason = (
            f"procedure not completed by {until.isoformat()} (green channel limit): "
            "the household leaves the green channel and assistance stops"
        )
        self._record(Action.EXPIRE_GREEN_CHANNEL, now, None, reason=reason)
        channel.state = GreenChannelState.EXITED
        self.events.append(
            self._decided_event(Outcome.GREEN_CHANNEL_EXITED, now, reason=reason, green=True)
        )
        return True

    def check_overdue(self, now: dt.datetime) -> list[CaseOverdue]:
        """Report each breached time limit once, escalated to the level above the one late."""
        today = local_date(now)
        found: list[CaseOverdue] = []
        for deadline, due_on, responsible in self._running_deadlines():
            key = f"{self.id}:{deadline.value}:{due_on.isoformat()}"
            if today <= due_on or key in self.breaches:
                continue
            self._check_time(now)
            event = CaseOverdue(
                case_id=self.id,
                household_id=self.household_id,
                kind=self.kind,
                region=self.region,
                deadline=deadline,
                due_on=due_on,
                breach_key=key,
                step=self.step,
                responsible_level=responsible,
                escalate_to=self.params.escalate(responsible),
                detected_at=now,
            )
            self._record(
                Action.MARK_OVERDUE,
                now,
                None,
                reason=f"{deadline.value} due {due_on.isoformat()}",
                details={
                    "breach_key": key,
                    "responsible_level": responsible.value,
                    "escalate_to": event.escalate_to.value,
                },
            )
            self.breaches.add(key)
            self.events.append(event)
            found.append(event)
        return found

    def pull_events(self) -> list[DomainEvent]:
        """Hand the pending events to the service layer and forget them."""
        events, self.events = self.events, []
        return events

    # ---------------------------------------------------------------- helpers

    def _running_deadlines(self) -> list[tuple[Deadline, dt.date, Level]]:
        running: list[tuple[Deadline, dt.date, Level]] = []
        if self.status is CaseStatus.OPEN:
            steps = [rule.step for rule in self.flow.steps]
            if self.verified_on is None and Step.VERIFICATION in steps:
                responsible = self.flow.rule(Step.VERIFICATION).responsible
                running.append((Deadline.VERIFICATION, self.due.verification, responsible))
            responsible = self.flow.rule(self.step).responsible
            running.append((Deadline.APPROVAL, self.due.approval, responsible))
        elif (
            self.status is CaseStatus.APPROVED
            and self.system_entry_on is None
            and self.due.system_entry is not None
        ):
            running.append((Deadline.SYSTEM_ENTRY, self.due.system_entry, Level.COUNTY))
        return running

    def _check_version(self, expected_version: int) -> None:
        if expected_version != self.version:
            raise Conflict(self.id, expected_version, self.version)

    def _require_status(self, status: CaseStatus, what: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"case {self.id} is {self.status}: cannot {what}")

    def _authorize(self, actor: Actor, levels: frozenset[Level], what: str) -> None:
        who = f"{actor.level} {actor.name} ({actor.id})"
        if actor.level not in levels:
            allowed = ", ".join(sorted(level.value for level in levels)) or "nobody"
            raise PermissionDenied(f"{who} may not {what}: only {allowed} may")
        if not actor.covers(self.region):
            raise PermissionDenied(
                f"{who} of region {actor.region} may not {what} for case {self.id} "
                f"in region {self.region}"
            )
        if actor.level is Level.HOUSEHOLD and actor.id != self.household_id:
            raise PermissionDenied(
                f"{who} may not {what}: case {self.id} is household {self.household_id}'s"
            )

    def _check_time(self, at: dt.datetime) -> dt.date:
        today = local_date(at)
        if self.history and at < self.history[-1].at:
            raise InvalidTransition(
                f"case {self.id}: {at.isoformat()} is before its last action "
                f"({self.history[-1].at.isoformat()})"
            )
        return today

    def _check_notice_completed(self, today: dt.date) -> None:
        last_day = self.due.notice_last_day
        if self.notice_published_on is None or last_day is None:
            raise InvalidTransition(
                f"case {self.id}: the public notice has not been published; {self.step} is "
                "signed after it has run"
            )
        if today <= last_day:
            raise InvalidTransition(
                f"case {self.id}: the public notice runs until {last_day.isoformat()} "
                f"({self.params.notice_min_days} days); sign from "
                f"{(last_day + dt.timedelta(days=1)).isoformat()}"
            )

    def _leave_channel(self) -> bool:
        if self.green_channel.state is GreenChannelState.OPEN:
            self.green_channel.state = GreenChannelState.EXITED
            return True
        return False

    def _record(
        self,
        action: Action,
        at: dt.datetime,
        actor: Actor | None,
        *,
        to_step: Step | None = None,
        comment: str = "",
        attachments: Sequence[str] = (),
        co_signers: Sequence[Actor] = (),
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> CaseAction:
        entry = CaseAction(
            case_id=self.id,
            seq=len(self.history) + 1,
            action=action,
            at=at,
            step=self.step,
            to_step=to_step or self.step,
            actor=actor,
            comment=comment,
            attachments=tuple(attachments),
            co_signers=tuple(co_signers),
            reason=reason,
            details=dict(details or {}),
        )
        self.history.append(entry)
        self.version += 1
        return entry

    def _advanced(self, action: Action, from_step: Step, actor: Actor, at: dt.datetime) -> None:
        self.events.append(
            CaseAdvanced(
                case_id=self.id,
                household_id=self.household_id,
                kind=self.kind,
                action=action.value,
                from_step=from_step,
                to_step=self.step,
                actor_id=actor.id,
                actor_level=actor.level,
                at=at,
                version=self.version,
                due=self.due,
            )
        )

    def _decide(
        self,
        status: CaseStatus,
        outcome: Outcome,
        at: dt.datetime,
        *,
        reason: str | None,
        green: bool,
    ) -> None:
        self.status = status
        self.decided_at = at
        self.events.append(self._decided_event(outcome, at, reason=reason, green=green))

    def _decided_event(
        self, outcome: Outcome, at: dt.datetime, *, reason: str | None, green: bool
    ) -> CaseDecided:
        return CaseDecided(
            case_id=self.id,
            household_id=self.household_id,
            kind=self.kind,
            region=self.region,
            outcome=outcome,
            green_channel=green,
            reason=reason,
            decided_at=at,
            category=self.category,
            risk_types=self.risk_types,
            elimination_mode=self.elimination_mode,
            due=self.due,
        )


def _require_text(text: str, message: str) -> None:
    if not text.strip():
        raise InvalidTransition(message)
