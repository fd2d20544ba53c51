"""Fixtures of the approval domain tests (helpers live in approval_support, importable by name)."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import `approval_support` by its (repository-unique) name; the rootdir's
# importlib mode does not put this folder on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
from approval_support import (
    Actors,
    Driver,
    OpenCase,
    baseline_parameters,
    make_actors,
    make_open_case,
)

from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_kit.workdays import WorkdayCalendar


@pytest.fixture
def actors() -> Actors:
    return make_actors()


@pytest.fixture
def params() -> ProcedureParameters:
    return baseline_parameters()


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


@pytest.fixture
def open_case(params: ProcedureParameters, calendar: WorkdayCalendar) -> OpenCase:
    return make_open_case(params, calendar)


@pytest.fixture
def driver(actors: Actors) -> Driver:
    return Driver(actors)
