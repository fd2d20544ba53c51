"""Where the CLI finds each service: env `FANGPIN_<SERVICE>_ADDR`, else `var/endpoints.json`
written by `make run`, else the default ports."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import typer

from fangpin_kit.grpcclient import channel
from fangpin_kit.settings import DEFAULT_GRPC_PORTS, repo_root

T = TypeVar("T")


def endpoints_file() -> Path:
    var = Path(os.environ.get("FANGPIN_VAR_DIR") or repo_root() / "var")
    return var / "endpoints.json"


def address(service: str) -> str:
    env = os.environ.get(f"FANGPIN_{service.upper()}_ADDR")
    if env:
        return env
    path = endpoints_file()
    if path.exists():
        known = json.loads(path.read_text()).get("grpc", {})
        if service in known:
            return str(known[service])
    return f"127.0.0.1:{DEFAULT_GRPC_PORTS[service]}"


def call(service: str, stub_type: type, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run one async gRPC interaction with `service`; gRPC errors become a clean exit 2."""

    async def run() -> T:
        async with channel(address(service)) as ch:
            return await fn(stub_type(ch))

    try:
        return asyncio.run(run())
    except grpc.aio.AioRpcError as err:
        typer.echo(f"error: {service}: {err.code().name}: {err.details()}", err=True)
        raise typer.Exit(2) from err


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
