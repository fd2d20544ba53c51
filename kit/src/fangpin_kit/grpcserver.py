"""gRPC server bootstrap: health, reflection, correlation/logging interceptor, graceful stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fangpin_kit.correlation import GRPC_METADATA_KEY, correlation_scope
from fangpin_kit.logging import get_logger

log = get_logger("fangpin.grpc")


def _metadata_correlation(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == GRPC_METADATA_KEY:
            return str(value)
    return None


class CorrelationInterceptor(grpc.aio.ServerInterceptor):
    """Binds the caller's correlation id (or a new one) and logs each call with its status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with correlation_scope(_metadata_correlation(context), rpc=method):
                    started = time.perf_counter()
                    try:
                        return await fn(request, context)
                    finally:
                        _log_call(method, context, started)

            return call

        def wrap_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with correlation_scope(_metadata_correlation(context), rpc=method):
                    started = time.perf_counter()
                    try:
                        async for item in fn(request, context):
                            yield item
                    finally:
                        _log_call(method, context, started)

            return call

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap_unary(handler.unary_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap_unary(handler.stream_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap_stream(handler.unary_stream),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            wrap_stream(handler.stream_stream),
            handler.request_deserializer,
            handler.response_serializer,
        )


def _log_call(method: str, context: grpc.aio.ServicerContext, started: float) -> None:
    code = context.code()
    status = code.name if isinstance(code, grpc.StatusCode) else "OK"
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    log.info("grpc call", method=method, status=status, ms=elapsed_ms)


@dataclass(frozen=True)
class ServicerBinding:
    """A servicer, the generated `add_..._to_server` function and its full service name."""

    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    full_name: str


class GrpcServer:
    def __init__(self, host: str, port: int, bindings: Iterable[ServicerBinding]) -> None:
        self.bindings = list(bindings)
        self.server = grpc.aio.server(
            interceptors=[CorrelationInterceptor()],
            options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for binding in self.bindings:
            binding.add_to_server(binding.servicer, self.server)
        names = [b.full_name for b in self.bindings]
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot listen on {host}:{port}")

    async def start(self) -> None:
        await self.server.start()
        for name in ["", *(b.full_name for b in self.bindings)]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        for name in ["", *(b.full_name for b in self.bindings)]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)


async def abort_invalid(context: grpc.aio.ServicerContext, message: str) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
