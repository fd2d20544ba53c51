"""Fake gRPC services for CLI tests, served by grpc.aio in a thread of their own.

A test process also runs grpc.aio clients (the CLI) and servers (the services): a classic
`grpc.server` started in the same process can hang in `start()` (the sync and asyncio
stacks share gRPC's core). So fakes are written as plain servicer classes with ordinary
methods (`context.abort(...)` as in a sync server) and served here by a grpc.aio server on
its own event loop in a background thread; the test itself stays synchronous.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from fangpin_kit.grpcserver import ServicerBinding


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class _PlainContext:
    """The call context a plain method sees: `abort` raises as in a sync server."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise _Abort(code, details)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _AsyncServicer:
    """`plain`'s methods as asyncio handlers (unary-unary answers)."""

    def __init__(self, plain: Any) -> None:
        self._plain = plain

    def __getattr__(self, name: str) -> Callable[[Any, Any], Any]:
        method = getattr(self._plain, name)

        async def handle(request: Any, context: Any) -> Any:
            try:
                return method(request, _PlainContext(context))
            except _Abort as abort:
                await context.abort(abort.code, abort.details)

        return handle


def binding(plain: Any) -> ServicerBinding:
    """A binding of a plain fake servicer: an instance of a subclass of a generated
    `fangpin.v1.<x>_pb2_grpc.<Name>Servicer` (its service, registration and name found there)."""
    for cls in type(plain).__mro__:
        if cls.__module__.endswith("_pb2_grpc") and cls.__name__.endswith("Servicer"):
            generated = sys.modules[cls.__module__]
            messages = sys.modules[cls.__module__.removesuffix("_grpc")]
            service = messages.DESCRIPTOR.services_by_name[cls.__name__.removesuffix("Servicer")]
            add_to_server = getattr(generated, f"add_{cls.__name__}_to_server")
            return ServicerBinding(_AsyncServicer(plain), add_to_server, service.full_name)
    raise TypeError(f"{type(plain).__name__} is not a generated gRPC servicer's subclass")


@contextmanager
def serving_in_thread(bindings: Iterable[ServicerBinding]) -> Iterator[str]:
    """Serve `bindings` on 127.0.0.1 at a free port until the block ends; yields the address."""
    loop = asyncio.new_event_loop()
    bound = list(bindings)
    ports: list[int] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        # a bare server (no logging interceptor): the CLI's stdout under test stays its own
        server = grpc.aio.server()  # made on the loop that serves it
        for fake in bound:
            fake.add_to_server(fake.servicer, server)
        try:
            ports.append(server.add_insecure_port("127.0.0.1:0"))
            loop.run_until_complete(server.start())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.stop(0))
        loop.close()

    thread = threading.Thread(target=run, name="fake-grpc", daemon=True)
    thread.start()
    if not ready.wait(30) or failure:
        raise RuntimeError(f"fake gRPC server did not start: {failure}")
    try:
        yield f"127.0.0.1:{ports[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
