"""The recognizer's side of hearing: the work the core asks for, done in its order. No I/O.

The core (``ivr.hearing.core``) sends each chunk to the recognizer as soon as it is made and
goes on hearing; this side decodes an utterance's chunks in order and, after each, takes the
early decision (``ivr.hearing.early``) before it decodes the next one. So when the early
decision ends an utterance, its recognizer has heard exactly the chunks up to there, however
many more the core had sent meanwhile: they are skipped, and ``Finish`` gives the words of
the audio up to the decision, as on an idle machine.

Synchronous and CPU-heavy (Kaldi decodes): live calls run it in decoder threads, one piece of
an utterance's work at a time and in order (``ivr.runtime.listener``); the simulator in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ivr.hearing.core import Abandon, Decode, Finish
from ivr.hearing.early import EarlyDecision
from ivr.hearing.heard import Transcript


class Recognizer(Protocol):
    def accept(self, pcm: bytes) -> str:
        """Decode audio; the words heard so far."""

    def finish(self) -> Transcript:
        """The words of all the audio accepted."""


@dataclass(frozen=True)
class Decoded:
    """A chunk decoded: the words so far, and whether the early decision ended the utterance."""

    utterance: int
    chunk: int
    partial: str
    early: bool


@dataclass
class _Utterance:
    recognizer: Recognizer
    early: EarlyDecision
    ended_early: bool = False


class CallDecoding:
    """The recognizer work of one call's utterances (``perform``). One utterance's work must
    be performed in the order the core asked for it, one piece at a time; different
    utterances' work may be performed at the same time."""

    def __init__(self, new_recognizer: Callable[[tuple[str, ...]], Recognizer]) -> None:
        """``new_recognizer(vocabulary)``: a recognizer restricted to these words."""
        self._new_recognizer = new_recognizer
        self._utterances: dict[int, _Utterance] = {}

    def perform(self, work: Decode | Finish | Abandon) -> Decoded | Transcript | None:
        """``Decode``: the chunk's ``Decoded``, or None when the utterance has ended before it
        (or was abandoned); ``Finish``: the utterance's words; ``Abandon``: None, its
        recognizer is dropped."""
        match work:
            case Decode(utterance, chunk, pcm, at, last_sound, final, listening):
                if listening is not None:
                    self._utterances[utterance] = _Utterance(
                        self._new_recognizer(listening.vocabulary),
                        EarlyDecision(listening.early_decision, listening.decisive),
                    )
                current = self._utterances.get(utterance)
                if current is None or current.ended_early:
                    return None
                partial = current.recognizer.accept(pcm)
                current.ended_early = not final and current.early.ends(partial, at, last_sound)
                return Decoded(utterance, chunk, partial, current.ended_early)
            case Finish(utterance):
                finished = self._utterances.pop(utterance, None)
                return Transcript() if finished is None else finished.recognizer.finish()
            case Abandon(utterance):
                self._utterances.pop(utterance, None)
                return None
