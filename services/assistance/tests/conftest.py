"""Assistance's test helpers are importable as `assistance_support` (tests are not a package)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
