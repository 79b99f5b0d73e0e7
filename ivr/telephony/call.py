"""Call control of one caller channel over ARI, and its events turned into dialog events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

import aioari

from ivr.dialog.events import CallerHungUp, Event, KeyPressed, PromptFinished
from ivr.flow.model import Destination
from ivr.telephony.ari import is_gone
from ivr.telephony.router import AriEvent, EventRouter

log = logging.getLogger(__name__)

STOP_TIMEOUT = 2.0
"""How long to wait for Asterisk to confirm a stopped prompt before going on anyway."""


class AriCall:
    """The caller's channel: answer, play, stop, set variables, continue, hang up.

    Its ARI events arrive through the router and leave as dialog events through ``emit``.
    """

    def __init__(
        self, client: aioari.Client, router: EventRouter, channel: AriEvent, emit: Callable[[Event], None]
    ) -> None:
        self.client = client
        self.id: str = channel["id"]
        self.name: str = channel.get("name", self.id)
        self.gone = asyncio.Event()
        self._router = router
        self._emit = emit
        self._playing: dict[str, asyncio.Future[None]] = {}
        router.subscribe(self.id, self._on_event)

    def close(self) -> None:
        self._router.unsubscribe(self.id)

    def _on_event(self, event: AriEvent) -> None:
        kind = event.get("type")
        if kind == "PlaybackFinished":
            playback_id = event["playback"]["id"]
            finished = self._playing.pop(playback_id, None)
            if finished is not None and not finished.done():
                finished.set_result(None)
            self._emit(PromptFinished(playback_id))
        elif kind == "ChannelDtmfReceived":
            self._emit(KeyPressed(event["digit"]))
        elif kind == "StasisEnd":
            self.gone.set()
            self._emit(CallerHungUp())

    async def answer(self) -> None:
        await self.client.channels.answer(channelId=self.id)

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        """Play media URIs in a row as one playback, under our own id (its events may arrive
        before the POST answers)."""
        self._playing[playback_id] = asyncio.get_running_loop().create_future()
        await self.client.channels.play(channelId=self.id, media=",".join(media), playbackId=playback_id)

    async def stop_prompt(self, playback_id: str) -> None:
        """Stop a prompt and wait for its PlaybackFinished: until then, variables and
        continueInDialplan would wait behind it inside Asterisk."""
        finished = self._playing.get(playback_id)
        if finished is None:
            return
        try:
            await self.client.playbacks.stop(playbackId=playback_id)
        except Exception as exc:
            if not is_gone(exc):
                raise
            return  # it had just finished
        try:
            await asyncio.wait_for(asyncio.shield(finished), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("%s: prompt %s did not report its end", self.name, playback_id)

    async def stop_prompts(self) -> None:
        """Stop whatever plays (used when an error cuts the dialog short)."""
        for playback_id in list(self._playing):
            await self.stop_prompt(playback_id)

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        try:
            await self.client.channels.setChannelVars(channelId=self.id, variables=dict(variables))
        except AttributeError:  # an Asterisk older than 22.10 / 20.20 sets them one by one
            for name, value in variables.items():
                await self.client.channels.setChannelVar(channelId=self.id, variable=name, value=value)

    async def continue_in_dialplan(self, destination: Destination) -> None:
        await self.client.channels.continueInDialplan(
            channelId=self.id,
            context=destination.context,
            extension=destination.extension,
            priority=destination.priority,
        )

    async def hangup(self, reason: str = "normal") -> None:
        await self.client.channels.hangup(channelId=self.id, reason=reason)
