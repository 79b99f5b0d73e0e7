"""One call over ARI: its channel and tap plugged into the shared runtime.

The dialog is run by ``ivr.runtime.conversation`` and heard by ``ivr.runtime.listener``,
as in the simulator; this shell adds what only a live call has. Every call that enters here
leaves to a destination, to the flow's fallback, or is hung up: an unexpected failure still
sends the caller to the fallback with ``IVR_RESULT=error`` (or hangs up when even that
fails), and whatever the call created (tap, recognizers, tasks) is released on every path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Protocol

import vosk

from ivr.audio import FRAME_SECONDS, AudioTap, TapError
from ivr.dialog.actions import Action, ContinueInDialplan, Judged, SetVariables
from ivr.dialog.engine import DialogEngine, Outcome, Result
from ivr.dialog.events import Event, TapFailed, Tick
from ivr.flow.compiled import CompiledFlow
from ivr.flow.model import Destination
from ivr.media.recording import RecordingTap, recording_path
from ivr.runtime.call_record import CallRecorder
from ivr.runtime.conversation import Conversation
from ivr.runtime.listener import Listener, RecognizerError
from ivr.telephony.ari import is_gone

log = logging.getLogger(__name__)
calls_log = logging.getLogger("ivr.calls")
"""One record per call (``ivr.runtime.call_record``), as the fields of one log record."""

TAP_DRAIN_TIMEOUT = 2.0
STALL_TIMEOUT = 3.0
"""A continuous tap silent this long is taken for broken."""


class CallControl(Protocol):
    id: str
    name: str
    gone: asyncio.Event

    async def ring(self) -> None: ...
    async def answer(self) -> None: ...
    async def play(self, playback_id: str, media: Sequence[str]) -> None: ...
    async def stop_prompt(self, playback_id: str) -> None: ...
    async def set_variables(self, variables: Mapping[str, str]) -> None: ...
    async def continue_in_dialplan(self, destination: Destination) -> None: ...
    async def hangup(self, reason: str = "normal") -> None: ...
    async def stop_prompts(self) -> None: ...
    async def resync(self) -> None:
        """Catch up with what happened while ARI's events could not arrive."""
        ...
    def close(self) -> None: ...


class Watcher(Protocol):
    """Who watches calls live (``ivr.monitoring.live.LiveMonitor``)."""

    def call_started(self, call_id: str, *, caller: str, flow: str) -> None: ...
    def menu(self, call_id: str, menu: str) -> None: ...
    def partial(self, call_id: str, words: str) -> None: ...
    def judged(
        self, call_id: str, *, menu: str, transcript: str, verdict: str, intent: str | None, score: float
    ) -> None: ...
    def call_ended(self, call_id: str, record: Mapping[str, object]) -> None: ...


