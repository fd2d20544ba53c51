"""E-mail channel: SMTP through the standard library, run in a worker thread, UTF-8 throughout."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from enum import StrEnum

from fangpin_notify.domain.delivery import DeliveryResult
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


def _result_for_code(code: int, detail: str) -> DeliveryResult:
    """SMTP 5xx is a permanent refusal, anything else (4xx, dropped link) is worth a retry."""
    if code >= 500:
        return DeliveryResult.permanent(detail)
    return DeliveryResult.transient(detail)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class SmtpEmailChannel:
    """Sends the notice as a plain-text UTF-8 mail to its address (one connection per mail)."""

    kind = ChannelKind.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        security: SmtpSecurity = SmtpSecurity.NONE,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if "@" not in sender:
            raise ValueError("sender must be an e-mail address")
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._security = SmtpSecurity(security)
        self._timeout = timeout
        self._ssl_context = ssl_context

    def build_message(self, notice: Notice) -> EmailMessage:
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["Subject"] = notice.subject
        msg["From"] = self._sender
        msg["To"] = notice.address
        msg["Message-ID"] = f"<{notice.notice_id}@{self._sender.rsplit('@', 1)[1]}>"
        if notice.created_at.tzinfo is not None:
            msg["Date"] = format_datetime(notice.created_at)
        msg["X-Fangpin-Notice-Id"] = notice.notice_id
        msg["X-Fangpin-Kind"] = notice.kind
        msg["Content-Language"] = notice.locale
        msg.set_content(notice.body, charset="utf-8")
        return msg

    def _send_blocking(self, msg: EmailMessage) -> None:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._security is SmtpSecurity.SSL:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._security is SmtpSecurity.STARTTLS:
                smtp.starttls(context=context)
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(msg)

    async def send(self, notice: Notice) -> DeliveryResult:
        try:
            msg = self.build_message(notice)
        except ValueError as exc:  # e.g. a line break in a header: resending cannot help
            return DeliveryResult.permanent(f"smtp: cannot build the message: {exc}")
        try:
            await asyncio.to_thread(self._send_blocking, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            return _result_for_code(code, f"smtp: recipient refused: {code} {_text(reply)}")
        except smtplib.SMTPResponseException as exc:
            detail = f"smtp: {type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
            return _result_for_code(exc.smtp_code, detail)
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult.permanent(f"smtp: not supported by the server: {exc}")
        except (smtplib.SMTPException, OSError) as exc:  # dropped link, refused, timeout
            return DeliveryResult.transient(f"smtp: {type(exc).__name__}: {exc}")
        return DeliveryResult.delivered("smtp accepted", provider_ref=msg["Message-ID"])
