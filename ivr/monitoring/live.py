"""The live monitor's web side: the page, its server-sent events, the recorded answers.

Routes under ``/monitor/`` of the monitoring server (``ivr.monitoring.endpoints``): the page
(``static/monitor.html`` with its script and style; no build step, nothing fetched from
elsewhere), ``events`` (server-sent events: a ``snapshot`` of the board, then every change),
``state`` (the snapshot as JSON) and ``recordings/NAME`` (an answer's recording, when
``record_dir`` is set). With ``monitor_token`` set every one of them wants it, as
``Authorization: Bearer TOKEN`` or once as ``?token=TOKEN``, which sets a cookie (HttpOnly,
SameSite=Strict) for the page's own requests: the page itself never holds the token.

The sessions report to :class:`LiveMonitor`, which stamps the time, updates the board
(``ivr.monitoring.board``) and hands its messages to every page watching; a page that cannot
keep up is cut off (its browser reconnects and starts again from a snapshot).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from ivr.monitoring.board import CallBoard, Message
from ivr.monitoring.mermaid_asset import mermaid_script

log = logging.getLogger(__name__)

TALLY_INTERVAL = 1.0
"""Seconds at least between two sendings of the tallies (counted over all recent calls)."""
PAGE_QUEUE = 2000
"""Messages waiting for one page before it is taken for gone."""
KEEPALIVE = 15.0
"""Seconds between comments on an idle event stream (proxies close silent connections)."""
COOKIE = "speech_ivr_monitor"
ASSETS = {"monitor.html": "text/html", "monitor.js": "text/javascript", "monitor.css": "text/css"}
RECORDING_NAME = re.compile(r"^[A-Za-z0-9._-]+\.wav$")


class LiveMonitor:
    """What the calls report, onto the board and out to the pages (``call_started`` ...
    mirror :class:`CallBoard`'s methods without the time)."""

    def __init__(self, board: CallBoard, clock: Callable[[], float] = time.time) -> None:
        self.board = board
        self._clock = clock
        self._pages: set[asyncio.Queue[Message | None]] = set()
        self._tallied = float("-inf")  # when the tallies were last sent
        self._tally_timer: asyncio.TimerHandle | None = None

    def call_started(self, call_id: str, *, caller: str, flow: str) -> None:
        self._publish(self.board.call_started(call_id, caller=caller, flow=flow, now=self._clock()))

    def menu(self, call_id: str, menu: str) -> None:
        self._publish(self.board.menu(call_id, menu))

    def partial(self, call_id: str, words: str) -> None:
        self._publish(self.board.partial(call_id, words))

    def judged(self, call_id: str, *, menu: str, transcript: str, verdict: str, intent: str | None, score: float) -> None:
        self._publish(
            self.board.judged(call_id, menu=menu, transcript=transcript, verdict=verdict, intent=intent, score=score)
        )

    def call_ended(self, call_id: str, record: Mapping[str, Any]) -> None:
        self._publish(self.board.call_ended(call_id, record, now=self._clock()))
        if self._pages and self._tally_timer is None:
            wait = self._tallied + TALLY_INTERVAL - self._clock()
            self._tally_timer = asyncio.get_running_loop().call_later(max(0.0, wait), self._send_tallies)

    def _send_tallies(self) -> None:
        self._tally_timer = None
        self._tallied = self._clock()
        self._publish([self.board.tallies_message(self._tallied)])

    def snapshot(self) -> Message:
        return self.board.snapshot(self._clock())

    def watch(self) -> asyncio.Queue[Message | None]:
        """A queue of this monitor's messages for one page, until ``unwatch``."""
        queue: asyncio.Queue[Message | None] = asyncio.Queue(PAGE_QUEUE)
        self._pages.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[Message | None]) -> None:
        self._pages.discard(queue)

    def close(self) -> None:
        """End every page's stream."""
        if self._tally_timer is not None:
            self._tally_timer.cancel()
            self._tally_timer = None
        for queue in list(self._pages):
            self._cut_off(queue)

    def _publish(self, messages: list[Message]) -> None:
        for queue in list(self._pages):
            for message in messages:
                try:
                    queue.put_nowait(message)
                except asyncio.QueueFull:
                    log.info("a monitor page fell %d messages behind: cut off", PAGE_QUEUE)
                    self._cut_off(queue)
                    break

    def _cut_off(self, queue: asyncio.Queue[Message | None]) -> None:
        self._pages.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


def monitor_routes(
    app: web.Application, monitor: LiveMonitor, *, token: str | None, record_dir: Path | None
) -> None:
    """Add the monitor's routes to the monitoring server's application."""
    guard = _token_guard(token)

    async def page(_: web.Request) -> web.StreamResponse:
        return _asset("monitor.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        return _asset(request.match_info["name"])

    async def state(_: web.Request) -> web.StreamResponse:
        return web.json_response(monitor.snapshot(), dumps=_dumps)

    async def events(request: web.Request) -> web.StreamResponse:
        return await _events(request, monitor)

    async def recording(request: web.Request) -> web.StreamResponse:
        return _recording(request.match_info["name"], record_dir)

    app.router.add_get("/monitor", _redirect)
    app.router.add_get("/monitor/", guard(page))
    app.router.add_get("/monitor/static/{name}", guard(asset))
    app.router.add_get("/monitor/state", guard(state))
    app.router.add_get("/monitor/events", guard(events))
    app.router.add_get("/monitor/recordings/{name}", guard(recording))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _token_guard(token: str | None) -> Callable[[Handler], Handler]:
    def guard(handler: Handler) -> Handler:
        if token is None:
            return handler

        async def guarded(request: web.Request) -> web.StreamResponse:
            given = _given_token(request)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return web.Response(
                    status=401, text="the monitor wants its token\n", headers={"WWW-Authenticate": "Bearer"}
                )
            response = await handler(request)
            if "token" in request.query and not response.prepared:
                response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/monitor")
            return response

        return guarded

    return guard


def _given_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


async def _redirect(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/monitor/")


def _asset(name: str) -> web.StreamResponse:
    if name == "mermaid.min.js":  # fetched once by `speech-ivr fetch-mermaid`, if at all
        script = mermaid_script()
        if not script.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(script, headers={"Content-Type": "text/javascript"})
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(
        text=_static(name), content_type=content_type, charset="utf-8", headers={"Cache-Control": "no-cache"}
    )


@functools.cache
def _static(name: str) -> str:
    """A file of the page, read from the package once (not on the event loop at every load)."""
    return resources.files("ivr.monitoring").joinpath("static", name).read_text(encoding="utf-8")


async def _events(request: web.Request, monitor: LiveMonitor) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    queue = monitor.watch()
    try:
        await response.write(_event(monitor.snapshot()))
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": still here\n\n")
                continue
            if message is None:
                break
            await response.write(_event(message))
    except ConnectionResetError:
        pass  # the page went away
    finally:
        monitor.unwatch(queue)
    return response


def _recording(name: str, record_dir: Path | None) -> web.StreamResponse:
    if record_dir is None or not RECORDING_NAME.match(name) or not (record_dir / name).is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(record_dir / name, headers={"Content-Type": "audio/wav"})


def _event(message: Message) -> bytes:
    return f"event: {message['type']}\ndata: {_dumps(message)}\n\n".encode()


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
