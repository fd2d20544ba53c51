"""Screening domain tests: helpers live in screening_support, importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import `screening_support` by its (repository-unique) name; the rootdir's
# importlib mode does not put this folder on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))
