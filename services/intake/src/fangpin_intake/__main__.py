"""`python -m fangpin_intake [serve|migrate]`."""

from fangpin_intake.bootstrap import SPEC
from fangpin_kit.runtime import run_service

if __name__ == "__main__":
    run_service(SPEC)
