"""The asyncio shell that turns a call's audio into dialog events.

audio bytes -> 20 ms frames -> voice detector -> endpointer -> (speech only) gain ->
recognizer -> matcher -> ``SpeechStarted`` / ``Utterance`` events for the dialog engine.

Only speech is decoded: frames are kept in a short pre-roll while the line is quiet and
handed to a fresh recognizer when speech starts, so silence costs no decoding and the
start of the first word is not lost. Decoding runs in worker threads, in order, one
utterance at a time; the event loop only cuts frames and asks the VAD.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import vosk

from ivr.dialog.events import Event, SpeechStarted, Utterance
from ivr.grammar.decision import judge
from ivr.grammar.matcher import IntentMatcher
from ivr.media.endpoint import TapError
from ivr.speech.endpoint import Endpoint, Endpointer, EndpointSettings
from ivr.speech.gain import GainControl
from ivr.speech.recognizer import GrammarRecognizer
from ivr.speech.vad import FRAME_MS, Framer, VoiceDetector, frame_power

log = logging.getLogger(__name__)

PREROLL_FRAMES = 300 // FRAME_MS
BATCH_FRAMES = 100 // FRAME_MS
"""Frames handed to the recognizer at once: fewer thread hops, at most 100 ms of delay."""


@dataclass
class _Listening:
    model: vosk.Model
    matcher: IntentMatcher
    endpointer: Endpointer
    preroll: collections.deque[bytes] = field(
        default_factory=lambda: collections.deque(maxlen=PREROLL_FRAMES)
    )
    batch: list[bytes] = field(default_factory=list)
    chunks: asyncio.Queue[bytes | None] | None = None  # to the decoder, once speech started


class _EarlyDecision:
    """Watches partial results: an intent named unambiguously (its phrase exactly, no other
    word, no close runner-up), unchanged for ``after`` seconds while the caller has been
    silent as long, ends the utterance at once instead of waiting for the whole end-of-speech
    silence. (A pause is required: in the middle of a long sentence the partial result can
    rest on one grammar word for a while.) The final result is then judged like any other:
    an early end is no licence to skip the doubt policy, which partial results (without word
    confidences) cannot feed."""

    def __init__(self, matcher: IntentMatcher, after: float) -> None:
        self._matcher = matcher
        self._after = after
        self._partial = ""
        self._since = 0.0

    def update(self, partial: str, now: float, quiet_for: float) -> bool:
        if self._after <= 0 or not partial:
            return False
        if partial != self._partial:
            self._partial, self._since = partial, now
            return False
        if now - self._since < self._after or quiet_for < self._after:
            return False
        match = judge(self._matcher.match(partial), [(word, 1.0) for word in partial.split()])
        return match.intent is not None and match.score >= 100


class SpeechListener:
    """Reads a call's audio for as long as it flows; recognizes one utterance per ``listen()``."""

    def __init__(
        self,
        audio: AsyncIterable[bytes],
        emit: Callable[[Event], None],
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        voice: VoiceDetector | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        self._audio = audio
        self._emit = emit
        self._executor = executor
        self._clock = clock
        self._voice = voice or VoiceDetector()
        self._gain = GainControl()
        self._framer = Framer()
        self._listening: _Listening | None = None
        self._decoders: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stall_timeout = stall_timeout
        self._last_audio = clock()

    def listen(self, model: vosk.Model, matcher: IntentMatcher, settings: EndpointSettings) -> None:
        """Recognize the next utterance against ``matcher``'s grammar."""
        self._listening = _Listening(model, matcher, Endpointer(settings))
        self._wake.set()

    def stop(self) -> None:
        """Stop listening; an utterance being decoded is abandoned. Audio keeps being drained."""
        self._listening = None
        for task in self._decoders:
            task.cancel()

    async def run(self) -> None:
        """Consume the audio until the stream ends. Returns when it does; raises the
        stream's ``TapError``, or one of its own if a ``stall_timeout`` passes without audio."""
        watchdog = asyncio.create_task(self._watch_clock())
        reading = asyncio.create_task(self._read())
        try:
            done, _ = await asyncio.wait([reading, watchdog], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            watchdog.cancel()
            reading.cancel()
            await asyncio.gather(watchdog, reading, return_exceptions=True)
            self.stop()

    async def _read(self) -> None:
        async for data in self._audio:
            self._last_audio = self._clock()
            for frame in self._framer.push(data):
                self._on_frame(frame)

    def _on_frame(self, frame: bytes) -> None:
        listening = self._listening
        if listening is None:
            return
        now = self._clock()
        power = frame_power(frame)
        voiced = self._voice.is_speech(frame, power)
        self._gain.observe(power, voiced)
        endpoint = listening.endpointer.feed(voiced, now)
        if listening.chunks is None:
            listening.preroll.append(frame)
        else:
            listening.batch.append(frame)
            if len(listening.batch) >= BATCH_FRAMES:
                self._flush(listening)
        if endpoint is Endpoint.SPEECH_STARTED:
            self._start_utterance(listening)
        elif endpoint is Endpoint.SPEECH_ENDED:
            self._end_utterance(listening)

    def _start_utterance(self, listening: _Listening) -> None:
        listening.chunks = asyncio.Queue()
        listening.chunks.put_nowait(self._gain.apply(b"".join(listening.preroll)))
        listening.preroll.clear()
        task = asyncio.create_task(self._decode(listening))
        self._decoders.add(task)
        task.add_done_callback(self._decoders.discard)
        self._wake.set()
        self._emit(SpeechStarted())

    def _end_utterance(self, listening: _Listening) -> None:
        self._flush(listening)
        assert listening.chunks is not None
        listening.chunks.put_nowait(None)
        self._listening = None  # one utterance per listen()

    def _flush(self, listening: _Listening) -> None:
        if listening.batch and listening.chunks is not None:
            listening.chunks.put_nowait(self._gain.apply(b"".join(listening.batch)))
            listening.batch.clear()

    async def _decode(self, listening: _Listening) -> None:
        loop = asyncio.get_running_loop()
        assert listening.chunks is not None
        recognizer = await loop.run_in_executor(
            self._executor, GrammarRecognizer, listening.model, listening.matcher.vocabulary
        )
        early = _EarlyDecision(listening.matcher, listening.endpointer.settings.early_decision)
        decided_early = False
        while (chunk := await listening.chunks.get()) is not None:
            partial = await loop.run_in_executor(self._executor, recognizer.accept, chunk)
            now = self._clock()
            if early.update(partial, now, listening.endpointer.quiet_for(now)):
                if self._listening is listening:
                    self._listening = None  # decided: the rest of the utterance is not needed
                log.debug("early end of utterance on %r", partial)
                decided_early = True
                break
        transcript = await loop.run_in_executor(self._executor, recognizer.finish)
        words = [(w.word, w.confidence) for w in transcript.words]
        match = judge(listening.matcher.match(transcript.text), words)
        log.debug("utterance %r -> %s", transcript.text, match)
        self._emit(Utterance(transcript.text, match, early=decided_early))

    async def _watch_clock(self) -> None:
        """End utterances on time even when no frames arrive (some taps send nothing in
        silence), and notice a stream that should flow but has stalled."""
        while True:
            now = self._clock()
            if self._stall_timeout is not None and now - self._last_audio >= self._stall_timeout:
                raise TapError(f"no audio for {now - self._last_audio:.1f} s")
            listening = self._listening
            deadline = listening.endpointer.deadline if listening else None
            if self._stall_timeout is not None:
                stall_at = self._last_audio + self._stall_timeout
                deadline = stall_at if deadline is None else min(deadline, stall_at)
            if deadline is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = deadline - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if listening is not None and listening.endpointer.poll(self._clock()) is Endpoint.SPEECH_ENDED:
                self._end_utterance(listening)
