"""Routes ARI events to whoever cares, without ever awaiting.

aioari awaits each listener before it dispatches the next event, so a listener that
waits for anything (an HTTP request, a prompt) delays every other call. The router is
synchronous: it only hands events to per-call sinks and resolves futures; the real
work happens in each call's own task.

It is also where what Asterisk sends is checked, so that nothing on the events websocket
can stop it, and every call with it: text that is not a JSON object, an event without a
type, or one whose ``channel`` has no id is dropped; a caller's StasisStart has its ``args``
made a short list of short strings (``caller_args``) before the app sees them; an event of
a type ARI does not define is passed on (a newer Asterisk) and named in the log once; a
sink that fails on an event is logged, and the next event goes on. Each cause is logged at
most once every ``COMPLAINT_INTERVAL`` seconds, with a count of the ones left unsaid.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

OWN_ID_PREFIX = "speech-ivr-"
"""Every channel and bridge the app creates has an id starting with this, so that after a
crash or a lost connection the leftovers can be recognized and cleaned up. After it come the
kind and a tag of the app's name (``speech-ivr-tap-1a2b3c4d-...``): apps that share an
Asterisk (workers) clean up their own leftovers, never another's taps."""

MAX_ARGS = 16
MAX_ARG_CHARS = 256
"""A StasisStart's app arguments (``Stasis(speech-ivr,FLOW)``) as the app sees them: the
first names a flow, and no flow name is longer; a dialplan that passes caller data
(``Stasis(speech-ivr,${CALLERID(name)})``) must not get it into logs and variables whole."""
COMPLAINT_INTERVAL = 60.0
EXAMPLE_CHARS = 200
MAX_UNKNOWN_TYPES = 100

ARI_EVENT_TYPES = frozenset(
    {
        "ApplicationMoveFailed", "ApplicationRegistered", "ApplicationReplaced",
        "ApplicationUnregistered", "BridgeAttendedTransfer", "BridgeBlindTransfer",
        "BridgeCreated", "BridgeDestroyed", "BridgeMerged", "BridgeVideoSourceChanged",
        "CallBroadcast", "CallClaimed", "ChannelCallerId", "ChannelConnectedLine",
        "ChannelCreated", "ChannelDestroyed", "ChannelDialplan", "ChannelDtmfReceived",
        "ChannelEnteredBridge", "ChannelHangupRequest", "ChannelHold", "ChannelLeftBridge",
        "ChannelStateChange", "ChannelTalkingFinished", "ChannelTalkingStarted",
        "ChannelToneDetected", "ChannelTransfer", "ChannelUnhold", "ChannelUserevent",
        "ChannelVarset", "ContactStatusChange", "DeviceStateChanged", "Dial",
        "EndpointStateChange", "MissingParams", "PeerStatusChange", "PlaybackContinuing",
        "PlaybackFinished", "PlaybackStarted", "RESTResponse", "RecordingFailed",
        "RecordingFinished", "RecordingStarted", "StasisEnd", "StasisStart",
        "TextMessageReceived",
    }
)
"""Every event type of Asterisk 22's ARI (its ``events.json``)."""

AriEvent = dict[str, Any]
Sink = Callable[[AriEvent], None]


def new_id(kind: str, app: str) -> str:
    """A new id for a channel or bridge the ARI app ``app`` creates."""
    return f"{OWN_ID_PREFIX}{kind}-{_app_tag(app)}-{uuid.uuid4().hex[:16]}"


def is_own_id(object_id: str) -> bool:
    """Was this channel or bridge made by a speech-ivr app (any)?"""
    return object_id.startswith(OWN_ID_PREFIX)


def owned_by(object_id: str, app: str) -> bool:
    """Was this channel or bridge made by the ARI app ``app``?"""
    return re.fullmatch(rf"{OWN_ID_PREFIX}[a-z]+-{_app_tag(app)}-[0-9a-f]+", object_id) is not None


def _app_tag(app: str) -> str:
    return hashlib.blake2s(app.encode(), digest_size=4).hexdigest()


def event_channel_id(event: AriEvent) -> str | None:
    """The channel an event is about (playback events name it in ``target_uri``), or None
    when it names none, or names it with anything but a non-empty string."""
    channel = event.get("channel")
    if isinstance(channel, dict):
        channel_id = channel.get("id")
        return channel_id if isinstance(channel_id, str) and channel_id else None
    playback = event.get("playback")
    if isinstance(playback, dict):
        kind, _, target = str(playback.get("target_uri", "")).partition(":")
        if kind == "channel" and target:
            return target
    return None


