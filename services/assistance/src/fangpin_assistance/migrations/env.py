"""Alembic environment of assistance's store."""

from fangpin_assistance.adapters.orm import metadata
from fangpin_kit.migrations import run_env

run_env(metadata, "assistance")
