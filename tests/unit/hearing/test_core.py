"""ivr.hearing.core driven frame by frame, with a scripted recognizer instead of Vosk."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from ivr.audio import FRAME_BYTES, FRAME_SECONDS, frames_of
from ivr.hearing.core import (
    PREROLL_FRAMES,
    Abandon,
    Decode,
    Finish,
    HeardUtterance,
    HearingCore,
    Output,
    SpeechBegan,
)
from ivr.hearing.decoding import CallDecoding, Decoded
from ivr.hearing.endpointer import EndpointSettings
from ivr.hearing.heard import Heard, Listening, Transcript, Word

SILENCE = bytes(FRAME_BYTES)


def voice(seconds: float, level: float = 3000, seed: int = 1) -> list[bytes]:
    """A buzzy vowel-like signal WebRTC's VAD calls speech: harmonics of 150 Hz, modulated
    like syllables."""
    t = np.arange(int(round(seconds * 16000))) / 16000
    rng = np.random.default_rng(seed)
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t + rng.uniform(0, 6)) / k for k in range(1, 20))
    signal = level * harmonics * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    return list(frames_of(np.clip(signal, -32768, 32767).astype("<i2").tobytes()))


def silence(seconds: float, seed: int = 7) -> list[bytes]:
    """A quiet line: noise at about -60 dBFS (a real line is never digital silence)."""
    noise = np.random.default_rng(seed).standard_normal(round(seconds * 16000)) * 30
    return list(frames_of(noise.astype("<i2").tobytes()))


def listening(*, early: float = 0.0, end_of_speech: float = 0.6, max_speech: float = 8.0,
              decisive: Callable[[str], bool] = lambda words: words == "영업부") -> Listening:
    return Listening(
        "switchboard-ko", ("영업부", "요금"), EndpointSettings(end_of_speech, max_speech),
        early_decision=early, decisive=decisive,
    )


class ScriptedRecognizer:
    """Says ``partial(seconds of audio so far)`` after each chunk, ``final(seconds)`` at the
    end. ``new`` makes one utterance's recognizer; what each got is kept by utterance (they
    are made in the utterances' order)."""

    def __init__(self, partial: Callable[[float], str], final: Callable[[float], str] | None = None):
        self._partial = partial
        self._final = final or partial
        self.received: dict[int, bytearray] = {}
        self.vocabularies: dict[int, tuple[str, ...]] = {}

    def new(self, vocabulary: tuple[str, ...]) -> _Scripted:
        utterance = len(self.received) + 1
        self.received[utterance] = bytearray()
        self.vocabularies[utterance] = vocabulary
        return _Scripted(self, utterance)

    def seconds(self, utterance: int) -> float:
        return len(self.received[utterance]) / 32000


class _Scripted:
    def __init__(self, script: ScriptedRecognizer, utterance: int) -> None:
        self._script = script
        self._utterance = utterance

    def accept(self, pcm: bytes) -> str:
        self._script.received[self._utterance] += pcm
        return self._script._partial(self._script.seconds(self._utterance))

    def finish(self) -> Transcript:
        text = self._script._final(self._script.seconds(self._utterance))
        return Transcript(tuple(Word(w, 1.0, 0.1 * i, 0.1 * i + 0.1) for i, w in enumerate(text.split())))


