"""ivr.hearing.decoding: an utterance's chunks decoded in order, none after an early end."""

from __future__ import annotations

from ivr.hearing.core import Abandon, Decode, Finish
from ivr.hearing.decoding import CallDecoding, Decoded
from ivr.hearing.endpointer import EndpointSettings
from ivr.hearing.heard import Listening, Transcript, Word


class Counting:
    """Says "영업부" once it has had two chunks."""

    def __init__(self) -> None:
        self.chunks = 0

    def accept(self, pcm: bytes) -> str:
        self.chunks += 1
        return "영업부" if self.chunks >= 2 else ""

    def finish(self) -> Transcript:
        return Transcript((Word(f"chunks:{self.chunks}", 1.0),))


LISTENING = Listening("g", ("영업부",), EndpointSettings(), early_decision=0.2, decisive=lambda words: words == "영업부")


def chunk(n: int, *, final: bool = False) -> Decode:
    """Chunk n of utterance 1, 100 ms each, the caller silent since 0.5 s."""
    return Decode(1, n, b"\0\0" * 1600, at=0.6 + 0.1 * n, last_sound=0.5, final=final,
                  listening=LISTENING if n == 0 else None)


def test_after_an_early_end_later_chunks_are_not_decoded() -> None:
    made: list[Counting] = []
    decoding = CallDecoding(lambda vocabulary: made.append(Counting()) or made[-1])
    results = [decoding.perform(chunk(n)) for n in range(6)]
    # "영업부" from chunk 1, unchanged for 0.2 s at chunk 3: the utterance ends there.
    assert [r.early for r in results[:4] if isinstance(r, Decoded)] == [False, False, False, True]
    assert results[4:] == [None, None]
    assert decoding.perform(Finish(1)) == Transcript((Word("chunks:4", 1.0),))


def test_the_last_chunk_never_ends_an_utterance_early() -> None:
    decoding = CallDecoding(lambda vocabulary: Counting())
    for n in range(3):
        decoding.perform(chunk(n))
    last = decoding.perform(chunk(3, final=True))
    assert isinstance(last, Decoded) and not last.early


def test_an_abandoned_utterance_decodes_nothing_more() -> None:
    decoding = CallDecoding(lambda vocabulary: Counting())
    decoding.perform(chunk(0))
    assert decoding.perform(Abandon(1)) is None
    assert decoding.perform(chunk(1)) is None
    assert decoding.perform(Finish(1)) == Transcript()
