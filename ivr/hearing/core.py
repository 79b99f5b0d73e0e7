"""The hearing core: a call's audio frames in, what to decode and what was heard out. No I/O.

Like python-websockets' ``Protocol``, it reads no clock and touches no socket or thread:
a shell feeds it 20 ms frames (``receive``), performs what it asks (``Decode`` a chunk,
``Finish`` an utterance) with a real recognizer (``ivr.hearing.decoding``), and hands the
results back (``decoded``, ``finished``). Live calls (``ivr.runtime.listener``), ``speech-ivr
simulate`` and the benchmarks all hear through it, so they cut and judge the same audio the
same way.

Its clock is the stream's own: a frame's time is its position in the audio. Frames are heard
as they come, and each chunk goes to the recognizer as soon as it is made: a shell that
decodes in a thread queues them, and a busy machine only makes the results come later. What
may depend on a result is decided where the result says, never where the frames had got to
meanwhile: the early decision is taken on the recognizer's side after each chunk
(``ivr.hearing.decoding``), before it is fed the next one, and when it ends an utterance, the
utterance ends at that chunk, as if no later frame had been heard yet. So the same audio
gives the same utterances, partial results and early decisions, on a loaded server or
offline.

What it does with the frames:

- a lone frame of digital silence between sounds is dropped (``gaps``: a snoop tap's late
  frame);
- every frame: voice detection (``vad``) and the caller's level (``gain``), listening or not;
- while listening: the endpointer (``endpointer``) finds the start and the end of speech;
  at the start, the utterance's audio begins ``PREROLL`` earlier (the endpointer confirms
  speech a few frames late, and a word's first sound is quiet), and goes to the recognizer
  in ``BATCH_FRAMES`` chunks, lifted by the gain control;
- after each chunk, the early decision (``ivr.hearing.early``): a partial result that names
  one intent beyond doubt (``Listening.decisive``), unchanged for ``early_decision`` of audio
  while the caller has been silent as long (by WebRTC's own verdict, not just under the
  gate), ends the utterance there instead of after the whole end-of-speech silence; the
  final words are then judged like any others;
- one utterance per ``listen()``. When listening starts again soon after an utterance was
  reported (the dialog's answer to it), the frames since its end are heard again, so how
  fast the dialog answered does not change where the next utterance starts. The first
  listening of a call hears the stream from its start (as far as ``KEPT_FRAMES`` go back)
  unless listening was stopped before it: the call is answered once its tap is up, and a
  caller who speaks at once, before a busy Asterisk has started the prompt, is heard.
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
"""The second of frames before an utterance that may be its pre-roll."""
REPLAY_FRAMES = 50
"""Listening that starts again within a second of the last utterance's report hears the
frames since its end."""
KEPT_FRAMES = 500
"""Frames kept for pre-roll and replay: 10 s, so that an utterance whose end was known late
(the recognizer behind) is still followed by all the frames since."""


@dataclass(frozen=True)
class SpeechBegan:
    """The caller started speaking (the dialog stops the prompt: barge-in)."""

    at: float


@dataclass(frozen=True)
class Decode:
    """Feed ``pcm`` to utterance ``utterance``'s recognizer, check the early decision, then
    call ``decoded`` (``ivr.hearing.decoding`` does all three). Chunks of an utterance come
    in order, numbered from 0; ``listening`` is set on its first: make its recognizer,
    restricted to ``listening.vocabulary``, first."""

    utterance: int
    chunk: int
    pcm: bytes
    at: float
    """Where the chunk ends in the stream."""
    last_sound: float
    """The end of the last frame WebRTC's VAD took for voice, up to the chunk's end."""
    final: bool = False
    """The utterance's last chunk, made at its end: no early decision after it."""
    listening: Listening | None = None


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


@dataclass(frozen=True)
class _Checkpoint:
    """Where an utterance would end if the early decision ended it after a chunk."""

    ended_at: float
    speech_end: float
    frames: int
    """Frames heard by then."""
    voiced_frames: int