class CallSession:
    def __init__(
        self,
        call: CallControl,
        inbox: asyncio.Queue[Event],
        flow: CompiledFlow,
        *,
        load_model: Callable[[], Awaitable[vosk.Model]],
        open_tap: Callable[[], Awaitable[AudioTap]],
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        record_dir: Path | None = None,
        caller: str = "",
        watcher: Watcher | None = None,
    ) -> None:
        self.call = call
        self.inbox = inbox
        self.engine = DialogEngine(flow, call_id=call.id)
        self._load_model = load_model
        self._open_tap = open_tap
        self._executor = executor
        self._clock = clock
        self._tap: AudioTap | None = None
        self._record_dir = record_dir
        self._listener: Listener | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._conversation: Conversation | None = None
        self._leaving = False  # the tap is being closed on purpose
        self._caller = caller
        self._watcher = watcher
        self.recorder = CallRecorder(
            call_id=call.id,
            caller=caller,
            flow=flow.name,
            started=clock(),
            recording=None if record_dir is None else recording_path(record_dir, call.id).stem,
        )
        self.record: dict[str, object] | None = None
        """The call's record, once it has ended."""

    @property
    def backlog_seconds(self) -> float:
        """Audio received but not yet decoded (0 when not hearing)."""
        return self._listener.core.backlog_seconds if self._listener is not None else 0.0

    @property
    def decoding(self) -> tuple[float, float]:
        """Seconds the recognizer spent, and seconds of audio it decoded, for this call."""
        if self._listener is None:
            return 0.0, 0.0
        return self._listener.decode_seconds, self._listener.decoded_audio_seconds

    async def run(self) -> Outcome | None:
        started = self._clock()
        if self._watcher is not None:
            self._watcher.call_started(self.call.id, caller=self._caller, flow=self.engine.flow.name)
        try:
            await self._converse()
        except asyncio.CancelledError:
            await self._rescue("the application is shutting down")
            self._log_record()
            raise
        except Exception as exc:
            if self.call.gone.is_set() or is_gone(exc):
                log.info("%s: left while %r", self.call.name, exc)
            else:
                log.exception("%s: failed", self.call.name)
                await self._rescue(repr(exc))
        finally:
            await self._release()
        self._log_record()
        outcome = self.engine.outcome
        if outcome is not None:
            log.info(
                "%s: %s after %.1fs%s%s",
                self.call.name,
                outcome.result.value,
                self._clock() - started,
                f" -> {outcome.destination}" if outcome.destination else "",
                f" ({outcome.intent}, score {outcome.score:.0f}, heard {outcome.transcript!r})"
                if outcome.transcript
                else "",
            )
        return outcome

    async def _converse(self) -> None:
        # The call is answered once its tap is up: before the answer the caller cannot
        # speak, so the first words are heard however long the tap takes under load (up to
        # seconds when a hundred calls arrive at once); the caller hears ringing meanwhile.
        for result in await asyncio.gather(self.call.ring(), self._start_hearing(), return_exceptions=True):
            if isinstance(result, BaseException):
                raise result
        await self.call.answer()
        self._conversation = Conversation(self.engine, self, self._listener, observe=self._observe)
        await self._conversation.start(self._clock())
        while not self.engine.finished:
            event = await self._next_event()
            now = self._clock()
            self.recorder.event(event, now)
            await self._conversation.handle(event, now)

    async def _start_hearing(self) -> None:
        """Open the tap and hear it; without a tap the dialog is told (``TapFailed``)."""
        model = await self._load_model()
        try:
            self._tap = await self._open_tap()
            if self._record_dir is not None:
                self._tap = RecordingTap(self._tap, recording_path(self._record_dir, self.call.id))
        except Exception as exc:
            log.error("%s: no audio: %s", self.call.name, exc)
            self.inbox.put_nowait(TapFailed(str(exc)))
        else:
            self._listener = Listener(
                self._tap,
                model,
                self.inbox.put_nowait,
                on_partial=None if self._watcher is None else functools.partial(self._watcher.partial, self.call.id),
                executor=self._executor,
                stall_timeout=STALL_TIMEOUT if self._tap.continuous else None,
            )
            self._listener_task = asyncio.create_task(self._hear())

    def _log_record(self) -> None:
        """Finish the call's record and log it (once) as one record of ``ivr.calls``."""
        if self.record is not None:
            return
        if self._conversation is not None and self._conversation.left:
            ended = "routed"
        elif self.call.gone.is_set():
            ended = "hung up"
        else:
            ended = "error"
        self.record = self.recorder.finish(self.engine.outcome, self._clock(), ended=ended)
        if self._record_dir is not None:
            self.record["recording"] = recording_path(self._record_dir, self.call.id).name
        calls_log.info("call %s %s", self.call.name, ended, extra={"call": self.record})
        if self._watcher is not None:
            self._watcher.call_ended(self.call.id, self.record)

    def _observe(self, action: Action) -> None:
        self.recorder.action(action, self._clock())
        if self._watcher is not None:
            self._watcher.menu(self.call.id, self.engine.menu_name)
        if isinstance(action, Judged):
            judgement = action.judgement
            if self._watcher is not None:
                self._watcher.judged(
                    self.call.id,
                    menu=action.menu,
                    transcript=judgement.transcript,
                    verdict=judgement.verdict.value,
                    intent=judgement.intent,
                    score=judgement.score,
                )
            log.info(
                "%s: menu %s heard %r: %s %s (score %.0f)",
                self.call.name,
                action.menu,
                judgement.transcript,
                judgement.verdict.value,
                judgement.intent or "",
                judgement.score,
            )

    async def _hear(self) -> None:
        """Hear the caller until the tap ends; however hearing ends, the tap is closed.

        Hearing that ended without a word to the dialog would leave the call deaf without
        knowing it (no switch to keys, no fallback), and the tap streaming to nobody.
        """
        assert self._listener is not None
        try:
            await self._listener.run()
        except (TapError, RecognizerError) as exc:
            self._hearing_failed(str(exc))
        except Exception as exc:
            log.debug("%s: hearing failed", self.call.name, exc_info=True)
            self._hearing_failed(f"hearing failed: {exc!r}")
        finally:
            if not self._leaving:
                with contextlib.suppress(Exception):
                    await self._close_tap()

    def _hearing_failed(self, cause: str) -> None:
        if not self._leaving:
            log.error("%s: cannot hear the caller: %s", self.call.name, cause)
            self.inbox.put_nowait(TapFailed(cause))

    async def _next_event(self) -> Event:
        deadline = self.engine.deadline
        timeout = None if deadline is None else max(0.0, deadline - self._clock())
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return Tick()

    # -- the conversation's call port -------------------------------------------------------

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        await self.call.play(playback_id, media)

    async def stop_prompt(self, playback_id: str) -> None:
        await self.call.stop_prompt(playback_id)

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        await self.call.set_variables(variables)

    async def leave(self, destination: Destination) -> None:
        # The snoop would keep listening in the dialplan: delete it as we leave.
        await asyncio.gather(self._close_tap(), self.call.continue_in_dialplan(destination))

    # -- endings ----------------------------------------------------------------------------

    async def _close_tap(self) -> None:
        self._leaving = True
        if self._tap is not None:
            await self._tap.close()

    async def _rescue(self, cause: str) -> None:
        """Send a call that is still here to the fallback, or hang it up."""
        left = self._conversation is not None and self._conversation.left
        if left or self.call.gone.is_set():
            return
        fallback = self.engine.flow.fallback
        log.error("%s: sending to the fallback %s after an error: %s", self.call.name, fallback, cause)
        self.recorder.note(f"sent to the fallback: {cause}")
        try:
            await self.call.stop_prompts()
            variables = {"IVR_RESULT": Result.ERROR.value, "IVR_FLOW": self.engine.flow.name}
            await self.call.set_variables(variables)
            self.recorder.action(SetVariables(tuple(variables.items())), self._clock())
            await asyncio.gather(self._close_tap(), self.call.continue_in_dialplan(fallback))
            self.recorder.action(ContinueInDialplan(fallback), self._clock())
            if self._conversation is not None:
                self._conversation.left = True
        except Exception as exc:
            if is_gone(exc):
                return
            log.error("%s: the fallback failed (%r); hanging up", self.call.name, exc)
            with contextlib.suppress(Exception):
                await self.call.hangup("normal")

    async def _release(self) -> None:
        """Free the tap, the listener and the call's event subscription, whatever happened."""
        with contextlib.suppress(Exception):
            await self._close_tap()
        if self._listener_task is not None:
            # The listener ends when Asterisk closes the deleted tap's socket.
            try:
                await asyncio.wait_for(self._listener_task, TAP_DRAIN_TIMEOUT)
            except (TimeoutError, Exception):
                self._listener_task.cancel()
        if self._listener is not None:
            core = self._listener.core
            self.recorder.audio(
                received=core.received * FRAME_SECONDS,
                lone_silences=core.lone_silences,
                worst_backlog=core.worst_backlog_seconds,
                decoded=self._listener.decoded_audio_seconds,
                decode_cpu=self._listener.decode_cpu_seconds,
            )
            if core.lone_silences:
                log.info("%s: %d lone frames of silence (a snoop's late frames) dropped", self.call.name, core.lone_silences)
        if isinstance(self._tap, RecordingTap):
            await self._tap.save(self.recorder.utterances())
        self.call.close()
