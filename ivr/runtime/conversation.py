"""One call's dialog: the engine fed events, its actions carried out through the call's ports.

The ARI session (``ivr.telephony.session``) and the simulator (``ivr.simulate``) both run
calls through ``Conversation``; they differ only in the ports: a real channel and tap, or a
simulated call on a simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ivr.dialog.actions import (
    Action,
    ContinueInDialplan,
    Listen,
    Play,
    SetVariables,
    StopListening,
    StopPrompt,
)
from ivr.dialog.engine import DialogEngine
from ivr.dialog.events import Event
from ivr.flow.model import Destination
from ivr.hearing.heard import Listening


class CallPort(Protocol):
    """What the dialog does to the caller's channel."""

    async def play(self, playback_id: str, media: Sequence[str]) -> None: ...
    async def stop_prompt(self, playback_id: str) -> None: ...
    async def set_variables(self, variables: Mapping[str, str]) -> None: ...
    async def leave(self, destination: Destination) -> None:
        """Continue in the dialplan at ``destination`` (and stop tapping the caller)."""
        ...


class Ears(Protocol):
    """Hearing the caller: a shell around ``ivr.hearing.core.HearingCore``."""

    def listen(self, listening: Listening) -> None: ...
    def stop(self) -> None: ...


class Conversation:
    """Feed it the call's events with their time; it performs what the engine asks."""

    def __init__(
        self,
        engine: DialogEngine,
        call: CallPort,
        ears: Ears | None,
        *,
        observe: Callable[[Action], None] | None = None,
    ) -> None:
        self.engine = engine
        self.call = call
        self.ears = ears
        """None when the caller cannot be heard (no tap): the engine is told ``TapFailed``."""
        self._observe = observe
        self.left = False
        """The call has been sent to a destination."""

    async def start(self, now: float) -> None:
        await self._perform(self.engine.start(now))

    async def handle(self, event: Event, now: float) -> None:
        await self._perform(self.engine.handle(event, now))

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if self._observe is not None:
                self._observe(action)
            match action:
                case Play(playback_id, media):
                    await self.call.play(playback_id, media)
                case StopPrompt(playback_id):
                    await self.call.stop_prompt(playback_id)
                case Listen(listening) if self.ears is not None:
                    self.ears.listen(listening)
                case StopListening() if self.ears is not None:
                    self.ears.stop()
                case SetVariables():
                    await self.call.set_variables(action.as_dict())
                case ContinueInDialplan(destination):
                    await self.call.leave(destination)
                    self.left = True
