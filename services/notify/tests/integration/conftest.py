"""Real local endpoints for the channel tests (a scripted HTTP server, an SMTP server) and
notify's migrated store."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from fangpin_kit import migrations
from fangpin_kit.db import Database
from fangpin_notify.adapters.orm import MIGRATIONS, metadata
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice
from fangpin_notify.domain.parameters import NotifyParameters


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedHTTPServer(ThreadingHTTPServer):
    """Answers POSTs with the scripted replies in order, then with `default`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[Reply] = []
        self.default = Reply(200, {"Content-Type": "application/json"}, b'{"id": "gw-1"}')
        self.received: list[Received] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def queue(
        self, *statuses: int, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        """Answer the next requests with these statuses, in order."""
        self.script.extend(Reply(s, dict(headers or {}), b"", delay) for s in statuses)

    def always(self, status: int) -> None:
        """Answer every request not scripted by `queue` with this status."""
        self.default = Reply(status)

    def next_reply(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else self.default


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedHTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(Received(self.path, dict(self.headers.items()), body))
        reply = self.server.next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_endpoint() -> Iterator[ScriptedHTTPServer]:
    server = ScriptedHTTPServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class RecordingSMTPHandler:
    """Keeps accepted mail; refuses listed recipients (550) and fails DATA as scripted."""

    def __init__(self) -> None:
        self.accepted: list[Envelope] = []
        self.refuse: set[str] = set()
        self.data_replies: list[str] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.accepted.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    return free_port()


@dataclass
class SMTPEndpoint:
    host: str
    port: int
    handler: RecordingSMTPHandler


@pytest.fixture
def smtp_endpoint() -> Iterator[SMTPEndpoint]:
    # aiosmtpd's server thread logs connection chatter at INFO, sometimes after pytest has
    # closed the captured stream ("I/O operation on closed file"): keep only its warnings
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = RecordingSMTPHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SMTPEndpoint("127.0.0.1", port, handler)
    controller.stop()


class FakeTime:
    """A clock that only moves when the code under test sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 5, 9, 0, tzinfo=UTC)
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def params() -> NotifyParameters:
    return NotifyParameters(
        reminder_lead_days=2,
        escalation_after_days=1,
        digest_threshold=5,
        retry_max_attempts=3,
        retry_backoff_base_seconds=30,
        retry_backoff_max_seconds=3600,
    )


@pytest.fixture
def make_notice() -> Callable[..., Notice]:
    def make(channel: ChannelKind, address: str, **overrides: Any) -> Notice:
        fields: dict[str, Any] = {
            "notice_id": "7d3c0a4e-0000-5000-8000-000000000001",
            "dedupe_key": "evt-1|li",
            "kind": "visit_due",
            "recipient_id": "li",
            "channel": channel,
            "address": address,
            "subject": "【走访提醒】请按时走访农户H0001",
            "body": "请于2024年6月7日前入户走访。\n联系电话：138****5678",
            "locale": "zh-CN",
            "created_at": datetime(2024, 6, 5, 9, 0, tzinfo=UTC),
            "household_id": "H0001",
            "source_event": "evt-1",
        }
        return Notice(**(fields | overrides))

    return make


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """Notify's store migrated to head, on SQLite and (when reachable) PostgreSQL."""
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()
