"""NATS JetStream wiring: stream declarations, publishing with `Nats-Msg-Id`, reliable consumers.

A consumer here is a durable pull subscription with explicit ack. Each delivery runs inside a
unit of work: an event id already in the inbox is acknowledged without effect; a handler error
is retried (nack with backoff) up to `max_deliver`, then the message goes to
`fp.<county>.dlq.<service>` with the reason and is acknowledged, so the messages behind it keep
flowing. Malformed messages (bad envelope or payload) go to the dead-letter subject at once. A dead
letter is itself a CloudEvent (`cn.fangpin.dlq.<service>.v1`) whose data is `DeadLetter`.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from fangpin_contracts.cloudevents import MSG_ID_HEADER, CloudEvent, headers_for, new_event
from fangpin_contracts.events import DeadLetter
from fangpin_contracts.subjects import DOMAINS, dlq_subject, stream_name, stream_subjects
from fangpin_kit.correlation import correlation_scope, current_correlation_id
from fangpin_kit.db import Database, DuplicateDelivery, UnitOfWork, utcnow
from fangpin_kit.logging import get_logger
from fangpin_kit.settings import ServiceSettings

log = get_logger("fangpin.bus")

Handler = Callable[[CloudEvent, UnitOfWork], Awaitable[None]]


class PermanentError(Exception):
    """A message that can never succeed (bad input): dead-letter it without retrying."""


async def declare_streams(
    js: nats.js.JetStreamContext, settings: ServiceSettings, domains: tuple[str, ...] = DOMAINS
) -> None:
    """Create or update one stream per domain for the county (idempotent, safe on every start)."""
    for domain in domains:
        config = StreamConfig(
            name=stream_name(settings.county, domain),
            subjects=stream_subjects(settings.county, domain),
            duplicate_window=settings.duplicate_window_seconds,
            num_replicas=settings.stream_replicas,
        )
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


@dataclass
class Subscription:
    consumer: str
    subject: str
    domain: str
    handler: Handler
    deliver_new_only: bool = False


class EventBus:
    """One service's view of the bus: subscriptions, publisher and dead-letter subject."""

    def __init__(self, settings: ServiceSettings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.broker = NatsBroker(settings.nats_servers, logger=None, graceful_timeout=10)
        self.subscriptions: list[Subscription] = []

    @property
    def county(self) -> str:
        return self.settings.county

    def subscribe(
        self, consumer: str, subject: str, handler: Handler, *, deliver_new_only: bool = False
    ) -> None:
        """Register `handler` for `subject` under the durable consumer name `consumer`."""
        domain = subject.split(".")[2]
        sub = Subscription(consumer, subject, domain, handler, deliver_new_only)
        self.subscriptions.append(sub)
        self._register(sub)

    def _register(self, sub: Subscription) -> None:
        settings = self.settings

        @self.broker.subscriber(
            sub.subject,
            stream=JStream(stream_name(settings.county, sub.domain), declare=False),
            durable=f"{settings.service}-{sub.consumer}",
            pull_sub=PullSub(batch_size=settings.pull_batch, timeout=1.0),
            ack_policy=AckPolicy.NACK_ON_ERROR,
            config=ConsumerConfig(
                max_deliver=settings.max_deliver,
                ack_wait=settings.ack_wait_seconds,
                deliver_policy=DeliverPolicy.NEW if sub.deliver_new_only else DeliverPolicy.ALL,
            ),
            title=f"{settings.service}.{sub.consumer}",
        )
        async def _consume(msg: NatsMessage) -> None:
            await self._deliver(sub, msg)

    async def _deliver(self, sub: Subscription, msg: NatsMessage) -> None:
        raw = msg.raw_message
        deliveries = raw.metadata.num_delivered if raw.metadata else 1
        try:
            event = CloudEvent.model_validate_json(raw.data)
        except ValidationError as err:
            await self.dead_letter(sub, raw, f"invalid CloudEvents envelope: {_first_error(err)}")
            return
        with correlation_scope(
            event.correlationid or event.id, event_id=event.id, event_type=event.type
        ):
            try:
                await self._handle_once(sub, event)
            except (PermanentError, ValidationError) as err:
                reason = _first_error(err) if isinstance(err, ValidationError) else str(err)
                log.warning("event rejected", consumer=sub.consumer, reason=reason)
                await self.dead_letter(sub, raw, reason, deliveries)
            except Exception as err:
                reason = f"{type(err).__name__}: {err}"
                if deliveries >= self.settings.max_deliver:
                    log.error("event failed for good", consumer=sub.consumer, reason=reason)
                    await self.dead_letter(sub, raw, reason, deliveries)
                    return
                log.warning(
                    "event failed, will retry",
                    consumer=sub.consumer,
                    reason=reason,
                    delivery=deliveries,
                )
                delay = self.settings.retry_backoff_seconds * (2 ** (deliveries - 1))
                raise NackMessage(delay=delay) from err

    async def _handle_once(self, sub: Subscription, event: CloudEvent) -> None:
        async with self.database.uow() as uow:
            if await uow.already_processed(sub.consumer, event.id):
                log.info("duplicate event ignored", consumer=sub.consumer)
                return
            await sub.handler(event, uow)
            uow.mark_processed(sub.consumer, event.id, sub.subject)
            try:
                await uow.commit()
            except DuplicateDelivery:
                log.info("concurrent duplicate ignored", consumer=sub.consumer)

    async def dead_letter(
        self, sub: Subscription, raw: Any, reason: str, deliveries: int = 1
    ) -> None:
        """Publish the original message and the reason on `fp.<county>.dlq.<service>`."""
        headers = dict(raw.headers or {})
        data = raw.data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = "base64:" + base64.b64encode(data).decode()
        letter = DeadLetter(
            service=self.settings.service,
            consumer=sub.consumer,
            original_subject=raw.subject,
            original_headers=headers,
            original_data=text,
            reason=reason,
            deliveries=deliveries,
            failed_at=utcnow(),
        )
        seq = raw.metadata.sequence.stream if raw.metadata else 0
        original_id = headers.get(MSG_ID_HEADER, str(seq))
        event = new_event(
            domain="dlq",
            event=self.settings.service,
            county=self.county,
            source=f"fangpin/{self.settings.service}",
            data=letter,
            subject=original_id,
            event_id=f"dlq:{self.settings.service}:{sub.consumer}:{original_id}",
            correlation_id=current_correlation_id(),
        )
        await self.js.publish(
            dlq_subject(self.county, self.settings.service),
            event.model_dump_json().encode(),
            headers={**headers_for(event), "x-dlq-reason": reason[:200]},
        )

    @property
    def js(self) -> nats.js.JetStreamContext:
        return self.broker.connection.jetstream()

    async def connect(self) -> None:
        await self.broker.connect()
        await declare_streams(self.js, self.settings)

    async def start(self) -> None:
        await self.connect()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def publish(self, subject: str, event: CloudEvent) -> Any:
        """Publish directly (tests, the CLI, department systems); services use the outbox."""
        return await self.js.publish(
            subject, event.model_dump_json().encode(), headers=headers_for(event)
        )


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first.get("loc", ()))
    return f"{path}: {first.get('msg')}" if path else str(first.get("msg"))