class Shell:
    """Runs the core's work with the scripted recognizer (``ivr.hearing.decoding``); with
    ``lag`` frames, each piece takes that long, one after the other, as in a busy decoder
    thread while the frames go on coming."""

    def __init__(self, core: HearingCore, recognizer: ScriptedRecognizer, lag: int = 0) -> None:
        self.core = core
        self.recognizer = recognizer
        self.decoding = CallDecoding(recognizer.new)
        self.lag = lag
        self.events: list[Output] = []
        self._waiting: list[tuple[int, Decode | Finish | Abandon]] = []
        self._frames = 0
        self._busy_until = 0

    def feed(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            self._frames += 1
            self.run(self.core.receive(frame))
            self._complete()

    def settle(self) -> None:
        while self._waiting:
            self._frames = max(self._frames, self._waiting[0][0])
            self._complete()

    def run(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, (Decode, Finish, Abandon)):
                self._busy_until = max(self._frames, self._busy_until) + self.lag
                self._waiting.append((self._busy_until, output))
            else:
                self.events.append(output)
        self._complete()

    def _complete(self) -> None:
        while self._waiting and self._waiting[0][0] <= self._frames:
            _, work = self._waiting.pop(0)
            result = self.decoding.perform(work)
            if isinstance(result, Decoded):
                self.run(self.core.decoded(result.utterance, result.chunk, result.early))
            elif isinstance(work, Finish):
                assert isinstance(result, Transcript)
                self.run(self.core.finished(work.utterance, result))

    def heard(self) -> list[Heard]:
        return [e.heard for e in self.events if isinstance(e, HeardUtterance)]


def hear(frames: list[bytes], spec: Listening, partial: Callable[[float], str], *, lag: int = 0,
         final: Callable[[float], str] | None = None) -> Shell:
    shell = Shell(HearingCore(), ScriptedRecognizer(partial, final), lag)
    shell.run(shell.core.listen(spec))
    shell.feed(frames)
    shell.settle()
    return shell


def says(text: str) -> Callable[[float], str]:
    return lambda seconds: text


def test_an_answer_starts_at_its_onset_and_ends_after_the_end_of_speech_silence() -> None:
    shell = hear(silence(0.5) + voice(1.0) + silence(1.5), listening(), says("영업부"))
    began = [e for e in shell.events if isinstance(e, SpeechBegan)]
    assert len(began) == 1 and began[0].at == pytest.approx(0.5, abs=0.05)
    [heard] = shell.heard()
    assert heard.transcript == "영업부"
    assert heard.speech_start == pytest.approx(0.5, abs=0.05)
    assert heard.speech_end == pytest.approx(1.5, abs=0.05)
    assert heard.ended == pytest.approx(heard.speech_end + 0.6, abs=1e-6)
    assert heard.audio_start == pytest.approx(heard.speech_start - PREROLL_FRAMES * FRAME_SECONDS, abs=1e-6)
    assert not heard.early
    assert heard.voiced == pytest.approx(1.0, abs=0.1)
    # The recognizer got the pre-roll, the speech and the silence up to the end, and only
    # the words it may hear.
    assert shell.recognizer.seconds(1) == pytest.approx(heard.ended - heard.audio_start, abs=1e-6)
    assert shell.recognizer.vocabularies[1] == ("영업부", "요금")


def test_word_times_are_positions_in_the_stream() -> None:
    [heard] = hear(silence(0.5) + voice(0.6) + silence(1.0), listening(), says("영업부 요금")).heard()
    assert [(w.start, w.end) for w in heard.words] == [
        (pytest.approx(heard.audio_start), pytest.approx(heard.audio_start + 0.1)),
        (pytest.approx(heard.audio_start + 0.1), pytest.approx(heard.audio_start + 0.2)),
    ]


def test_nothing_is_decoded_while_the_line_is_silent() -> None:
    shell = hear(silence(3.0) + [SILENCE] * 100, listening(), says("영업부"))
    assert shell.recognizer.received == {} and shell.events == []


@pytest.mark.parametrize("before", [0, 30], ids=["first frame", "after digital silence"])
def test_speech_in_the_very_first_frame_is_heard_from_its_start(before: int) -> None:
    # A tap that sends nothing until audio reaches the channel (and its gap filled with
    # digital silence): the first frame of sound is speech, the gate's noise floor is taken
    # from the speech itself and holds the onset back; the utterance still starts with it.
    shell = hear([SILENCE] * before + voice(1.0) + silence(1.0), listening(), says("오류"))
    [heard] = shell.heard()
    assert heard.audio_start == max(0.0, (before - PREROLL_FRAMES) * FRAME_SECONDS)
    assert b"".join(voice(0.06)) in shell.recognizer.received[1]


def test_the_early_decision_ends_a_decisive_answer_after_a_short_pause() -> None:
    shell = hear(silence(0.5) + voice(0.6) + silence(2.0), listening(early=0.3, end_of_speech=1.5),
                 says("영업부"))
    [heard] = shell.heard()
    assert heard.early
    assert 0.3 <= heard.ended - heard.speech_end < 0.5


def test_the_early_decision_waits_while_the_caller_goes_on_speaking() -> None:
    # "영업부" stands from the first syllables, but the sentence goes on: no early end.
    frames = silence(0.5) + voice(2.0) + silence(2.0)
    shell = hear(frames, listening(early=0.3, end_of_speech=1.5), says("영업부"))
    [heard] = shell.heard()
    assert heard.speech_end == pytest.approx(2.5, abs=0.05)
    assert heard.ended >= heard.speech_end + 0.3


def test_the_early_decision_needs_words_that_decide() -> None:
    shell = hear(silence(0.5) + voice(0.6) + silence(2.0),
                 listening(early=0.3, end_of_speech=1.5), says("영업부 요금"))
    assert not shell.heard()[0].early


def test_a_busy_recognizer_changes_when_things_are_heard_never_what() -> None:
    frames = silence(0.5) + voice(0.4) + silence(0.25) + voice(0.5, seed=2) + silence(2.0)

    def partial(seconds: float) -> str:  # the words grow as the audio comes
        return "영업부" if seconds < 1.0 else "영업부 요금"

    spec = listening(early=0.2, end_of_speech=1.0)
    at_once, lagging = hear(frames, spec, partial), hear(frames, spec, partial, lag=13)
    assert at_once.heard() == lagging.heard()
    assert at_once.recognizer.received == lagging.recognizer.received


def test_the_worst_backlog_is_how_far_the_recognizer_ever_fell_behind() -> None:
    frames = silence(0.5) + voice(0.6) + silence(1.0)
    at_once = hear(frames, listening(), says("영업부"))
    keeping_up = hear(frames, listening(), says("영업부"), lag=3)  # 3 frames' time per 5-frame chunk
    falling_behind = hear(frames, listening(), says("영업부"), lag=13)  # 13 per 5
    assert at_once.core.worst_backlog_seconds == 0.0
    assert 0.0 < keeping_up.core.worst_backlog_seconds <= 0.1  # a few frames behind, never more
    assert falling_behind.core.worst_backlog_seconds > 0.5
    assert falling_behind.core.received == at_once.core.received == len(frames)


def test_speech_without_words_is_reported_empty() -> None:
    [heard] = hear(silence(0.5) + voice(0.3) + silence(1.0), listening(), says("")).heard()
    assert heard.words == () and heard.transcript == ""


def test_max_speech_cuts_an_endless_utterance() -> None:
    [heard] = hear(voice(0.2, level=0) + voice(5.0) + silence(1.0), listening(max_speech=2.0),
                   says("영업부")).heard()
    assert heard.ended - heard.speech_start == pytest.approx(2.0, abs=0.021)


def test_one_utterance_per_listen() -> None:
    shell = hear(silence(0.5) + voice(0.5) + silence(1.0) + voice(0.5) + silence(1.0),
                 listening(), says("요금"))
    assert len(shell.heard()) == 1


def test_listening_again_soon_after_hears_the_frames_since_the_last_answer() -> None:
    # The dialog answers the first utterance with a new question; how long it took to say so
    # does not change where the second utterance starts.
    frames = silence(0.5) + voice(0.5) + silence(0.62) + voice(0.5, seed=3) + silence(1.0)
    results = []
    for delay in (0, 7, 30):
        shell = Shell(HearingCore(), ScriptedRecognizer(says("요금")))
        shell.run(shell.core.listen(listening()))
        pending = delay
        for frame in frames:
            shell.feed([frame])
            if shell.heard() and len(shell.heard()) == 1 and pending is not None:
                if pending == 0:
                    shell.run(shell.core.listen(listening()))
                    pending = None
                else:
                    pending -= 1
        shell.settle()
        results.append(shell.heard())
    assert len(results[0]) == 2
    assert results[0] == results[1] == results[2]


def test_the_first_listening_hears_what_was_said_before_it() -> None:
    # A busy Asterisk started the prompt (and the listening) seconds after the answer: the
    # caller who spoke at once is heard as if listening had begun with the stream.
    frames = silence(0.5) + voice(0.8) + silence(2.7)
    at_once = hear(frames, listening(), says("영업부")).heard()
    late = Shell(HearingCore(), ScriptedRecognizer(says("영업부")))
    late.feed(frames)
    late.run(late.core.listen(listening()))
    late.feed(silence(1.0))
    late.settle()
    assert late.heard() == at_once and len(at_once) == 1


def test_what_was_said_before_listening_stopped_is_not_heard() -> None:
    # A prompt without barge-in stops the listening first: speech over it is no answer.
    shell = Shell(HearingCore(), ScriptedRecognizer(says("영업부")))
    shell.run(shell.core.stop())
    shell.feed(silence(0.5) + voice(0.8) + silence(1.5))
    shell.run(shell.core.listen(listening()))
    shell.feed(silence(1.0))
    shell.settle()
    assert shell.heard() == []


def test_stopping_abandons_the_utterance_under_way() -> None:
    shell = Shell(HearingCore(), ScriptedRecognizer(says("영업부")))
    shell.run(shell.core.listen(listening()))
    shell.feed(silence(0.5) + voice(0.4))
    outputs = shell.core.stop()
    assert outputs == [Abandon(1)]
    shell.feed(voice(0.4) + silence(1.0))
    shell.settle()
    assert shell.heard() == []
