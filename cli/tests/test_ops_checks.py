"""A checking command tells a script what it found through its exit status: `fangpin audit
verify` exits 1 on a broken ledger, 0 on an intact one, 2 when it cannot check at all; run as
the installed command would be, in its own process (what a scheduled check runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_kit.natsserver import free_port
from fangpin_kit.testing_grpc import binding, serving_in_thread

BROKEN = approval_pb2.AuditVerification(
    ok=False,
    checked=3,
    problem="edited",
    seq=4,
    message="entry 4's hash does not match its content",
    head="ab" * 32,
)
INTACT = approval_pb2.AuditVerification(ok=True, checked=6, head="cd" * 32)


class Ledger(approval_pb2_grpc.ApprovalServiceServicer):
    """The approval service's ledger check, answering what the test sets."""

    def __init__(self) -> None:
        self.answer = INTACT

    def VerifyAudit(
        self, request: approval_pb2.VerifyAuditRequest, context: grpc.ServicerContext
    ) -> approval_pb2.AuditVerification:
        return self.answer


@pytest.fixture
def ledger() -> Iterator[tuple[Ledger, str]]:
    servicer = Ledger()
    fake = binding(servicer)
    with serving_in_thread([fake]) as address:
        yield servicer, address


def audit_verify(address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fangpin_cli.main", "audit", "verify"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FANGPIN_APPROVAL_ADDR": address},
        check=False,
    )


def test_a_broken_ledger_exits_1_naming_the_entry(ledger: tuple[Ledger, str]) -> None:
    servicer, address = ledger
    servicer.answer = BROKEN
    result = audit_verify(address)
    assert result.returncode == 1
    assert "audit ledger BROKEN at entry 4 (edited): entry 4's hash" in result.stderr
    assert result.stdout == ""


def test_an_intact_ledger_exits_0(ledger: tuple[Ledger, str]) -> None:
    _, address = ledger
    result = audit_verify(address)
    assert result.returncode == 0, result.stderr
    assert "audit ledger intact: 6 entries, head cdcdcdcd" in result.stdout


def test_a_check_that_cannot_reach_the_service_exits_2() -> None:
    result = audit_verify(f"127.0.0.1:{free_port()}")  # nothing listens there
    assert result.returncode == 2
    assert "error: approval: UNAVAILABLE" in result.stderr
