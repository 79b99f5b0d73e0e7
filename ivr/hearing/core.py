"""The hearing core: a call's audio frames in, what to decode and what was heard out. No I/O.

Like python-websockets' ``Protocol``, it reads no clock and touches no socket or thread:
a shell feeds it 20 ms frames (``receive``), performs what it asks (``Decode`` a chunk,
``Finish`` an utterance) with a real recognizer, and hands the results back
(``decoded``, ``finished``). Live calls (``ivr.runtime.listener``), ``speech-ivr simulate``
and the benchmarks all hear through it, so they cut and judge the same audio the same way.

Its clock is the stream's own: a frame's time is its position in the audio. While a chunk
is being decoded, later frames wait in a backlog and are heard only once the result is
back, so a busy machine delays what is heard but never changes it: the same audio gives
the same utterances, partial results and early decisions, on a loaded server or offline.

What it does with the frames:

- a lone frame of digital silence between sounds is dropped (``gaps``: a snoop tap's late
  frame);
- every frame: voice detection (``vad``) and the caller's level (``gain``), listening or not;
- while listening: the endpointer (``endpointer``) finds the start and the end of speech;
  at the start, the utterance's audio begins ``PREROLL`` earlier (the endpointer confirms
  speech a few frames late, and a word's first sound is quiet), and goes to the recognizer
  in ``BATCH_FRAMES`` chunks, lifted by the gain control;
- after each chunk, the early decision: a partial result that names one intent beyond doubt
  (``Listening.decisive``), unchanged for ``early_decision`` of audio while the caller has
  been silent as long (by WebRTC's own verdict, not just under the gate), ends the utterance
  there instead of after the whole end-of-speech silence; the final words are then judged
  like any others;
- one utterance per ``listen()``. When listening starts again soon after an utterance (the
  dialog's answer to it), the frames since are heard again, so how fast the dialog answered
  does not change where the next utterance starts.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from ivr.audio import FRAME_SECONDS
from ivr.hearing.endpointer import Endpoint, Endpointer
from ivr.hearing.gain import GainControl, amplify
from ivr.hearing.gaps import LoneSilenceFilter
from ivr.hearing.heard import Heard, Listening, Transcript, Word
from ivr.hearing.vad import Voice, VoiceDetector

PREROLL_FRAMES = 10
"""200 ms of audio before the first voiced frame go to the recognizer too (the tuning corpus
measured 200, 300 and 500 ms alike, 200 a little better)."""
BATCH_FRAMES = 5
"""Frames handed to the recognizer at once: fewer thread hops, at most 100 ms of delay."""
HISTORY_FRAMES = 50
"""The last second of frames is kept: the pre-roll, and what is heard again on ``listen()``."""
REPLAY_FRAMES = 50
"""Listening that starts again within a second of the last utterance hears the frames since."""
BACKLOG_LIMIT = 500
"""Frames waiting for the recognizer beyond this (10 s behind) are dropped and counted."""


@dataclass(frozen=True)
class SpeechBegan:
    """The caller started speaking (the dialog stops the prompt: barge-in)."""

    at: float


@dataclass(frozen=True)
class Decode:
    """Feed ``pcm`` to utterance ``utterance``'s recognizer, then call ``decoded`` with its
    partial result. ``vocabulary`` is set on an utterance's first chunk: make its
    recognizer, restricted to these words, first."""

    utterance: int
    pcm: bytes
    vocabulary: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Finish:
    """Ask utterance ``utterance``'s recognizer for its final words, then call ``finished``."""

    utterance: int


@dataclass(frozen=True)
class Abandon:
    """Utterance ``utterance`` is not wanted any more: its recognizer can go."""

    utterance: int


@dataclass(frozen=True)
class HeardUtterance:
    heard: Heard


Output = SpeechBegan | Decode | Finish | Abandon | HeardUtterance


@dataclass(frozen=True, slots=True)
class _Frame:
    index: int
    pcm: bytes
    voice: Voice
    gain_db: float
    """The gain control's gain once it had heard this frame: what the frame's chunk gets,
    however late the chunk is made (frames heard again on ``listen()``)."""

    @property
    def end(self) -> float:
        return _position(self.index + 1)


@dataclass
class _Utterance:
    id: int
    listening: Listening
    audio_start: float
    speech_start: float
    batch: list[_Frame] = field(default_factory=list)
    chunk: bytes | None = None
    """Made, not yet sent to the recognizer."""
    voiced_frames: int = 0
    ended_at: float | None = None
    speech_end: float = 0.0
    early: bool = False
    started_recognizer: bool = False
    finishing: bool = False
    partial: str = ""
    partial_since: float = 0.0
    last_sound: float = 0.0
    """The end of the last frame WebRTC's VAD took for voice (gate or not)."""


