"""Generated gRPC code (fangpin.v1); regenerate with `make proto`."""
