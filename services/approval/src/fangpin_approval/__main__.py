"""`python -m fangpin_approval [serve|migrate]`."""

from fangpin_approval.bootstrap import SPEC
from fangpin_kit.runtime import run_service

if __name__ == "__main__":
    run_service(SPEC)
