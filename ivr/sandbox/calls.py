"""Test calls into the sandbox and what became of them, seen through ARI.

This is tooling for tests and the demo, separate from the IVR app: plain aiohttp, no aioari. A
`CallLab` places calls with ARI originate (the `;1` Local leg runs the `caller` context, which
"speaks" a sound file; the `;2` leg goes to the IVR) and records every ARI event through its own
observer app subscribed to everything. The observer has its own app name because a
`subscribeAll` connection for an app that still has a channel in Stasis stays
explicit-subscription only (verified), so it must not share the IVR's name.

The calls go to a `CallTarget`: the sandbox (`SandboxInfo`), or any Asterisk on this machine
whose dialplan has the `caller` context (`AriTarget`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import aiohttp
from pydantic import SecretStr

OBSERVER_APP = "speech-ivr-observer"
IVR_APP = "speech-ivr"
POLL_INTERVAL = 0.05

Event = dict[str, Any]


class CallTarget(Protocol):
    """An Asterisk that test calls are placed on (`SandboxInfo` is one).

    Its dialplan must have the `caller` context of the sandbox's `extensions.conf`.
    """

    @property
    def ari_url(self) -> str:
        """Asterisk's HTTP server, e.g. `http://127.0.0.1:8088/`."""
        ...

    @property
    def ari_headers(self) -> dict[str, str]:
        """The `Authorization` header for ARI requests and the events websocket."""
        ...

    @property
    def sounds_dir(self) -> Path:
        """A directory directly under Asterisk's sounds root, where callers' audio is put."""
        ...

    @property
    def log_file(self) -> Path | None:
        """Asterisk's log, named in timeout messages; None when unknown."""
        ...


@dataclass(frozen=True)
class AriTarget:
    """Any Asterisk on this machine, given by its ARI and its sounds directory."""

    ari_url: str
    ari_user: str
    ari_password: SecretStr
    sounds_dir: Path
    log_file: Path | None = None

    @property
    def ari_headers(self) -> dict[str, str]:
        credentials = f"{self.ari_user}:{self.ari_password.get_secret_value()}"
        return {"Authorization": f"Basic {b64encode(credentials.encode()).decode()}"}


def parse_timestamp(timestamp: str) -> float:
    """An ARI timestamp (`2026-11-24T22:08:06.537+0000`) as epoch seconds, like `time.time()`."""
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclass(frozen=True)
class ObservedEvent:
    """An ARI event and when the observer received it (`time.time()`)."""

    received: float
    data: Event


@dataclass(frozen=True)
class Arrival:
    """A call reaching a destination: the `IvrArrived` UserEvent of ivr-dest or ivr-fallback."""

    context: str
    extension: str
    variables: dict[str, str]  # Intent, Confidence, Transcript, Flow, Result ("" when unset)
    at: float  # Asterisk's event timestamp, epoch seconds

    @classmethod
    def from_event(cls, event: Event) -> Arrival:
        fields = dict(event["userevent"])
        fields.pop("eventname", None)
        return cls(
            context=fields.pop("Context"),
            extension=fields.pop("Exten"),
            variables=fields,
            at=parse_timestamp(event["timestamp"]),
        )


