"""Logs are JSON lines with the service, the correlation id, and no full ID number or phone."""

from __future__ import annotations

import json
import logging

import pytest

from fangpin_kit.correlation import correlation_scope, current_correlation_id
from fangpin_kit.logging import configure_logging, get_logger


def test_log_lines_carry_service_and_correlation_and_mask_personal_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("intake", "INFO")
    with correlation_scope("c0ffee", event_id="ev-1"):
        assert current_correlation_id() == "c0ffee"
        get_logger("test").info(
            "warning received", id_number="652827198001113756", phone="13812345678"
        )
        logging.getLogger("fangpin.stdlib").warning("household 652827198001113756 failed")
    assert current_correlation_id() is None
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    structured, stdlib = lines
    assert structured["service"] == "intake"
    assert structured["correlation_id"] == "c0ffee"
    assert structured["event_id"] == "ev-1"
    assert structured["id_number"] == "652827********3756"
    assert structured["phone"] == "138****5678"
    assert "652827198001113756" not in stdlib["event"]
    assert stdlib["correlation_id"] == "c0ffee"


def test_scope_without_an_id_starts_a_new_one() -> None:
    with correlation_scope(None) as cid:
        assert current_correlation_id() == cid
        assert len(cid) == 32
