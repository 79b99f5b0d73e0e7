"""Routes ARI events to whoever cares, without ever awaiting.

aioari awaits each listener before it dispatches the next event, so a listener that
waits for anything (an HTTP request, a prompt) delays every other call. The router is
synchronous: it only hands events to per-call sinks and resolves futures; the real
work happens in each call's own task.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

OWN_ID_PREFIX = "speech-ivr-"
"""Every channel and bridge the app creates has an id starting with this, so that after a
crash or a lost connection the leftovers can be recognized and cleaned up."""

AriEvent = dict[str, Any]
Sink = Callable[[AriEvent], None]


def new_id(kind: str) -> str:
    return f"{OWN_ID_PREFIX}{kind}-{uuid.uuid4().hex[:16]}"


def is_own_id(object_id: str) -> bool:
    return object_id.startswith(OWN_ID_PREFIX)


def event_channel_id(event: AriEvent) -> str | None:
    """The channel an event is about (playback events name it in ``target_uri``)."""
    channel = event.get("channel")
    if isinstance(channel, dict):
        return channel.get("id")
    playback = event.get("playback")
    if isinstance(playback, dict):
        kind, _, target = str(playback.get("target_uri", "")).partition(":")
        if kind == "channel":
            return target
    return None


class EventRouter:
    """StasisStart of a caller -> ``on_call``; StasisStart of our own channels -> their waiters;
    every other event about a channel -> that channel's sink."""

    def __init__(self, on_call: Callable[[AriEvent], None]) -> None:
        self._on_call = on_call
        self._expected: dict[str, asyncio.Future[AriEvent]] = {}
        self._owned: set[str] = set()
        self._sinks: dict[str, Sink] = {}
        self.monitors: list[Sink] = []
        """Callables that see every event first (metrics, tests); they must not block."""

    def claim(self, object_id: str) -> None:
        """Mark a channel or bridge as the app's own and in use, until ``release``."""
        self._owned.add(object_id)

    def expect(self, channel_id: str) -> asyncio.Future[AriEvent]:
        """Claim a channel the app is about to create; the future resolves on its StasisStart.

        Claim it *before* the request that creates it: its StasisStart may arrive before
        the response does.
        """
        self.claim(channel_id)
        future = asyncio.get_running_loop().create_future()
        self._expected[channel_id] = future
        return future

    def release(self, object_id: str) -> None:
        self._owned.discard(object_id)
        future = self._expected.pop(object_id, None)
        if future is not None and not future.done():
            future.cancel()

    def owned(self) -> frozenset[str]:
        """Own channels and bridges in use: the ones a cleanup sweep must spare."""
        return frozenset(self._owned)

    def subscribe(self, channel_id: str, sink: Sink) -> None:
        self._sinks[channel_id] = sink

    def unsubscribe(self, channel_id: str) -> None:
        self._sinks.pop(channel_id, None)

    def dispatch(self, event: AriEvent) -> None:
        for monitor in self.monitors:
            monitor(event)
        channel_id = event_channel_id(event)
        if channel_id is None:
            return
        if event.get("type") == "StasisStart":
            future = self._expected.get(channel_id)
            if future is not None:
                if not future.done():
                    future.set_result(event)
            elif is_own_id(channel_id):
                log.info("ignoring StasisStart of a leftover own channel %s", channel_id)
            else:
                self._on_call(event)
                return
        sink = self._sinks.get(channel_id)
        if sink is not None:
            sink(event)
