"""Shared pytest fixtures (real nats-server from the wheel, PostgreSQL when reachable)."""

pytest_plugins = ["fangpin_kit.testing"]