def _position(frames: int) -> float:
    return round(frames * FRAME_SECONDS, 6)


class HearingCore:
    """One call's hearing (see the module docstring)."""

    def __init__(self, voice: VoiceDetector | None = None, gain: GainControl | None = None) -> None:
        self._voice = voice or VoiceDetector()
        self._gain = gain or GainControl()
        self._frames = 0
        self._history: collections.deque[_Frame] = collections.deque(maxlen=HISTORY_FRAMES)
        self._only_voice = True  # WebRTC called every frame since the stream began voice
        self._first_sound: int | None = None  # the first frame that was not digital silence
        self._backlog: collections.deque[bytes | _Frame] = collections.deque()
        self._in_flight = False
        self._listening: Listening | None = None
        self._endpointer: Endpointer | None = None
        self._utterance: _Utterance | None = None
        self._ids = 0
        self._stopped_at = 0  # frames heard when the last utterance ended or listening stopped
        self._gaps = LoneSilenceFilter()
        self.dropped = 0
        """Frames dropped because the recognizer was too far behind."""
        self.received = 0
        """Frames received (``receive``), whatever became of them."""
        self.worst_backlog = 0
        """The most frames that ever waited for the recognizer at once."""

    @property
    def lone_silences(self) -> int:
        """Lone frames of digital silence dropped (``gaps``): a snoop tap's late frames."""
        return self._gaps.dropped

    @property
    def backlog_seconds(self) -> float:
        """Seconds of audio received but not yet heard (waiting behind the recognizer)."""
        return _position(len(self._backlog))

    @property
    def worst_backlog_seconds(self) -> float:
        """The longest the recognizer was ever behind the audio during this call."""
        return _position(self.worst_backlog)

    @property
    def position(self) -> float:
        """Seconds of audio heard so far (frames waiting in the backlog not included)."""
        return _position(self._frames)

    # -- the shell's inputs -----------------------------------------------------------------

    def receive(self, frame: bytes) -> list[Output]:
        """One whole 20 ms frame of the caller's audio (``ivr.audio.Framer`` cuts them)."""
        out: list[Output] = []
        self.received += 1
        for kept in self._gaps.push(frame):
            if self._in_flight or self._backlog:
                if len(self._backlog) >= BACKLOG_LIMIT:
                    self.dropped += 1
                    continue
                self._backlog.append(kept)
                self.worst_backlog = max(self.worst_backlog, len(self._backlog))
                if not self._in_flight:
                    out += self._drain()
            else:
                out += self._process(kept)
        return out

    def listen(self, listening: Listening) -> list[Output]:
        """Hear the next utterance this way (abandoning one under way)."""
        out = self._abandon()
        self._listening = listening
        self._endpointer = Endpointer(listening.endpointing)
        if self._frames - self._stopped_at <= REPLAY_FRAMES:
            again = [f for f in self._history if f.index >= self._stopped_at]
            self._backlog.extendleft(reversed(again))
            self._frames -= len(again)  # heard again: the position goes back with them
        return out + self._drain()

    def stop(self) -> list[Output]:
        """Stop listening; an utterance under way is abandoned."""
        out = self._abandon()
        self._listening = self._endpointer = None
        self._stopped_at = self._frames
        return out

    def decoded(self, utterance: int, partial: str) -> list[Output]:
        """The result of ``Decode``: the words heard so far (which later audio may change)."""
        self._in_flight = False
        out: list[Output] = []
        current = self._utterance
        if current is not None and current.id == utterance and current.ended_at is None:
            if self._early(current, partial):
                current.early = True
                out += self._end(current)
        return out + self._pump() + self._drain()

    def finished(self, utterance: int, transcript: Transcript) -> list[Output]:
        """The result of ``Finish``: the utterance's final words."""
        self._in_flight = False
        out: list[Output] = []
        current = self._utterance
        if current is not None and current.id == utterance:
            assert current.ended_at is not None
            offset = current.audio_start
            words = tuple(
                Word(w.word, w.confidence, round(w.start + offset, 3), round(w.end + offset, 3))
                for w in transcript.words
            )
            heard = Heard(
                words,
                audio_start=current.audio_start,
                speech_start=current.speech_start,
                speech_end=current.speech_end,
                ended=current.ended_at,
                voiced=_position(current.voiced_frames),
                early=current.early,
            )
            self._utterance = None
            out.append(HeardUtterance(heard))
        return out + self._drain()

    # -- hearing frames ---------------------------------------------------------------------

    def _drain(self) -> list[Output]:
        out: list[Output] = []
        while self._backlog and not self._in_flight:
            item = self._backlog.popleft()
            out += self._process(item) if isinstance(item, bytes) else self._hear(item)
        return out

    def _process(self, pcm: bytes) -> list[Output]:
        voice = self._voice.classify(pcm)
        if not voice.silent:
            self._gain.observe(voice.power, voice.voiced)
            self._only_voice = self._only_voice and voice.webrtc
            if self._first_sound is None:
                self._first_sound = self._frames
        frame = _Frame(self._frames, pcm, voice, self._gain.gain_db)
        self._history.append(frame)
        return self._hear(frame)

    def _hear(self, frame: _Frame) -> list[Output]:
        """What a frame (already classified) means for listening."""
        self._frames = frame.index + 1
        endpointer, current = self._endpointer, self._utterance
        if endpointer is None or (current is not None and current.ended_at is not None):
            return []
        event = endpointer.feed(frame.voice.voiced, frame.end)
        if current is None:
            return self._begin(frame, endpointer) if event is Endpoint.SPEECH_STARTED else []
        current.batch.append(frame)
        current.voiced_frames += frame.voice.voiced
        if frame.voice.webrtc:
            current.last_sound = frame.end
        if event is Endpoint.SPEECH_ENDED:
            return self._end(current)
        if len(current.batch) >= BATCH_FRAMES:
            self._chunk(current)
        return self._pump()

    def _begin(self, frame: _Frame, endpointer: Endpointer) -> list[Output]:
        assert self._listening is not None and endpointer.started_at is not None
        first_voiced = round(endpointer.started_at / FRAME_SECONDS)
        start = first_voiced - PREROLL_FRAMES
        first_sound = self._first_sound
        if self._only_voice and first_sound is not None and first_voiced - first_sound < HISTORY_FRAMES:
            # Nothing but voice since the line carried anything (a tap that sends nothing
            # before the caller's audio, a recording cut at the word): the floor of the level
            # gate was taken from the speech itself, so the gate held the first syllables
            # back. They are speech: the utterance starts where the sound did.
            start = min(start, first_sound - PREROLL_FRAMES)
        audio = [f for f in self._history if start <= f.index <= frame.index]
        self._ids += 1
        current = _Utterance(
            self._ids,
            self._listening,
            audio_start=_position(audio[0].index),
            speech_start=endpointer.started_at,
            voiced_frames=sum(f.voice.voiced for f in audio if f.index >= first_voiced),
            last_sound=max((f.end for f in audio if f.voice.webrtc), default=0.0),
        )
        current.batch = audio
        self._utterance = current
        self._chunk(current)
        return [SpeechBegan(current.speech_start), *self._pump()]

    def _chunk(self, current: _Utterance) -> None:
        assert current.chunk is None, "one chunk at a time: frames wait while it is decoded"
        current.chunk = amplify(b"".join(f.pcm for f in current.batch), current.batch[-1].gain_db)
        current.batch = []

    def _end(self, current: _Utterance) -> list[Output]:
        assert self._endpointer is not None
        current.ended_at = self.position
        current.speech_end = self._endpointer.last_voice or current.speech_start
        if current.batch:
            self._chunk(current)
        # One utterance per listen(): the frames after it are for the next one.
        self._listening = self._endpointer = None
        self._stopped_at = self._frames
        return self._pump()

    def _pump(self) -> list[Output]:
        """Send the recognizer its next piece of work, one at a time."""
        current = self._utterance
        if self._in_flight or current is None:
            return []
        if current.chunk is not None:
            chunk, current.chunk = current.chunk, None
            vocabulary = None if current.started_recognizer else current.listening.vocabulary
            current.started_recognizer = True
            self._in_flight = True
            return [Decode(current.id, chunk, vocabulary)]
        if current.ended_at is not None and not current.finishing:
            current.finishing = True
            self._in_flight = True
            return [Finish(current.id)]
        return []

    def _early(self, current: _Utterance, partial: str) -> bool:
        """Does the early decision end the utterance at this chunk?"""
        at = self.position
        if partial != current.partial:
            current.partial, current.partial_since = partial, at
            return False
        after = current.listening.early_decision
        if after <= 0 or not partial or self._endpointer is None:
            return False
        # Quiet by WebRTC's own verdict, not just under the level gate: a soft syllable in
        # the middle of a sentence can fall under the gate, and no early end may cut it.
        if at - current.partial_since < after - 1e-9 or at - current.last_sound < after - 1e-9:
            return False
        return current.listening.decisive(partial)

    def _abandon(self) -> list[Output]:
        current, self._utterance = self._utterance, None
        return [Abandon(current.id)] if current is not None else []
