"""Delivery channels of notify: outbox/log, webhook, e-mail (SMTP) and SMS gateway."""

from fangpin_notify.adapters.channels.base import Channel, ChannelSet
from fangpin_notify.adapters.channels.email import SmtpEmailChannel
from fangpin_notify.adapters.channels.log import LogChannel
from fangpin_notify.adapters.channels.retry import attempt_delivery, deliver_with_retries
from fangpin_notify.adapters.channels.sms import SmsGatewayChannel
from fangpin_notify.adapters.channels.webhook import WebhookChannel, sign, verify_signature

__all__ = [
    "Channel",
    "ChannelSet",
    "LogChannel",
    "SmsGatewayChannel",
    "SmtpEmailChannel",
    "WebhookChannel",
    "attempt_delivery",
    "deliver_with_retries",
    "sign",
    "verify_signature",
]
