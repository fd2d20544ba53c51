"""Versioned flow definitions of the five-step identification and elimination procedures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from fangpin_approval.domain.actors import Level


class FlowKind(StrEnum):
    """Which procedure a case follows."""

    IDENTIFICATION = "identification"  # 识别认定
    ELIMINATION = "elimination"  # 风险消除 (怎么进怎么出)


class Step(StrEnum):
    """Steps of the procedures; codes as DOMAIN.md writes them."""

    APPLICATION = "application"  # 农户申请 + 授权承诺
    NOMINATION = "nomination"  # 村(社区)提名
    VERIFICATION = "verification"  # 入户核实
    VILLAGE_APPRAISAL = "village_appraisal"  # 村级民主评议 + 公示
    TOWN_REVIEW = "town_review"  # 乡镇审核
    COUNTY_APPROVAL = "county_approval"  # 县级审核批准 + 公告


@dataclass(frozen=True)
class StepRule:
    """Who signs a step and what may happen at it.

    `responsible` is the level answerable when the step is late (escalation starts there).
    `co_signed` steps need `verification_min_cadres` distinct signers; `public_notice` steps
    can only be signed after the village public notice (公示) has run its minimum days.
    """

    step: Step
    signers: frozenset[Level]
    responsible: Level
    can_reject: bool = False
    can_return: bool = False
    co_signed: bool = False
    public_notice: bool = False


@dataclass(frozen=True)
class FlowDefinition:
    """One version of a procedure: ordered steps and the levels allowed each action.

    A case keeps the definition it was opened with until it is decided.
    """

    kind: FlowKind
    version: str
    steps: tuple[StepRule, ...]
    objection_returns_to: Step
    objection_levels: frozenset[Level]
    withdraw_levels: frozenset[Level]
    urgent_confirmers: frozenset[Level] = frozenset()

    def __post_init__(self) -> None:
        codes = [rule.step for rule in self.steps]
        if not codes:
            raise ValueError(f"flow {self.kind}@{self.version} has no steps")
        if len(set(codes)) != len(codes):
            raise ValueError(f"flow {self.kind}@{self.version} repeats a step")
        if self.objection_returns_to not in codes:
            raise ValueError(
                f"flow {self.kind}@{self.version}: objection returns to "
                f"{self.objection_returns_to}, which is not one of its steps"
            )
        if self.steps[0].can_return:
            raise ValueError(f"flow {self.kind}@{self.version}: the first step cannot return")

    @property
    def first(self) -> Step:
        """The step a new case starts at."""
        return self.steps[0].step

    @property
    def last(self) -> Step:
        """The step whose signature decides the case."""
        return self.steps[-1].step

    @property
    def notice_step(self) -> Step | None:
        """The step that carries the village public notice, if any."""
        return next((rule.step for rule in self.steps if rule.public_notice), None)

    def rule(self, step: Step) -> StepRule:
        """The rule of `step` in this flow."""
        for rule in self.steps:
            if rule.step == step:
                return rule
        raise ValueError(f"step {step} is not part of flow {self.kind}@{self.version}")

    def index(self, step: Step) -> int:
        """Position of `step` in the flow (0 for the first)."""
        return [rule.step for rule in self.steps].index(step)

    def next_step(self, step: Step) -> Step | None:
        """The step after `step`, or None when `step` is the last."""
        i = self.index(step)
        return self.steps[i + 1].step if i + 1 < len(self.steps) else None

    def previous_step(self, step: Step) -> Step:
        """The step before `step` (a return goes back exactly one step)."""
        i = self.index(step)
        if i == 0:
            raise ValueError(f"step {step} is the first of flow {self.kind}@{self.version}")
        return self.steps[i - 1].step


class FlowRegistry:
    """Flow definitions by kind and version; the service picks the version the ruleset names."""

    def __init__(self, flows: Iterable[FlowDefinition] = ()) -> None:
        self._flows: dict[tuple[FlowKind, str], FlowDefinition] = {}
        for flow in flows:
            self.register(flow)

    def register(self, flow: FlowDefinition) -> None:
        """Add a flow version; an existing version is never replaced (running cases use it)."""
        key = (flow.kind, flow.version)
        if key in self._flows:
            raise ValueError(f"flow {flow.kind}@{flow.version} is already registered")
        self._flows[key] = flow

    def get(self, kind: FlowKind, version: str) -> FlowDefinition:
        """The flow definition of `kind` at `version`."""
        try:
            return self._flows[(FlowKind(kind), version)]
        except KeyError:
            known = sorted(v for k, v in self._flows if k == kind)
            raise ValueError(f"no {kind} flow version {version!r}; known: {known}") from None

    def versions(self, kind: FlowKind) -> list[str]:
        """Known versions of `kind`, sorted."""
        return sorted(v for k, v in self._flows if k == kind)


_VILLAGE = frozenset({Level.VILLAGE})
_CADRES = frozenset({Level.VILLAGE, Level.TOWN})
_TOWN = frozenset({Level.TOWN})
_COUNTY = frozenset({Level.COUNTY})
_ABOVE_HOUSEHOLD = frozenset({Level.VILLAGE, Level.TOWN, Level.COUNTY})

# 中农组发〔2021〕7号 five steps (references 001 二(三), 四(三); 000 plan 3).
IDENTIFICATION_2021 = FlowDefinition(
    kind=FlowKind.IDENTIFICATION,
    version="2021",
    steps=(
        StepRule(
            Step.APPLICATION,
            signers=frozenset({Level.HOUSEHOLD, Level.VILLAGE}),
            responsible=Level.VILLAGE,
        ),
        StepRule(
            Step.VERIFICATION,
            signers=_CADRES,
            responsible=Level.VILLAGE,
            can_reject=True,
            co_signed=True,
        ),
        StepRule(
            Step.VILLAGE_APPRAISAL,
            signers=_VILLAGE,
            responsible=Level.VILLAGE,
            can_reject=True,
            public_notice=True,
        ),
        StepRule(
            Step.TOWN_REVIEW,
            signers=_TOWN,
            responsible=Level.TOWN,
            can_reject=True,
            can_return=True,
        ),
        StepRule(
            Step.COUNTY_APPROVAL,
            signers=_COUNTY,
            responsible=Level.COUNTY,
            can_reject=True,
            can_return=True,
        ),
    ),
    objection_returns_to=Step.VERIFICATION,
    objection_levels=_ABOVE_HOUSEHOLD,
    withdraw_levels=frozenset({Level.HOUSEHOLD, Level.VILLAGE}),
    urgent_confirmers=_CADRES,
)

ELIMINATION_2021 = FlowDefinition(
    kind=FlowKind.ELIMINATION,
    version="2021",
    steps=(
        StepRule(Step.NOMINATION, signers=_VILLAGE, responsible=Level.VILLAGE),
        *IDENTIFICATION_2021.steps[1:],
    ),
    objection_returns_to=Step.VERIFICATION,
    objection_levels=_ABOVE_HOUSEHOLD,
    withdraw_levels=_VILLAGE,
)

DEFAULT_FLOWS = FlowRegistry([IDENTIFICATION_2021, ELIMINATION_2021])
