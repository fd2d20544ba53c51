"""Notify's runtime settings (env prefix `FANGPIN_NOTIFY_`) and the channels they enable."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fangpin_notify.adapters.channels import (
    ChannelSet,
    LogChannel,
    SmsGatewayChannel,
    SmtpEmailChannel,
    WebhookChannel,
)
from fangpin_notify.adapters.channels.base import Channel
from fangpin_notify.adapters.channels.email import SmtpSecurity
from fangpin_notify.domain.kinds import ChannelKind


class NotifySettings(BaseSettings):
    """Channel credentials and the rhythm of the background jobs.

    A channel is enabled only when configured: webhook with a secret, e-mail with an SMTP
    host and sender, SMS with a gateway URL and API key. The log channel is always on.
    """

    model_config = SettingsConfigDict(env_prefix="FANGPIN_NOTIFY_", extra="ignore")

    webhook_secret: SecretStr = SecretStr("")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)

    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = ""
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    sms_gateway_url: str = ""
    sms_api_key: SecretStr = SecretStr("")
    sms_api_key_header: str = "X-Api-Key"
    sms_timeout_seconds: float = Field(default=5.0, gt=0)
    sms_max_chars: int = Field(default=500, ge=10)

    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    delivery_batch: int = Field(default=100, ge=1)
    delivery_concurrency: int = Field(default=8, ge=1)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    # Reminders and the daily digest go out from this hour (China time) on, not at midnight.
    reminder_hour: int = Field(default=8, ge=0, le=23)
    default_locale: str = "zh-CN"

    @model_validator(mode="after")
    def _complete_channels(self) -> Self:
        if self.smtp_host and "@" not in self.smtp_sender:
            raise ValueError("smtp_sender: an e-mail address is required with smtp_host")
        if self.sms_gateway_url:
            if not self.sms_gateway_url.startswith(("http://", "https://")):
                raise ValueError("sms_gateway_url: not an http(s) URL")
            if not self.sms_api_key.get_secret_value():
                raise ValueError("sms_api_key: required with sms_gateway_url")
        return self

    def enabled_channels(self) -> list[ChannelKind]:
        kinds = [ChannelKind.LOG]
        if self.webhook_secret.get_secret_value():
            kinds.append(ChannelKind.WEBHOOK)
        if self.smtp_host:
            kinds.append(ChannelKind.EMAIL)
        if self.sms_gateway_url:
            kinds.append(ChannelKind.SMS)
        return kinds


def build_channels(settings: NotifySettings) -> ChannelSet:
    """The configured channels; close the HTTP ones with `close_channels` when done."""
    channels: dict[ChannelKind, Channel] = {ChannelKind.LOG: LogChannel()}
    secret = settings.webhook_secret.get_secret_value()
    if secret:
        channels[ChannelKind.WEBHOOK] = WebhookChannel(
            secret, timeout=settings.webhook_timeout_seconds
        )
    if settings.smtp_host:
        channels[ChannelKind.EMAIL] = SmtpEmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            username=settings.smtp_user or None,
            password=settings.smtp_password.get_secret_value() or None,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout_seconds,
        )
    if settings.sms_gateway_url:
        channels[ChannelKind.SMS] = SmsGatewayChannel(
            settings.sms_gateway_url,
            settings.sms_api_key.get_secret_value(),
            api_key_header=settings.sms_api_key_header,
            timeout=settings.sms_timeout_seconds,
            max_chars=settings.sms_max_chars,
        )
    return ChannelSet(channels)


async def close_channels(channels: ChannelSet) -> None:
    for kind in (ChannelKind.WEBHOOK, ChannelKind.SMS):
        channel = channels.get(kind)
        close = getattr(channel, "aclose", None)
        if close is not None:
            await close()
