"""One utterance's recognition with Vosk, restricted to a grammar's vocabulary.

These calls block (Kaldi decoding): shells run them in worker threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import vosk

from ivr.audio import SAMPLE_RATE
from ivr.hearing.heard import Transcript, Word
from ivr.speech.dither import Dither


class GrammarRecognizer:
    """A Kaldi recognizer that may only output words of ``vocabulary``.

    Vosk treats the grammar as a loop over its words, so the result is any sequence of
    them: the matcher, not the recognizer, decides which phrase was meant. The word list
    goes to Vosk as UTF-8 JSON (``ensure_ascii=False``): escaped ``\\uXXXX`` words would
    all be "missing in vocabulary". The model must have Kaldi's own dither off
    (``ModelStore`` loads it so): the recognizer dithers the audio itself, repeatably.
    """

    def __init__(
        self, model: vosk.Model, vocabulary: Sequence[str], sample_rate: int = SAMPLE_RATE
    ) -> None:
        self._recognizer = vosk.KaldiRecognizer(
            model, sample_rate, json.dumps(list(vocabulary), ensure_ascii=False)
        )
        self._recognizer.SetWords(True)
        self._dither = Dither()
        self._segments: list[Word] = []

    def accept(self, pcm: bytes) -> str:
        """Decode 16-bit little-endian mono PCM at the recognizer's sample rate; return the
        words heard so far (a partial result, which later audio may still change)."""
        if self._recognizer.AcceptWaveform(self._dither.apply(pcm)):
            # Vosk's own endpoint fired inside the utterance: keep its words for finish().
            self._segments.extend(_words(self._recognizer.Result()))
            partial = ""
        else:
            partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        return " ".join([w.word for w in self._segments] + partial.split())

    def finish(self) -> Transcript:
        """The words of everything accepted (times from the first sample accepted)."""
        words = self._segments + _words(self._recognizer.FinalResult())
        self._segments = []
        return Transcript(tuple(words))


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(w["word"], float(w.get("conf", 1.0)), float(w.get("start", 0.0)), float(w.get("end", 0.0)))
        for w in result.get("result", [])
    ]