@dataclass
class _Utterance:
    id: int
    listening: Listening
    audio_start: float
    speech_start: float
    batch: list[_Frame] = field(default_factory=list)
    chunks: list[_Checkpoint] = field(default_factory=list)
    """One per chunk sent to the recognizer."""
    decided: int = 0
    """Chunks whose result is back."""
    voiced_frames: int = 0
    ended_at: float | None = None
    speech_end: float = 0.0
    early: bool = False
    finishing: bool = False
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
        self._history: collections.deque[_Frame] = collections.deque(maxlen=KEPT_FRAMES)
        self._only_voice = True  # WebRTC called every frame since the stream began voice
        self._first_sound: int | None = None  # the first frame that was not digital silence
        self._listening: Listening | None = None
        self._endpointer: Endpointer | None = None
        self._utterance: _Utterance | None = None
        self._ids = 0
        self._stopped_at = 0  # where the last utterance ended, or listening stopped (frames)
        self._reported_at: int | None = None  # frames heard when it was reported, or listening
        # stopped; None before either: the first listening hears from the stream's start
        self._gaps = LoneSilenceFilter()
        self.received = 0
        """Frames received (``receive``), whatever became of them."""
        self._worst_backlog = 0.0

    @property
    def lone_silences(self) -> int:
        """Lone frames of digital silence dropped (``gaps``): a snoop tap's late frames."""
        return self._gaps.dropped

    @property
    def backlog_seconds(self) -> float:
        """How far behind the stream the recognizer is: the audio heard since the end of the
        oldest chunk whose result is not back (0 when none waits)."""
        current = self._utterance
        if current is None or current.decided >= len(current.chunks):
            return 0.0
        return round(self.position - current.chunks[current.decided].ended_at, 6)

    @property
    def worst_backlog_seconds(self) -> float:
        """The furthest behind the stream the recognizer ever was during this call."""
        return self._worst_backlog

    @property
    def position(self) -> float:
        """Seconds of audio heard so far."""
        return _position(self._frames)

    # -- the shell's inputs -----------------------------------------------------------------

    def receive(self, frame: bytes) -> list[Output]:
        """One whole 20 ms frame of the caller's audio (``ivr.audio.Framer`` cuts them)."""
        out: list[Output] = []
        self.received += 1
        # How far behind the recognizer is when the next frame comes.
        self._worst_backlog = max(self._worst_backlog, self.backlog_seconds)
        for kept in self._gaps.push(frame):
            out += self._process(kept)
        return out

    def listen(self, listening: Listening) -> list[Output]:
        """Hear the next utterance this way (abandoning one under way)."""
        out = self._abandon()
        self._listening = listening
        self._endpointer = Endpointer(listening.endpointing)
        if self._reported_at is None or self._frames - self._reported_at <= REPLAY_FRAMES:
            for frame in [f for f in self._history if f.index >= self._stopped_at]:
                out += self._hear(frame)  # heard again, where they were
        return out

    def stop(self) -> list[Output]:
        """Stop listening; an utterance under way is abandoned."""
        out = self._abandon()
        self._listening = self._endpointer = None
        self._stopped_at = self._reported_at = self._frames
        return out

    def decoded(self, utterance: int, chunk: int, early: bool) -> list[Output]:
        """The result of chunk ``chunk`` of a ``Decode``; ``early``: the early decision ended
        the utterance after it (no later chunk was decoded)."""
        current = self._utterance
        if current is None or current.id != utterance:
            return []
        self._worst_backlog = max(self._worst_backlog, self.backlog_seconds)
        current.decided = chunk + 1
        if not early:
            return []
        # The utterance ends after this chunk: as if no later frame had been heard by it.
        checkpoint = current.chunks[chunk]
        current.ended_at, current.speech_end = checkpoint.ended_at, checkpoint.speech_end
        current.voiced_frames = checkpoint.voiced_frames
        current.early = True
        current.chunks = current.chunks[: chunk + 1]
        if not current.finishing:  # still listening for it: no more
            self._listening = self._endpointer = None
        self._stopped_at = checkpoint.frames
        return self._finish(current)

    def finished(self, utterance: int, transcript: Transcript) -> list[Output]:
        """The result of ``Finish``: the utterance's final words."""
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
            self._reported_at = self._frames
            out.append(HeardUtterance(heard))
        return out

    # -- hearing frames ---------------------------------------------------------------------

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
        self._frames = max(self._frames, frame.index + 1)
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
            return self._end(current, frame)
        if len(current.batch) >= BATCH_FRAMES:
            return [self._chunk(current, frame)]
        return []

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
        return [SpeechBegan(current.speech_start), self._chunk(current, frame)]

    def _chunk(self, current: _Utterance, last: _Frame, *, final: bool = False) -> Decode:
        """The batch as the utterance's next chunk, to the recognizer now."""
        assert self._endpointer is not None
        pcm = amplify(b"".join(f.pcm for f in current.batch), current.batch[-1].gain_db)
        current.batch = []
        current.chunks.append(
            _Checkpoint(last.end, self._endpointer.last_voice or current.speech_start, last.index + 1, current.voiced_frames)
        )
        return Decode(
            current.id,
            len(current.chunks) - 1,
            pcm,
            at=last.end,
            last_sound=current.last_sound,
            final=final,
            listening=current.listening if len(current.chunks) == 1 else None,
        )

    def _end(self, current: _Utterance, last: _Frame) -> list[Output]:
        assert self._endpointer is not None
        current.ended_at = last.end
        current.speech_end = self._endpointer.last_voice or current.speech_start
        out: list[Output] = [self._chunk(current, last, final=True)] if current.batch else []
        # One utterance per listen(): the frames after it are for the next one.
        self._listening = self._endpointer = None
        self._stopped_at = last.index + 1
        return out + self._finish(current)

    def _finish(self, current: _Utterance) -> list[Output]:
        if current.finishing:
            return []
        current.finishing = True
        return [Finish(current.id)]

    def _abandon(self) -> list[Output]:
        current, self._utterance = self._utterance, None
        return [Abandon(current.id)] if current is not None else []
