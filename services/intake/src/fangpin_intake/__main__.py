"""`python -m fangpin_intake [serve|migrate]`."""

from fangpin_kit.runtime import run_service

from fangpin_intake.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
