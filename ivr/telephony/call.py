"""Call control of one caller channel over ARI, and its events turned into dialog events.

What reaches Asterisk from here is built only from ids (the channel's, our playbacks') and
from the flow's YAML (media, destinations, variable names): the only caller input that
leaves the app is in channel variable *values* (``IVR_TRANSCRIPT``: what was heard or keyed;
``IVR_FLOW`` of a call turned away: the dialplan's app argument), and every value goes
through ``variable_value`` first. Asterisk stores a value as it is and never evaluates it
again, but a dialplan that uses it in an application's arguments should still quote it
(``${QUOTE(${IVR_TRANSCRIPT})}`` or ``${FILTER(...)}``).
"""

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
MAX_VARIABLE_LENGTH = 256
"""Characters of a channel variable's value the app sets; the rest is cut off."""
DTMF_DIGITS = frozenset("0123456789*#ABCD")
"""The keys a ``ChannelDtmfReceived`` can carry; any other "digit" is dropped."""


def variable_value(value: object) -> str:
    """A channel variable's value as the app sets it: one line of printable text, at most
    ``MAX_VARIABLE_LENGTH`` characters, so that nothing heard or keyed can break a dialplan
    line, a CDR field or a log line. Each run of white space or of characters that are not
    printable (control characters, newlines, tabs, format characters, unassigned code
    points, line and paragraph separators) becomes one space, and the ends are trimmed;
    printable text, Korean and punctuation included, is kept as it is."""
    text = "".join(char if char.isprintable() else " " for char in str(value))
    return " ".join(text.split())[:MAX_VARIABLE_LENGTH].rstrip()


PROMPT_VARIABLE = "IVR_PROMPT"
"""The channel variable naming the prompt playing (its playback id). Inside Asterisk a
channel's commands wait behind its playback (a variable set, a continue): whoever takes the
call over after this app died (``ivr.telephony.rescue``) stops the prompt first. (Reading a
variable does not wait; setting one does, so it is set before the playback starts.)"""

class AriCall:
    """The caller's channel: answer, play, stop, set variables, continue, hang up.

    Its ARI events arrive through the router and leave as dialog events through ``emit``.
    """

    def __init__(
        self, client: aioari.Client, router: EventRouter, channel: AriEvent, emit: Callable[[Event], None]
    ) -> None:
        self.client = client
        self.id: str = channel["id"]
        self.name: str = str(channel.get("name") or self.id)
        self.gone = asyncio.Event()
        self._state = channel.get("state")
        self._router = router
        self._emit = emit
        self._playing: dict[str, asyncio.Future[None]] = {}
        router.subscribe(self.id, self._on_event)

    def close(self) -> None:
        self._router.unsubscribe(self.id)

    def _on_event(self, event: AriEvent) -> None:
        """An event about this channel; one that lacks what its type needs is logged and dropped."""
        kind = event.get("type")
        if kind == "PlaybackFinished":
            playback = event.get("playback")
            playback_id = playback.get("id") if isinstance(playback, dict) else None
            if not isinstance(playback_id, str):
                log.warning("%s: ignoring a PlaybackFinished without a playback id", self.name)
                return
            self._finished(playback_id)
        elif kind == "ChannelDtmfReceived":
            digit = event.get("digit")
            if not (isinstance(digit, str) and digit in DTMF_DIGITS):
                log.warning("%s: ignoring a DTMF event with digit %.20r", self.name, digit)
                return
            self._emit(KeyPressed(digit))
        elif kind == "StasisEnd":
            self.gone.set()
            self._emit(CallerHungUp())

    async def ring(self) -> None:
        """Let a caller not yet answered hear ringing (SIP 180) while the call is set up.
        An answered channel (a dialplan that answers before ``Stasis``) is left alone:
        there Asterisk would play a ringing tone into the call."""
        if self._state != "Ring":
            return
        try:
            await self.client.channels.ring(channelId=self.id)
        except Exception as exc:
            if is_gone(exc):
                raise
            log.warning("%s: could not indicate ringing: %r", self.name, exc)

    async def answer(self) -> None:
        await self.client.channels.answer(channelId=self.id)

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        """Play media URIs in a row as one playback, under our own id (its events may arrive
        before the POST answers), named first in the channel's ``PROMPT_VARIABLE``."""
        self._playing[playback_id] = asyncio.get_running_loop().create_future()
        await self.client.channels.setChannelVar(channelId=self.id, variable=PROMPT_VARIABLE, value=playback_id)
        await self.client.channels.play(channelId=self.id, media=",".join(media), playbackId=playback_id)

    def _finished(self, playback_id: str) -> None:
        finished = self._playing.pop(playback_id, None)
        if finished is not None and not finished.done():
            finished.set_result(None)
        self._emit(PromptFinished(playback_id))

    async def resync(self) -> None:
        """After the events connection was lost and made again: ARI does not replay the
        events sent meanwhile, so ask Asterisk about each prompt still taken as playing; one
        it no longer knows ended while we were away (a dialog waiting for its end would
        otherwise wait forever)."""
        for playback_id in list(self._playing):
            try:
                await self.client.playbacks.get(playbackId=playback_id)
            except Exception as exc:
                if not is_gone(exc):
                    raise
                log.info("%s: prompt %s ended while ARI was away", self.name, playback_id)
                self._finished(playback_id)

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
        """Set channel variables; every value goes through ``variable_value`` (the one place
        where what the app writes into the channel is made safe)."""
        safe = {name: variable_value(value) for name, value in variables.items()}
        cut = [name for name, value in safe.items() if len(value) == MAX_VARIABLE_LENGTH]
        if cut:
            log.info("%s: %s cut to %d characters", self.name, ", ".join(cut), MAX_VARIABLE_LENGTH)
        try:
            await self.client.channels.setChannelVars(channelId=self.id, variables=safe)
        except AttributeError:  # an Asterisk older than 22.10 / 20.20 sets them one by one
            for name, value in safe.items():
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
