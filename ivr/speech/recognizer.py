"""One utterance's recognition with Vosk, restricted to a grammar's vocabulary.

These calls block (Kaldi decoding): the listener runs them in worker threads.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import vosk

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Word:
    word: str
    confidence: float


@dataclass(frozen=True)
class Transcript:
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


class GrammarRecognizer:
    """A Kaldi recognizer that may only output words of ``vocabulary``.

    Vosk treats the grammar as a loop over its words, so the result is any sequence of
    them: the matcher, not the recognizer, decides which phrase was meant. The word list
    goes to Vosk as UTF-8 JSON (``ensure_ascii=False``): escaped ``\\uXXXX`` words would
    all be "missing in vocabulary".
    """

    def __init__(
        self, model: vosk.Model, vocabulary: Sequence[str], sample_rate: int = SAMPLE_RATE
    ) -> None:
        self._recognizer = vosk.KaldiRecognizer(
            model, sample_rate, json.dumps(list(vocabulary), ensure_ascii=False)
        )
        self._recognizer.SetWords(True)
        self._segments: list[Word] = []

    def accept(self, pcm: bytes) -> str:
        """Decode 16-bit little-endian mono PCM at the recognizer's sample rate; return the
        words heard so far (a partial result, which later audio may still change)."""
        if self._recognizer.AcceptWaveform(pcm):
            # Vosk's own endpoint fired inside the utterance: keep its words for finish().
            self._segments.extend(_words(self._recognizer.Result()))
            partial = ""
        else:
            partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        return " ".join([w.word for w in self._segments] + partial.split())

    def finish(self) -> Transcript:
        """The words of everything accepted since the last finish()."""
        words = self._segments + _words(self._recognizer.FinalResult())
        self._segments = []
        return Transcript(tuple(words))


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [Word(w["word"], float(w.get("conf", 1.0))) for w in result.get("result", [])]


def transcribe_file(model: vosk.Model, path: Path, vocabulary: Sequence[str]) -> Transcript:
    """Recognize a whole mono 16-bit WAV file (any sample rate: Vosk resamples)."""
    with wave.open(str(path)) as audio:
        if audio.getnchannels() != 1 or audio.getsampwidth() != 2:
            raise ValueError(f"{path}: need a mono 16-bit WAV file")
        recognizer = GrammarRecognizer(model, vocabulary, audio.getframerate())
        recognizer.accept(audio.readframes(audio.getnframes()))
    return recognizer.finish()
