"""Errors the approval domain raises when an action is refused."""

from __future__ import annotations


class ApprovalError(Exception):
    """Base of every refusal by the approval domain."""


class PermissionDenied(ApprovalError):
    """The actor may not take this action here (wrong level or outside their region)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Conflict(ApprovalError):
    """Optimistic locking: the case changed since the actor loaded it (another signer won)."""

    def __init__(self, case_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"case {case_id} is at version {actual_version}, not {expected_version}: "
            "it was changed by someone else; reload it and try again"
        )
        self.case_id = case_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class InvalidTransition(ApprovalError):
    """The action is not allowed in the case's (or household's) current state."""
