"""The live shell around the hearing core: a tap's bytes in, dialog events out, decoding in threads.

Everything that decides what is heard is in ``ivr.hearing.core`` and ``ivr.hearing.decoding``;
this shell only moves data: it cuts the tap's bytes into frames and feeds them to the core,
runs the recognizer work the core asks for in the decoder threads (Kaldi decoding blocks),
hands the results back, and turns what the core reports into ``SpeechStarted`` and
``Utterance`` events.

An utterance's work is queued here and taken by one decoder thread at a time, which goes on
to the next piece itself: a chunk never waits for the event loop to hand it over, so a busy
loop (many calls) and the threads' turns at Python's GIL delay decoding by one hand-over per
batch of queued chunks, not one per chunk. (Measured at 100 calls on 2 cores: with one
hand-over per chunk the recognizer fell 10 s behind while both cores were mostly idle.)

Two things need the wall clock, and only they: a continuous tap (a snoop sends zeros in
silence) that stops sending is broken (``stall_timeout``); a tap that sends nothing while no
audio reaches the channel (Wazo's stream-channel) is silent, not broken, so the time without
frames is fed to the core as silence.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
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
from ivr.hearing.decoding import CallDecoding, Decoded
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
        on_partial: Callable[[str], None] | None = None,
        executor: Executor | None = None,
        stall_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = HearingCore()
        self._tap = tap
        self._model = model
        self._emit = emit
        self._on_partial = on_partial
        """Told the words heard so far of the utterance under way, after each chunk (the live monitor)."""
        self._executor = executor
        self._stall_timeout = stall_timeout
        self._clock = clock
        self._decoding = CallDecoding(lambda vocabulary: GrammarRecognizer(model, vocabulary))
        self._queued: dict[int, collections.deque[Decode | Finish | Abandon]] = {}
        """Each utterance's work not taken yet; an utterance is here while a thread works on it."""
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._failed: asyncio.Future[None] = self._loop.create_future()
        self._started = clock()
        self._last_audio = self._started
        self._fed_at = self._started
        self.decode_seconds = 0.0
        """Time spent in the recognizer (its threads), for the real-time factor."""
        self.decoded_audio_seconds = 0.0
        """Seconds of audio the recognizer was given."""
        self.decode_cpu_seconds = 0.0
        """CPU time the decoder threads spent on this call (without their waits for a core)."""

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
            for task in (watchdog, reading):
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
        self._fed_at = self._clock()
        self._perform(self.core.receive(frame))

    def _clock_time_of(self, position: float) -> float:
        """When the audio at ``position`` in the stream reached us: frames come in real time,
        so it is the last frame's arrival less the audio fed since (lone silences dropped by
        the core do not count in its positions)."""
        fed = (self.core.received - self.core.lone_silences) * FRAME_SECONDS
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
                for _ in range(due - self.core.received):
                    self._feed(SILENT_FRAME)

    def _perform(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case SpeechBegan():
                    self._emit(SpeechStarted())
                case HeardUtterance(heard):
                    log.debug("heard %r (%.2f-%.2f s)", heard.transcript, heard.speech_start, heard.ended)
                    self._emit(Utterance(heard, self._clock_time_of(heard.speech_end)))
                case Decode() | Finish() | Abandon():
                    self._queue(output)

    def _queue(self, work: Decode | Finish | Abandon) -> None:
        """Queue an utterance's work; start a thread on it unless one is at it already.
        (An abandoned utterance's recognizer is dropped in a thread too: freeing it takes
        milliseconds.)"""
        with self._lock:
            queued = self._queued.get(work.utterance)
            if queued is not None:
                if isinstance(work, Abandon):
                    queued.clear()
                queued.append(work)
                return
            self._queued[work.utterance] = collections.deque([work])
        self._loop.run_in_executor(self._executor, self._work_on, work.utterance)

    def _work_on(self, utterance: int) -> None:
        """In a decoder thread: do an utterance's queued work in order, until none is left."""
        while True:
            with self._lock:
                queued = self._queued[utterance]
                if not queued:
                    del self._queued[utterance]
                    return
                work = queued.popleft()
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                result = self._decoding.perform(work)
            except Exception as exc:
                with self._lock:
                    del self._queued[utterance]
                self._loop.call_soon_threadsafe(self._fail, exc)
                return
            spent = (time.perf_counter() - began, time.thread_time() - cpu)
            self._loop.call_soon_threadsafe(self._done, work, result, spent)

    def _done(
        self, work: Decode | Finish | Abandon, result: Decoded | Transcript | None, spent: tuple[float, float]
    ) -> None:
        """On the event loop: a piece of work done (``spent``: wall and CPU seconds); its
        result goes to the core."""
        match work, result:
            case Decode(), Decoded(utterance, chunk, partial, early):
                self._spent(*spent)
                self.decoded_audio_seconds += len(work.pcm) / (2 * SAMPLE_RATE)
                if self._on_partial is not None:
                    self._on_partial(partial)
                self._perform(self.core.decoded(utterance, chunk, early))
            case Finish(utterance), Transcript():
                self._spent(*spent)
                self._perform(self.core.finished(utterance, result))

    def _spent(self, wall: float, cpu: float) -> None:
        self.decode_seconds += wall
        self.decode_cpu_seconds += cpu

    def _fail(self, exc: Exception) -> None:
        if not self._failed.done():
            self._failed.set_exception(RecognizerError(f"the recognizer failed: {exc!r}"))
