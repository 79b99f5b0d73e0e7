"""Getting the caller's audio: one way per transport, one interface for the session.

externalMedia taps (websocket, RTP, AudioSocket) use the verified topology: a ``spy=in``
snoop on the caller and the externalMedia channel in a ``mixing`` bridge. The caller stays
out of any bridge, prompts played to the caller never reach the tap, DTMF does not leak
into it, and the snoop's own 20 ms timer gives a continuous stream (zeros in silence; the frame of silence
it inserts when the caller's frame comes late is taken out by hearing, ``ivr.hearing.gaps``).
Wazo's stream-channel needs no Asterisk objects: the module streams the channel itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aioari

from ivr.audio import TapError
from ivr.media.audiosocket import AudioSocketEndpoint
from ivr.media.external_media import MediaEndpoint
from ivr.media.rtp import RtpEndpoint
from ivr.media.stream_channel import StreamChannelTap
from ivr.media.websocket import WebsocketEndpoint
from ivr.settings import Settings
from ivr.telephony.ari import is_gone
from ivr.telephony.router import EventRouter, new_id

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 5.0


class ExternalMediaTap:
    """An open externalMedia tap. Iterate it for PCM; ``close()`` it (idempotent) when the call leaves."""

    continuous = True
    """The snoop sends frames in silence too: a stream that stalls is broken."""

    def __init__(
        self, client: aioari.Client, router: EventRouter, ids: dict[str, str], endpoint: MediaEndpoint
    ) -> None:
        self._client = client
        self._router = router
        self._ids = ids
        self._endpoint = endpoint
        self._closed = False

    @classmethod
    async def open(
        cls,
        client: aioari.Client,
        router: EventRouter,
        *,
        app: str,
        caller_id: str,
        endpoint: MediaEndpoint,
    ) -> ExternalMediaTap:
        ids = {kind: new_id(kind, app) for kind in ("tap", "snoop", "bridge")}
        started = [router.expect(ids["tap"]), router.expect(ids["snoop"])]
        router.claim(ids["bridge"])
        try:
            created = await asyncio.gather(
                client.channels.externalMedia(channelId=ids["tap"], app=app, **endpoint.params()),
                client.channels.snoopChannel(channelId=caller_id, spy="in", app=app, snoopId=ids["snoop"]),
                client.bridges.create(type="mixing", bridgeId=ids["bridge"], name=ids["bridge"]),
                return_exceptions=True,  # let every request finish before cleaning up
            )
            for result in created:
                if isinstance(result, BaseException):
                    raise result
            await endpoint.attach(created[0].json)
            await asyncio.wait_for(asyncio.gather(*started), SETUP_TIMEOUT)
            await client.bridges.addChannel(bridgeId=ids["bridge"], channel=f"{ids['snoop']},{ids['tap']}")
        except BaseException as exc:
            await _delete(client, router, ids)
            await endpoint.release()
            if isinstance(exc, Exception):
                raise TapError(f"could not tap {caller_id}: {exc!r}") from exc
            raise
        return cls(client, router, ids, endpoint)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for pcm in self._endpoint:
            if not self._closed:
                yield pcm
        if not self._closed:
            raise TapError("the tap's media stream ended")

    async def close(self) -> None:
        """Delete the snoop, the tap channel and the bridge, then let the stream end."""
        if self._closed:
            return
        self._closed = True
        await _delete(self._client, self._router, self._ids)
        await self._endpoint.release()


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


TapOpener = Callable[[str], Awaitable[Any]]


def tap_opener(settings: Settings, client: aioari.Client, router: EventRouter) -> TapOpener:
    """How this configuration taps a caller (``settings.transport``)."""

    async def still_in_stasis(channel_id: str) -> bool:
        try:
            channel = await client.channels.get(channelId=channel_id)
        except Exception as exc:
            if is_gone(exc):
                return False
            raise
        return channel.json.get("dialplan", {}).get("app_name") == "Stasis"

    async def open_tap(caller_id: str) -> Any:
        endpoint: MediaEndpoint
        match settings.transport:
            case "stream-channel":
                try:
                    return await StreamChannelTap.open(
                        settings.stream_url, caller_id, still_here=lambda: still_in_stasis(caller_id)
                    )
                except OSError as exc:
                    raise TapError(f"could not stream {caller_id}: {exc!r}") from exc
            case "websocket":
                endpoint = WebsocketEndpoint(settings.media_url, call=caller_id)
            case "rtp":
                endpoint = await RtpEndpoint.bind(settings.media_host, call=caller_id)
            case "audiosocket":
                endpoint = await AudioSocketEndpoint.listen(settings.media_host, call=caller_id)
        return await ExternalMediaTap.open(client, router, app=settings.app, caller_id=caller_id, endpoint=endpoint)

    return open_tap
