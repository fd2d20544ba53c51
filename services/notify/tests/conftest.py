"""Notify's test helpers are importable as `notify_support` and `notify_running` (tests are
not a package, so conftest names stay unique across services)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
