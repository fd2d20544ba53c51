"""Alembic environment of approval's store."""

from fangpin_approval.adapters.orm import metadata
from fangpin_kit.migrations import run_env

run_env(metadata, "approval")
