"""Shared fixtures of notify's unit tests."""

from __future__ import annotations

import pytest

from fangpin_notify.domain.parameters import NotifyParameters


@pytest.fixture
def params() -> NotifyParameters:
    return NotifyParameters(
        reminder_lead_days=2,
        escalation_after_days=1,
        digest_threshold=3,
        retry_max_attempts=4,
        retry_backoff_base_seconds=10,
        retry_backoff_max_seconds=60,
    )
