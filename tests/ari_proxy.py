"""A TCP proxy in front of the sandbox's HTTP port that can cut the app's ARI events
websocket while leaving its REST calls and media websockets alone: a lost ARI connection,
made on purpose."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class AriProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._events: set[asyncio.StreamWriter] = set()
        self.cuts = 0
        self.url = ""
        self._blocked_until = 0.0
        self.tasks: set[asyncio.Task[None]] = set()
        """The tasks relaying connections now (the test's own, not the app's)."""
        self.sockets = 0
        """The sockets open for the connections relayed now: two each (the app's side, Asterisk's)."""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._events):
                writer.close()
            await self._server.wait_closed()

    def block_events(self, seconds: float) -> int:
        """Cut the events websockets and refuse new ones for ``seconds``: the events Asterisk
        sends meanwhile are lost to the app. How many were cut."""
        self._blocked_until = asyncio.get_running_loop().time() + seconds
        return self.cut_events()

    def cut_events(self) -> int:
        """Close every events websocket now (both sides); how many were cut."""
        cut = list(self._events)
        for writer in cut:
            writer.transport.abort()
        self.cuts += len(cut)
        return len(cut)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self.tasks.add(relay)
        self.sockets += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            client_writer.close()
            self.sockets -= 1
            self.tasks.discard(relay)
            return
        self.sockets += 1
        pair = (client_writer, upstream_writer)

        def request(data: bytes) -> None:
            # aiohttp may send the websocket upgrade on a kept-alive REST connection
            if data.startswith(b"GET /ari/events"):
                self._events.update(pair)
                if asyncio.get_running_loop().time() < self._blocked_until:
                    self.cut_events()

        pipes = {
            asyncio.create_task(_pipe(client_reader, upstream_writer, request)),
            asyncio.create_task(_pipe(upstream_reader, client_writer)),
        }
        self.tasks.update(pipes)
        try:
            await asyncio.gather(*pipes)
        finally:
            self._events.difference_update(pair)
            for writer in pair:
                writer.close()
            self.sockets -= 2
            self.tasks.difference_update({relay, *pipes})


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Callable[[bytes], None] | None = None
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            if seen is not None:
                seen(data)
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def ari_proxy(upstream_port: int) -> AsyncIterator[AriProxy]:
    proxy = AriProxy(upstream_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
