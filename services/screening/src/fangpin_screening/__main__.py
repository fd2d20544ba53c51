"""`python -m fangpin_screening [serve|migrate]`."""

from fangpin_kit.runtime import run_service
from fangpin_screening.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