class CallLab:
    """Places test calls and watches them; use as `async with CallLab(info) as lab:`."""

    def __init__(self, info: CallTarget) -> None:
        self.info = info
        self.placed: list[PlacedCall] = []
        """Every call placed: the lab hangs up what is left of them when it closes."""
        self.events: list[ObservedEvent] = []
        self._changed = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._websocket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            headers=self.info.ari_headers,
            raise_for_status=True,
        )
        try:
            self._websocket = await self._session.ws_connect(
                self._url("events"), params={"app": OBSERVER_APP, "subscribeAll": "true"}
            )
            self._reader = asyncio.create_task(self._read_events(self._websocket))
            await self.wait_for_app(OBSERVER_APP)
        except BaseException:
            await self._session.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.end_calls()
        finally:
            if self._websocket is not None:
                await self._websocket.close()
        if self._reader is not None:
            await self._reader
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        *,
        speech: str | None = None,
        flow: str | None = None,
        endpoint: str | None = None,
        delay: float = 1.0,
        hold: float = 30.0,
        dtmf: str | None = None,
        hangup_after: float | None = None,
        formats: str = "slin16",
        variables: dict[str, str] | None = None,
    ) -> PlacedCall:
        """Place a call into the IVR: the default flow, the flow named `flow`, or any `endpoint`.

        The caller answers, waits `delay` s, plays the media `speech` (e.g. from `synthesize`),
        sends `dtmf` if given and holds the line `hold` s; with `hangup_after` it hangs up that
        many seconds after answering instead. `variables` are extra channel variables (a Local
        channel copies them to its `;2` leg, so the IVR side sees them too). `formats` matters:
        without it ARI gives the Local channel slin192 and 8 kHz files reach the IVR 6 dB quieter.
        """
        if endpoint is None:
            endpoint = f"Local/{flow}@ivr-flow" if flow else "Local/s@ivr-in"
        call_id = f"lab-{uuid.uuid4().hex[:12]}"
        channel_variables = {
            "CALLER_ID": call_id,
            "CALLER_DELAY": _seconds(delay),
            "CALLER_HOLD": _seconds(hold),
            "SPEECHFILE": speech or "",
            "CALLER_DTMF": dtmf or "",
            "CALLER_HANGUP_AFTER": "" if hangup_after is None else _seconds(hangup_after),
            **(variables or {}),
        }
        call = PlacedCall(self, call_id, f"{call_id}-ivr")
        self.placed.append(call)
        await self._request(
            "POST",
            "channels",
            params={
                "endpoint": endpoint,
                "context": "caller",
                "extension": "s",
                "priority": "1",
                "formats": formats,
                "channelId": call.id,
                "otherChannelId": call.other_id,
            },
            json={"variables": channel_variables},
        )
        return call

    async def end_calls(self, timeout: float = 10.0) -> None:
        """Hang up every leg of the calls placed that is still up, and wait until Asterisk has
        destroyed them: no call outlives the lab (so none outlives its test)."""
        present = {channel["id"] for channel in await self.channels()}
        legs = [leg for call in self.placed for leg in (call.id, call.other_id) if leg in present]
        for leg in legs:
            await self.hangup(leg)
        for leg in legs:
            await self.wait_for(_destroys(leg), timeout)

    async def channels(self) -> list[Event]:
        channels: list[Event] = await self._request("GET", "channels")
        return channels

    async def bridges(self) -> list[Event]:
        bridges: list[Event] = await self._request("GET", "bridges")
        return bridges

    async def wait_idle(self, timeout: float = 5.0) -> tuple[list[Event], list[Event]]:
        """Wait until no channel and no bridge is left; return what is left (empty when idle)."""
        deadline = time.monotonic() + timeout
        while True:
            channels, bridges = await self.channels(), await self.bridges()
            if (not channels and not bridges) or time.monotonic() >= deadline:
                return channels, bridges
            await asyncio.sleep(POLL_INTERVAL)

    def forget(self, call: PlacedCall) -> None:
        """Let go of a finished call and the events about it (a long soak would otherwise
        keep every event it saw)."""
        self.events[:] = [event for event in self.events if not call.concerns(event.data)]
        self.placed.remove(call)

    async def hangup(self, channel_id: str) -> None:
        """Hang up a channel; nothing happens when it is gone already."""
        try:
            await self._request("DELETE", f"channels/{channel_id}")
        except aiohttp.ClientResponseError as error:
            if error.status != 404:
                raise

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        """Set a channel variable, or a dialplan function such as ``TALK_DETECT(set)``."""
        await self._request(
            "POST", f"channels/{channel_id}/variable", params={"variable": variable, "value": value}
        )

    async def wait_for_app(self, name: str = IVR_APP, timeout: float = 5.0) -> None:
        """Wait until an ARI app of this name is registered (the IVR under test, before calling).

        A call that reaches `Stasis()` of an app that is not registered is hung up at once.
        """
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self._request("GET", f"applications/{name}")
                    return
                except aiohttp.ClientResponseError as error:
                    if error.status != 404:
                        raise
                await asyncio.sleep(POLL_INTERVAL)

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> Event:
        """The first observed event (past or future) that satisfies `predicate`."""

        def first() -> Event | None:
            return next((seen.data for seen in self.events if predicate(seen.data)), None)

        async with asyncio.timeout(timeout), self._changed:
            while (event := first()) is None:
                await self._changed.wait()
        return event

    async def _read_events(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in websocket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            self.events.append(ObservedEvent(received=time.time(), data=message.json()))
            async with self._changed:
                self._changed.notify_all()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._session is not None, "use CallLab as `async with CallLab(info) as lab`"
        async with self._session.request(method, self._url(path), **kwargs) as response:
            if response.status == 204:
                return None
            return await response.json()

    def _url(self, path: str) -> str:
        return f"{self.info.ari_url.rstrip('/')}/ari/{path}"


@dataclass
class PlacedCall:
    """One test call: `id` is the caller's `;1` leg, `other_id` the `;2` leg facing the IVR."""

    lab: CallLab = field(repr=False)
    id: str
    other_id: str

    @property
    def events(self) -> list[Event]:
        """The observed events that concern either leg of this call, in order."""
        return [seen.data for seen in self.lab.events if self.concerns(seen.data)]

    async def arrival(self, timeout: float = 30.0) -> Arrival:
        """Wait until the call reaches a destination context (`IvrArrived`)."""
        event = await self._wait_for(
            lambda event: _is_user_event(event, "IvrArrived") and self.concerns(event),
            timeout,
            "arrive at a destination (IvrArrived)",
        )
        return Arrival.from_event(event)

    async def speech_start(self, timeout: float = 30.0) -> float:
        """When the caller started to speak (the `CallerSpeechStart` timestamp, epoch seconds)."""
        return await self._caller_event_time("CallerSpeechStart", timeout)

    async def speech_end(self, timeout: float = 30.0) -> float:
        """When the caller finished speaking (the `CallerSpeechEnd` timestamp, epoch seconds)."""
        return await self._caller_event_time("CallerSpeechEnd", timeout)

    async def gone(self, timeout: float = 30.0) -> None:
        """Wait until both legs are destroyed."""
        for leg in (self.id, self.other_id):
            await self._wait_for(_destroys(leg), timeout, f"hang up leg {leg}")

    async def hangup(self) -> None:
        """The caller hangs up (nothing happens when the call is over already)."""
        await self.lab.hangup(self.id)

    async def _caller_event_time(self, name: str, timeout: float) -> float:
        event = await self._wait_for(
            lambda event: _is_user_event(event, name) and event["userevent"].get("Call") == self.id,
            timeout,
            f"send {name}",
        )
        return parse_timestamp(event["timestamp"])

    async def _wait_for(
        self, predicate: Callable[[Event], bool], timeout: float, what: str
    ) -> Event:
        try:
            return await self.lab.wait_for(predicate, timeout)
        except TimeoutError:
            log_file = self.lab.info.log_file
            where = f" (Asterisk log: {log_file})" if log_file is not None else ""
            raise TimeoutError(
                f"call {self.id} did not {what} within {timeout} s{where}; its events:\n"
                f"{self._summary()}"
            ) from None

    def concerns(self, event: Event) -> bool:
        return bool({self.id, self.other_id} & set(_channel_ids(event)))

    def _summary(self) -> str:
        lines = [_describe(event) for event in self.events]
        return "\n".join(lines) or "(none)"


def _is_user_event(event: Event, name: str) -> bool:
    return bool(event["type"] == "ChannelUserevent" and event["eventname"] == name)


def _destroys(channel_id: str) -> Callable[[Event], bool]:
    def predicate(event: Event) -> bool:
        return bool(event["type"] == "ChannelDestroyed" and event["channel"]["id"] == channel_id)

    return predicate


def _channel_ids(event: Event) -> list[str]:
    """Ids of the channels an event is about (`channel`, and `peer`/`caller` of Dial events)."""
    return [
        event[key]["id"]
        for key in ("channel", "peer", "caller")
        if isinstance(event.get(key), dict) and "id" in event[key]
    ]


def _describe(event: Event) -> str:
    """One line per event for timeout messages: time, type, channel name, the interesting part."""
    channel = event.get("channel") or event.get("peer") or {}
    if event["type"] == "ChannelDialplan":
        detail = f"{event['dialplan_app']}({event['dialplan_app_data']})"
    elif event["type"] == "ChannelVarset":
        detail = f"{event['variable']}={event['value']}"
    else:
        detail = (
            event.get("eventname")
            or event.get("dialstatus")
            or event.get("cause_txt")
            or channel.get("state", "")
        )
    line = f"  {event.get('timestamp', '?')} {event['type']} {channel.get('name', '')} {detail}"
    return line.rstrip()


def _seconds(value: float) -> str:
    return f"{value:g}"
