"""The Stasis application: one ARI connection, one task per call.

The events websocket is read here and every event handed to the router at once; each
caller gets its own ``CallSession`` task. On every (re)connection the app reconciles
what Asterisk has with what it knows: leftovers of its own (taps, snoops, bridges from a
crash or a lost connection) are deleted, callers stranded in ``Stasis(APP)`` (or handed to
it by ``StasisBroadcast``) by a previous run get a session, and sessions whose caller
vanished meanwhile are ended.

With ``broadcast`` set the app is a worker: it claims the calls ``StasisBroadcast()`` offers
(``CallBroadcast``) while it has room (``Admission.has_room``), each claim in a task of its
own; the winner's call then arrives like any other, with a StasisStart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Container
from concurrent.futures import ThreadPoolExecutor

import aioari
import aiohttp
from aiohttp import web_exceptions

from ivr.audio import AudioTap, TapError
from ivr.dialog.events import CallerHungUp, Event
from ivr.flow import FlowSet
from ivr.flow.compiled import CompiledFlow
from ivr.flow.model import Destination, Flow
from ivr.media.stream_channel import lingering_streams, streams_ended
from ivr.monitoring.board import CallBoard
from ivr.monitoring.endpoints import MonitoringServer, MonitoringUnavailable, Readiness
from ivr.monitoring.live import LiveMonitor
from ivr.monitoring.metrics import Metrics
from ivr.runtime.admission import Admission
from ivr.runtime.library import Catalog, FlowLibrary
from ivr.runtime.retention import prune
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.ari import AriRefused, AriUnavailable, connect, is_gone
from ivr.telephony.call import PROMPT_VARIABLE, AriCall
from ivr.telephony.router import AriEvent, EventRouter, caller_args, is_own_id, owned_by
from ivr.telephony.session import CallSession
from ivr.telephony.tap import TapOpener, tap_opener

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 60.0
RECONNECT_FIRST = 0.5
RECONNECT_CAP = 10.0
CLAIM_START_TIMEOUT = 5.0
"""Seconds a won claim waits for its call's StasisStart (it comes in milliseconds; a caller who
hung up meanwhile never sends one) before its reserved place is given back."""


def reconnect_delay(attempt: int, draw: Callable[[], float] = random.random) -> float:
    """Seconds to wait before connection attempt ``attempt`` (0 the first retry): doubling
    from RECONNECT_FIRST up to RECONNECT_CAP, each drawn between half and all of it, so that
    apps that lost Asterisk together do not all come back in the same instant."""
    ceiling = min(RECONNECT_CAP, RECONNECT_FIRST * 2 ** min(attempt, 16))
    return ceiling * (0.5 + draw() / 2)


DECODER_NICENESS = 10
"""How much lower than the app's the decoder threads' CPU priority is (Linux ``nice``)."""


def _yield_to_calls() -> None:
    """In a decoder thread: let the event loop, and Asterisk beside it, have the CPU first.

    At rush hour the cores are short, and with equal shares the decoder threads took the event
    loop's: it stalled up to 1.4 s (measured at 100 calls on 2 cores), and with it every
    call's set-up, prompt and audio. Decoding that waits only falls behind for a moment (its
    audio is queued, and what it decides does not depend on when); a stalled loop delays all.
    """
    with contextlib.suppress(OSError, AttributeError):  # not Linux: equal shares, as before
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + DECODER_NICENESS)


class SpeechIvrApp:
    def __init__(self, settings: Settings, flows: FlowSet, models: ModelStore) -> None:
        self.settings = settings
        self.models = models
        self.library = FlowLibrary(
            settings.flows_dir, settings.grammars_dir, models, settings.default_flow, flows
        )
        """The flows calls get: loaded by ``run``, replaced by ``reload``."""
        self.ready = asyncio.Event()
        """Set while the app is registered with Asterisk and taking calls."""
        self.router = EventRouter(self._on_call, self._on_broadcast if settings.broadcast else None)
        self._client: aioari.Client | None = None
        self._open_tap: TapOpener
        self._calls: dict[str, asyncio.Task[object]] = {}
        self._inboxes: dict[str, asyncio.Queue[Event]] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=settings.decode_threads or os.cpu_count() or 2,
            thread_name_prefix="vosk",
            initializer=_yield_to_calls,
        )
        self._sessions: dict[str, CallSession] = {}
        self.admission = Admission(settings.max_recognitions)
        self._claiming: dict[str, asyncio.Future[None]] = {}
        """Offered calls being claimed, until their StasisStart (which resolves the future)."""
        self._pruned = 0.0
        self._background: set[asyncio.Task[object]] = set()
        self.metrics = Metrics()
        self.metrics.active.set_function(lambda: len(self._calls))
        self.metrics.watch_backlog(lambda: [s.backlog_seconds for s in self._sessions.values()])
        self.monitoring: MonitoringServer | None = None
        """The /metrics, /healthz, /readyz and /monitor/ server, while ``run`` runs (``monitor_listen``)."""
        self.live = LiveMonitor(
            CallBoard(
                flows=self._flows,
                recording_url=None if settings.record_dir is None else (lambda name: f"recordings/{name}"),
            )
        )
        """The calls as the live monitor page shows them."""

    @property
    def catalog(self) -> Catalog | None:
        return self.library.catalog

    def _flows(self) -> dict[str, Flow]:
        """The flows calls get now, for the live monitor."""
        catalog = self.catalog
        return {} if catalog is None else {name: compiled.flow for name, compiled in catalog.flows.items()}

    @property
    def reloads(self) -> int:
        return self.library.reloads

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def idle(self) -> None:
        """Return once every call in progress has finished (and released what it held)."""
        while self._calls:
            await asyncio.wait(list(self._calls.values()))

    async def run(self) -> None:
        """Serve calls until cancelled, reconnecting whenever Asterisk goes away.

        When cancelled, calls in progress get a moment to finish (events still flow),
        then the rest are sent to their fallback.
        """
        await self._start_monitoring()
        try:
            await self._first_connection()
            await self.library.load()
        except BaseException:
            await self._stop_monitoring()
            raise
        serving = asyncio.create_task(self._serve_forever())
        watching = asyncio.create_task(self.library.watch()) if self.settings.watch_flows else None
        try:
            await asyncio.shield(serving)
        finally:
            if watching is not None:
                watching.cancel()
            await self._drain()
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            self._executor.shutdown(wait=False, cancel_futures=True)
            if self._client is not None:
                await self._client.close()
            await self._stop_monitoring()
            await self._end_lingering_streams()

    async def _end_lingering_streams(self) -> None:
        """Wazo's module keeps a routed call's stream open until its hangup, and quitting with
        a stream open would freeze that call: wait for them, up to ``shutdown_grace``."""
        waiting = lingering_streams()
        if waiting and not await streams_ended(self.settings.shutdown_grace):
            log.error(
                "quitting with %d stream-channel streams of routed calls still open: the "
                "module may freeze those calls (docs/wazo.md)", lingering_streams(),
            )

    def readiness(self) -> Readiness:
        catalog = self.catalog
        return Readiness(
            ari_connected=self.ready.is_set(),
            models_loaded=catalog is not None,
            flows_valid=catalog is not None and bool(catalog.flows),
        )

    async def _start_monitoring(self) -> None:
        listen = self.settings.monitor_listen
        if listen is None:
            return
        host, _, port = listen.rpartition(":")
        token = self.settings.monitor_token
        self.monitoring = MonitoringServer(
            self.metrics,
            self.readiness,
            host.strip("[]"),
            int(port),
            live=self.live,
            token=None if token is None else token.get_secret_value(),
            record_dir=self.settings.record_dir,
        )
        try:
            await self.monitoring.start()
        except OSError as exc:
            self.monitoring = None
            raise MonitoringUnavailable(f"monitor_listen {listen}: cannot listen there: {exc.strerror}") from None
        log.info("metrics and health on %s (metrics, healthz, readyz), live calls on %smonitor/", self.monitoring.url, self.monitoring.url)

    async def _stop_monitoring(self) -> None:
        if self.monitoring is not None:
            await self.monitoring.close()
            self.monitoring = None

    async def reload(self) -> bool:
        """Load the flows and grammars again (``FlowLibrary.reload``)."""
        return await self.library.reload()

    async def _first_connection(self) -> None:
        """Connect before the models load (seconds): a wrong password or a disabled ARI
        (:class:`AriRefused`) stops the app at once; Asterisk not up yet is left to retry."""
        try:
            await self._connect()
        except AriRefused:
            raise
        except AriUnavailable as exc:
            log.warning("ARI connection: %s; trying again", exc)

    async def _connect(self) -> aioari.Client:
        if self._client is None:
            self._client = await connect(self.settings)
            self._open_tap = tap_opener(self.settings, self._client, self.router)
        return self._client

    async def _serve_forever(self) -> None:
        attempt = 0
        served = False
        while True:
            try:
                await self._serve(await self._connect())
                served = True
                attempt = 0
            except AriRefused as exc:
                if not served:
                    raise  # refused from the start: a configuration error, not an outage
                log.warning("ARI connection: %s", exc)
            except (AriUnavailable, aiohttp.ClientError, OSError) as exc:
                log.warning("ARI connection: %s", exc)
            delay = reconnect_delay(attempt)
            attempt += 1
            log.info("connecting to ARI again in %.1f s", delay)
            await asyncio.sleep(delay)
            self.metrics.reconnects.inc()

    async def _serve(self, client: aioari.Client) -> None:
        ws = await client.swagger.events.eventWebsocket(app=self.settings.app)
        try:
            log.info("registered as ARI application %r at %s", self.settings.app, self.settings.ari_url)
            await self.reconcile()
            self.ready.set()
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self.router.dispatch_text(message.data)  # never raises: bad events are logged
            log.warning("ARI events websocket closed")
        finally:
            self.ready.clear()
            await ws.close()

    def _on_broadcast(self, event: AriEvent) -> None:
        """StasisBroadcast offers a call: claim it while there is room (``Admission.reserve``).
        A full or closing worker lets it go, to another worker or, when the broadcast times
        out, to the dialplan's fallback: never a caller waiting for a recognizer."""
        channel_id = event["channel"]["id"]  # the router passes on only events with one
        if channel_id in self._claiming or channel_id in self._calls:
            return
        delay = self.admission.claim_delay()
        if self._client is None or not self.admission.reserve():
            self.metrics.claims.labels(outcome="declined").inc()
            log.debug("%s offered: not claiming it (%d calls heard, closing: %s)", channel_id, self.admission.heard, self.admission.closing)
            return
        self._claiming[channel_id] = asyncio.get_running_loop().create_future()
        claiming = asyncio.create_task(self._claim(self._client, channel_id, delay), name=f"claim {channel_id}")
        self._background.add(claiming)
        claiming.add_done_callback(self._background.discard)

    async def _claim(self, client: aioari.Client, channel_id: str, delay: float) -> None:
        started = self._claiming[channel_id]
        try:
            await asyncio.sleep(delay)
            await client.events.claimChannel(channelId=channel_id, application=self.settings.app)
        except web_exceptions.HTTPException as exc:  # 409: another app won; 404: gone or over
            self.metrics.claims.labels(outcome="lost").inc()
            log.debug("%s: not claimed (HTTP %d)", channel_id, exc.status)
        except Exception as exc:
            self.metrics.claims.labels(outcome="lost").inc()
            log.warning("claiming %s failed: %r", channel_id, exc)
        else:
            self.metrics.claims.labels(outcome="won").inc()
            log.debug("%s: claimed", channel_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(started), CLAIM_START_TIMEOUT)
        finally:
            if self._claiming.pop(channel_id, None) is not None:  # no StasisStart came
                self.admission.unreserve()

    def _on_call(self, event: AriEvent) -> None:
        assert self._client is not None and self.catalog is not None
        catalog = self.catalog
        channel = event["channel"]
        claimed = self._claiming.pop(channel["id"], None)
        if claimed is not None:  # its place is there for admit() to take
            claimed.set_result(None)
            self.admission.unreserve()
        args = event.get("args") or []
        requested = args[0] if args else None
        inbox: asyncio.Queue[Event] = asyncio.Queue()
        call = AriCall(self._client, self.router, channel, inbox.put_nowait)
        flow = catalog.flow_for(requested)
        if self.admission.closing:
            self._track(call.id, asyncio.create_task(self._turn_away_closing(call, flow)))
            return
        if flow is None:
            self._track(call.id, asyncio.create_task(self._turn_away(call, requested)))
            return
        heard = self.admission.admit()
        if not heard:
            self.metrics.turned_away.labels(reason="overloaded").inc()
            if self.settings.overload_destination is not None:
                task = self._send_on(call, self.settings.overload_destination, flow, "at max_recognitions")
                self._track(call.id, asyncio.create_task(task))
                return
            log.warning("%s: max_recognitions (%d) reached: keys only", call.name, self.admission.limit)
        session = CallSession(
            call,
            inbox,
            flow,
            load_model=lambda: self.models.loaded(flow.language),
            open_tap=(lambda: self._open_tap(call.id)) if heard else _no_recognizer_free,
            executor=self._executor,
            record_dir=self.settings.record_dir,
            caller=(channel.get("caller") or {}).get("number", ""),
            watcher=self.live,
        )
        task = asyncio.create_task(session.run(), name=f"call {call.name}")
        task.add_done_callback(lambda _: self._count(session))
        if heard:
            task.add_done_callback(lambda _: self.admission.release())
        self._track(call.id, task)
        self._sessions[call.id] = session
        self._inboxes[call.id] = inbox

    def _count(self, session: CallSession) -> None:
        if session.record is not None:
            decode, audio = session.decoding
            self.metrics.observe_call(
                session.record, transport=self.settings.transport, decode_seconds=decode, audio_seconds=audio
            )
        self._prune_recordings()

    def _prune_recordings(self) -> None:
        """Keep ``record_dir`` within its age and size limits (checked at most once a minute)."""
        settings = self.settings
        now = time.time()
        if settings.record_dir is None or now - self._pruned < PRUNE_INTERVAL:
            return
        self._pruned = now
        max_age = None if settings.record_keep_days is None else settings.record_keep_days * 86400
        max_bytes = None if settings.record_max_mb is None else int(settings.record_max_mb * 1e6)
        pruning = asyncio.create_task(
            asyncio.to_thread(prune, settings.record_dir, now=now, max_age=max_age, max_bytes=max_bytes)
        )
        self._background.add(pruning)
        pruning.add_done_callback(self._background.discard)

    def _track(self, channel_id: str, task: asyncio.Task[object]) -> None:
        self._calls[channel_id] = task
        task.add_done_callback(lambda _: self._forget(channel_id))

    async def _turn_away(self, call: AriCall, requested: str | None) -> None:
        """A call for a flow that does not exist goes to ``unknown_flow`` with IVR_RESULT=error."""
        assert self.catalog is not None
        default = self.catalog.default
        destination = self.settings.unknown_flow or (default.fallback if default else None)
        known = ", ".join(self.catalog.flows)
        asked = f"flow {requested!r}" if requested else "the default flow (none is set)"
        self.metrics.turned_away.labels(reason="unknown flow").inc()
        try:
            if destination is None:
                log.error("%s asked for %s; flows: %s; hanging up", call.name, asked, known)
                await call.hangup()
                return
            log.error("%s asked for %s; flows: %s; sending it to %s", call.name, asked, known, destination)
            await call.set_variables({"IVR_RESULT": "error", "IVR_FLOW": requested or ""})
            await call.continue_in_dialplan(destination)
        except Exception as exc:
            if not is_gone(exc):
                log.error("%s could not be turned away: %r", call.name, exc)
        finally:
            call.close()

    def _forget(self, channel_id: str) -> None:
        self._calls.pop(channel_id, None)
        self._inboxes.pop(channel_id, None)
        self._sessions.pop(channel_id, None)

    async def _turn_away_closing(self, call: AriCall, flow: CompiledFlow | None) -> None:
        """While shutting down, a new call goes at once to ``shutdown_destination`` (by
        default its flow's fallback) with IVR_RESULT=error: no caller waits on a dialog that
        would be cut short."""
        assert self.catalog is not None
        default = self.catalog.default
        destination = self.settings.shutdown_destination or (flow or default or next(iter(self.catalog.flows.values()))).fallback
        self.metrics.turned_away.labels(reason="shutting down").inc()
        await self._send_on(call, destination, flow, "while shutting down")

    async def _send_on(self, call: AriCall, destination: Destination, flow: CompiledFlow | None, why: str) -> None:
        """Send a call on at once, without a dialog, with IVR_RESULT=error."""
        log.warning("%s arrived %s: sending it to %s", call.name, why, destination)
        try:
            await call.set_variables({"IVR_RESULT": "error", "IVR_FLOW": flow.name if flow else ""})
            await call.continue_in_dialplan(destination)
        except Exception as exc:
            if not is_gone(exc):
                log.error("%s could not be sent on: %r", call.name, exc)
        finally:
            call.close()

    async def reconcile(self) -> None:
        """Bring Asterisk's state and the app's in line (done on every connection): delete
        leftover taps, snoops and bridges, take back stranded callers, end vanished calls."""
        client = self._client
        assert client is not None, "not connected"
        channels = [c.json for c in await client.channels.list()]
        bridges = [b.json for b in await client.bridges.list()]
        present = {c["id"] for c in channels}
        in_use = self.router.owned()
        app = self.settings.app
        in_app = await self._channels_in_app(client, channels)
        for channel in channels:
            channel_id = channel["id"]
            if owned_by(channel_id, app):
                if channel_id not in in_use:
                    await _quietly(client.channels.hangup(channelId=channel_id))
            elif is_own_id(channel_id) or channel_id in self._calls:
                continue  # another speech-ivr app's tap, or a call in progress here
            elif (app_args := stranded_args(channel, app, in_app)) is not None:
                log.warning("%s was left in Stasis: taking it again", channel.get("name"))
                await self._stop_stale_prompt(client, channel_id)
                self._on_call({"type": "StasisStart", "channel": channel, "args": app_args})
        for bridge in bridges:
            if owned_by(bridge["id"], app) and bridge["id"] not in in_use:
                await _quietly(client.bridges.destroy(bridgeId=bridge["id"]))
        for channel_id, inbox in self._inboxes.items():
            if channel_id not in present:
                # Gone while we were away (Asterisk crashed, or its StasisEnd was lost).
                if (gone := self._sessions.get(channel_id)) is not None:
                    gone.call.gone.set()
                inbox.put_nowait(CallerHungUp())
            elif (session := self._sessions.get(channel_id)) is not None:
                await _quietly(session.call.resync())

    async def _stop_stale_prompt(self, client: aioari.Client, channel_id: str) -> None:
        """Stop the prompt a previous run left playing to a stranded caller (``PROMPT_VARIABLE``
        names it): the new session's requests would wait behind it inside Asterisk."""
        try:
            prompt = (await client.channels.getChannelVar(channelId=channel_id, variable=PROMPT_VARIABLE)).get("value")
        except web_exceptions.HTTPException:
            return  # no prompt was played, or the caller is gone
        if prompt:
            await _quietly(client.playbacks.stop(playbackId=prompt))

    async def _channels_in_app(self, client: aioari.Client, channels: list[AriEvent]) -> frozenset[str]:
        """The channels Asterisk counts in this app, when some channel is in a StasisBroadcast
        (whose dialplan does not name the app that claimed it); else none are needed."""
        if not any((c.get("dialplan") or {}).get("app_name") == BROADCAST_APP for c in channels):
            return frozenset()
        try:
            application = await client.applications.get(applicationName=self.settings.app)
        except web_exceptions.HTTPNotFound:
            return frozenset()
        return frozenset(application.get("channel_ids", []))  # aioari gives an Application as JSON

    async def _drain(self) -> None:
        """Stop taking calls into dialogs (and claiming offered ones), let calls in progress
        finish for up to ``shutdown_grace``, then send the rest to their fallback (their
        sessions are cancelled)."""
        self.admission.closing = True
        if not self._calls:
            return
        grace = self.settings.shutdown_grace
        log.info("shutting down: waiting up to %.0f s for %d calls to finish", grace, len(self._calls))
        _, pending = await asyncio.wait(list(self._calls.values()), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


BROADCAST_APP = "StasisBroadcast"


def stranded_args(channel: AriEvent, app: str, in_app: Container[str]) -> list[str] | None:
    """The arguments a caller left in this app by a previous run entered it with (its
    StasisStart's ``args``), or None when the channel is not such a caller.

    ``Stasis(APP,A,B)`` names the app in the channel's dialplan; ``StasisBroadcast(TIMEOUT,
    FILTER,A:B)`` does not name the app that claimed the call, so ``in_app`` (the channels
    Asterisk lists under this app) decides, and its arguments are colon-delimited."""
    dialplan = channel.get("dialplan") or {}
    name, data = dialplan.get("app_name"), str(dialplan.get("app_data", ""))
    if name == "Stasis":
        first, *args = data.split(",")
        return caller_args(args) if first == app else None
    if name == BROADCAST_APP and channel.get("id") in in_app:
        fields = data.split(",")
        return caller_args(fields[2].split(":")) if len(fields) > 2 and fields[2] else []
    return None


@contextlib.asynccontextmanager
async def serving(app: SpeechIvrApp, *, timeout: float = 60.0) -> AsyncIterator[SpeechIvrApp]:
    """Run the app in the background for the block, once it is registered with Asterisk.

    Raises what made the app fail to start, or TimeoutError if it did not register in time
    (the first start loads the speech models: seconds).
    """
    task = asyncio.create_task(app.run())
    ready = asyncio.create_task(app.ready.wait())
    try:
        await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED, timeout=timeout)
        if task.done():
            task.result()
        if not app.ready.is_set():
            raise TimeoutError(f"the app did not register with Asterisk within {timeout:.0f} s")
        yield app
    finally:
        ready.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _no_recognizer_free() -> AudioTap:
    raise TapError("no recognizer free (max_recognitions): keys only")


async def _quietly(request: object) -> None:
    try:
        await request  # type: ignore[misc]
    except Exception as exc:
        if not is_gone(exc):
            log.warning("cleanup request failed: %r", exc)
