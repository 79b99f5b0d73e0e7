"""The caller's audio through ARI externalMedia over websocket, fed by a snoop.

Topology (verified on Asterisk 22): a ``spy=in`` snoop on the caller and the
externalMedia channel in a ``mixing`` bridge. The caller stays out of any bridge,
prompts played to the caller never reach the tap, DTMF does not leak into it, and the
snoop's own 20 ms timer gives a continuous stream (zeros in silence).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aioari

from ivr.media.websocket import MediaWebsocket
from ivr.telephony.ari import is_gone
from ivr.telephony.router import EventRouter, new_id

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0


class TapError(RuntimeError):
    pass


class SnoopTap:
    """An open tap. Iterate it for PCM; ``close()`` it (idempotent) when the call leaves."""

    def __init__(
        self, client: aioari.Client, router: EventRouter, ids: dict[str, str], media: MediaWebsocket
    ) -> None:
        self._client = client
        self._router = router
        self._ids = ids
        self._media = media
        self._closed = asyncio.Event()
        self._drained = asyncio.Event()

    @classmethod
    async def open(
        cls, client: aioari.Client, router: EventRouter, *, app: str, media_url: str, caller_id: str
    ) -> SnoopTap:
        ids = {"tap": new_id("tap"), "snoop": new_id("snoop"), "bridge": new_id("bridge")}
        started = [router.expect(ids["tap"]), router.expect(ids["snoop"])]
        router.claim(ids["bridge"])
        media: MediaWebsocket | None = None
        try:
            created = await asyncio.gather(
                client.channels.externalMedia(
                    channelId=ids["tap"],
                    app=app,
                    transport="websocket",
                    encapsulation="none",
                    connection_type="server",
                    format="slin16",
                ),
                client.channels.snoopChannel(
                    channelId=caller_id, spy="in", app=app, snoopId=ids["snoop"]
                ),
                client.bridges.create(type="mixing", bridgeId=ids["bridge"], name=ids["bridge"]),
                return_exceptions=True,  # let every request finish before cleaning up
            )
            for result in created:
                if isinstance(result, BaseException):
                    raise result
            tap = created[0]
            connection_id = tap.json["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
            # The tap's StasisStart only comes once we are connected: connect before waiting.
            media = await MediaWebsocket.connect(media_url, connection_id)
            await asyncio.wait_for(asyncio.gather(*started), SETUP_TIMEOUT)
            await client.bridges.addChannel(
                bridgeId=ids["bridge"], channel=f"{ids['snoop']},{ids['tap']}"
            )
        except BaseException as exc:
            await _delete(client, router, ids)
            if media is not None:
                await media.abort()
            if isinstance(exc, Exception):
                raise TapError(f"could not tap {caller_id}: {exc!r}") from exc
            raise
        return cls(client, router, ids, media)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for pcm in self._media:
                if not self._closed.is_set():
                    yield pcm
        finally:
            self._drained.set()

    async def close(self) -> None:
        """Delete the snoop, the tap channel and the bridge; Asterisk then closes the socket."""
        if self._closed.is_set():
            return
        self._closed.set()
        await _delete(self._client, self._router, self._ids)
        try:
            await asyncio.wait_for(self._drained.wait(), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("media websocket of %s did not close; aborting it", self._ids["tap"])
            await self._media.abort()


async def _delete(client: aioari.Client, router: EventRouter, ids: dict[str, str]) -> None:
    """Delete whatever of a tap exists; what is already gone is fine."""
    results = await asyncio.gather(
        client.channels.hangup(channelId=ids["snoop"]),
        client.channels.hangup(channelId=ids["tap"]),
        client.bridges.destroy(bridgeId=ids["bridge"]),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, Exception) and not is_gone(result):
            log.warning("tap cleanup failed: %r", result)
    for object_id in ids.values():
        router.release(object_id)