def caller_args(args: object) -> list[str]:
    """A StasisStart's ``args`` as the app may use them: at most ``MAX_ARGS`` strings of at
    most ``MAX_ARG_CHARS`` characters. (Asterisk sends a list of strings: any other item
    becomes an empty string, anything but a list no arguments.)"""
    if not isinstance(args, list):
        return []
    return [arg[:MAX_ARG_CHARS] if isinstance(arg, str) else "" for arg in args[:MAX_ARGS]]


class EventRouter:
    """StasisStart of a caller -> ``on_call``; StasisStart of our own channels -> their waiters;
    CallBroadcast (a call StasisBroadcast offers) -> ``on_broadcast``, when given; every other
    event about a channel -> that channel's sink."""

    def __init__(
        self, on_call: Callable[[AriEvent], None], on_broadcast: Callable[[AriEvent], None] | None = None
    ) -> None:
        self._on_call = on_call
        self._on_broadcast = on_broadcast
        self._expected: dict[str, asyncio.Future[AriEvent]] = {}
        self._owned: set[str] = set()
        self._sinks: dict[str, Sink] = {}
        self.monitors: list[Sink] = []
        """Callables that see every event first (metrics, tests); they must not block."""
        self._complain = _Complaints()
        self._unknown_types: set[str] = set()

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

    def dispatch_text(self, text: str | bytes) -> None:
        """Dispatch one message of the events websocket; what is not a JSON object is dropped."""
        try:
            event = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            self._complain("not JSON", f"{str(exc)[:80]}: {text[:EXAMPLE_CHARS]!r}")
            return
        if not isinstance(event, dict):
            self._complain("not a JSON object", event)
            return
        self.dispatch(event)

    def dispatch(self, event: AriEvent) -> None:
        """Hand one event to whoever it is for. Never raises (see the module docstring)."""
        kind = event.get("type")
        if not isinstance(kind, str):
            self._complain("no type", event)
            return
        self._check_type(kind)
        for monitor in self.monitors:
            self._deliver(monitor, event)
        channel_id = event_channel_id(event)
        if channel_id is None:
            if "channel" in event or kind == "StasisStart":
                self._complain("a channel without an id", event)
            return
        if kind == "CallBroadcast":
            if self._on_broadcast is not None:
                self._deliver(self._on_broadcast, event)
            return
        if kind == "StasisStart":
            future = self._expected.get(channel_id)
            if future is not None:
                if not future.done():
                    future.set_result(event)
            elif is_own_id(channel_id):
                log.info("ignoring StasisStart of a leftover own channel %s", channel_id)
            else:
                self._deliver(self._on_call, self._caller_start(event))
                return
        sink = self._sinks.get(channel_id)
        if sink is not None:
            self._deliver(sink, event)

    def _check_type(self, kind: str) -> None:
        if kind in ARI_EVENT_TYPES or kind in self._unknown_types:
            return
        if len(self._unknown_types) < MAX_UNKNOWN_TYPES:
            self._unknown_types.add(kind)
            log.info("an ARI event of a type this app does not know: %s (passed on)", _clip(kind))

    def _caller_start(self, event: AriEvent) -> AriEvent:
        """A caller's StasisStart with its ``args`` in shape (``caller_args``)."""
        args = caller_args(event.get("args", []))
        if args != event.get("args", []):
            self._complain("StasisStart args out of shape (cut to short strings)", event.get("args"))
            event = {**event, "args": args}
        return event

    def _deliver(self, sink: Sink, event: AriEvent) -> None:
        try:
            sink(event)
        except Exception as exc:
            log.error(
                "handling a %s event of channel %s failed: %r",
                _clip(str(event.get("type"))), event_channel_id(event), exc,
            )
            log.debug("the failure", exc_info=True)


class _Complaints:
    """One log line per cause at most every ``COMPLAINT_INTERVAL`` seconds, saying how many
    went unsaid since the last one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}

    def __call__(self, cause: str, example: object) -> None:
        now = self._clock()
        last = self._last.get(cause)
        if last is not None and now - last < COMPLAINT_INTERVAL:
            self._unsaid[cause] = self._unsaid.get(cause, 0) + 1
            return
        self._last[cause] = now
        unsaid = self._unsaid.pop(cause, 0)
        more = f" ({unsaid} more since the last one)" if unsaid else ""
        log.warning("ignoring an ARI event: %s: %s%s", cause, _clip(example), more)


def _clip(example: object) -> str:
    """An example on one short line: newlines and control characters escaped."""
    if isinstance(example, str):
        text = example
    else:
        try:
            text = json.dumps(example, default=repr)
        except (ValueError, RecursionError):
            text = f"a {type(example).__name__} nested too deeply to show"
    text = repr(text[: EXAMPLE_CHARS + 1])[1:-1]
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 3] + "..."
