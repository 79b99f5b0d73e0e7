"""The live shell around the hearing core: a tap's bytes in, dialog events out, decoding in threads.

Everything that decides what is heard is in ``ivr.hearing.core``; this shell only moves
data: it cuts the tap's bytes into frames and feeds them to the core, runs the recognizer
work the core asks for in a thread pool (Kaldi decoding blocks), hands the results back,
and turns what the core reports into ``SpeechStarted`` and ``Utterance`` events.

Two things need the wall clock, and only they: a continuous tap (a snoop sends zeros in
silence) that stops sending is broken (``stall_timeout``); a tap that sends nothing while no
audio reaches the channel (Wazo's stream-channel) is silent, not broken, so the time without
frames is fed to the core as silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

import vosk

from ivr.audio import FRAME_SECONDS, SAMPLE_RATE, SILENT_FRAME, AudioTap, Framer, TapError
from ivr.dialog.events import Event, SpeechStarted, Utterance
from ivr.hearing.core import (
    Abandon,
    Decode,
    Finish,
    HeardUtterance,
    HearingCore,
    Output,
    SpeechBegan,
)
from ivr.hearing.heard import Listening, Transcript
from ivr.speech.recognizer import GrammarRecognizer

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.1
GAP_TOLERANCE = 0.2
"""A non-continuous tap silent this long is taken to carry silence (beyond jitter)."""


class RecognizerError(RuntimeError):
    """The recognizer failed on this call's audio."""


class Listener:
    """Hears one call for as long as its tap flows (``run``); ``listen``/``stop`` as the
    dialog asks."""

    def __init__(
        self,
        tap: AudioTap,
        model: vosk.Model,
        emit: Callable[[Event], None],
        *,
        executor: Executor | None = None,
        stall_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = HearingCore()
        self._tap = tap
        self._model = model
        self._emit = emit
        self._executor = executor
        self._stall_timeout = stall_timeout
        self._clock = clock
        self._recognizers: dict[int, GrammarRecognizer] = {}
        self._abandoned: set[int] = set()
        self._work: asyncio.Task[None] | None = None
        self._failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._frames = 0
        self._started = clock()
        self._last_audio = self._started
        self._fed_at = self._started
        self.decode_seconds = 0.0
        """Time spent in the recognizer (its threads), for the real-time factor."""
        self.decoded_audio_seconds = 0.0
        """Seconds of audio the recognizer was given."""

    def listen(self, listening: Listening) -> None:
        self._perform(self.core.listen(listening))

    def stop(self) -> None:
        self._perform(self.core.stop())

    async def run(self) -> None:
        """Consume the audio until the stream ends. Returns when it does; raises the tap's
        ``TapError``, ``TapError`` if a continuous tap stalls, or ``RecognizerError``."""
        watchdog = asyncio.create_task(self._watch())
        reading = asyncio.create_task(self._read())
        try:
            done, _ = await asyncio.wait(
                [reading, watchdog, self._failed], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()
        finally:
            for task in (watchdog, reading, self._work):
                if task is not None:
                    task.cancel()
            await asyncio.gather(watchdog, reading, return_exceptions=True)
            self.stop()

    async def _read(self) -> None:
        framer = Framer()
        async for data in self._tap:
            self._last_audio = self._clock()
            for frame in framer.push(data):
                self._feed(frame)

    def _feed(self, frame: bytes) -> None:
        self._frames += 1
        self._fed_at = self._clock()
        self._perform(self.core.receive(frame))

    def _clock_time_of(self, position: float) -> float:
        """When the audio at ``position`` in the stream reached us: frames come in real time,
        so it is the last frame's arrival less the audio fed since (lone silences dropped by
        the core do not count in its positions)."""
        fed = (self._frames - self.core.lone_silences) * FRAME_SECONDS
        return self._fed_at - max(0.0, fed - position)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = self._clock()
            if self._stall_timeout is not None:
                if now - self._last_audio >= self._stall_timeout:
                    raise TapError(f"no audio for {now - self._last_audio:.1f} s")
            elif now - self._last_audio >= GAP_TOLERANCE:
                # Nothing reaches the channel: that is silence, for as long as it lasts.
                due = int((now - self._started - GAP_TOLERANCE / 2) / FRAME_SECONDS)
                for _ in range(due - self._frames):
                    self._feed(SILENT_FRAME)

    def _perform(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case SpeechBegan():
                    self._emit(SpeechStarted())
                case HeardUtterance(heard):
                    log.debug("heard %r (%.2f-%.2f s)", heard.transcript, heard.speech_start, heard.ended)
                    self._emit(Utterance(heard, self._clock_time_of(heard.speech_end)))
                case Decode() | Finish():
                    # The core hands out one piece of work at a time.
                    self._work = asyncio.create_task(self._recognize(output))
                case Abandon(utterance):
                    self._abandoned.add(utterance)
                    self._recognizers.pop(utterance, None)

    async def _recognize(self, work: Decode | Finish) -> None:
        loop = asyncio.get_running_loop()
        try:
            if isinstance(work, Decode):
                if work.vocabulary is not None:
                    recognizer = await loop.run_in_executor(
                        self._executor, GrammarRecognizer, self._model, work.vocabulary
                    )
                    if work.utterance not in self._abandoned:
                        self._recognizers[work.utterance] = recognizer
                recognizer = self._recognizers.get(work.utterance)
                began = self._clock()
                partial = "" if recognizer is None else await loop.run_in_executor(
                    self._executor, recognizer.accept, work.pcm
                )
                self.decode_seconds += self._clock() - began
                self.decoded_audio_seconds += len(work.pcm) / (2 * SAMPLE_RATE)
                self._perform(self.core.decoded(work.utterance, partial))
            else:
                recognizer = self._recognizers.pop(work.utterance, None)
                transcript = Transcript() if recognizer is None else await loop.run_in_executor(
                    self._executor, recognizer.finish
                )
                self._perform(self.core.finished(work.utterance, transcript))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._failed.done():
                self._failed.set_exception(RecognizerError(f"the recognizer failed: {exc!r}"))

