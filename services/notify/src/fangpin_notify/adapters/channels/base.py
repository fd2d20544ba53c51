"""The channel protocol every delivery adapter implements, and a dispatcher by channel kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from fangpin_notify.domain.delivery import DeliveryResult
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.notices import Notice


@runtime_checkable
class Channel(Protocol):
    """Sends one notice once. Reports failure in the result (transient or permanent), never
    by raising, so the delivery state machine decides about retries."""

    kind: ChannelKind

    async def send(self, notice: Notice) -> DeliveryResult: ...


class ChannelSet:
    """The configured channels; a notice for an unconfigured channel fails permanently."""

    def __init__(self, channels: Mapping[ChannelKind, Channel]) -> None:
        for kind, channel in channels.items():
            if channel.kind is not kind:
                raise ValueError(f"channel for {kind} reports kind {channel.kind}")
        self._channels = dict(channels)

    def get(self, kind: ChannelKind) -> Channel | None:
        return self._channels.get(kind)

    async def send(self, notice: Notice) -> DeliveryResult:
        channel = self._channels.get(notice.channel)
        if channel is None:
            return DeliveryResult.permanent(f"no {notice.channel} channel configured")
        return await channel.send(notice)
