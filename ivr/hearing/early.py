"""The early decision: after a chunk, may the utterance end here, before the whole
end-of-speech silence? Pure; taken on the recognizer's side (``ivr.hearing.decoding``)."""

from __future__ import annotations

from collections.abc import Callable


class EarlyDecision:
    """One utterance's early decision, asked after each chunk in order: a partial result that
    names one intent beyond doubt (``decisive``), unchanged for ``after`` seconds of audio
    while the caller has been silent as long, ends it. Silent by WebRTC's own verdict, not
    just under the level gate: a soft syllable in the middle of a sentence can fall under the
    gate, and no early end may cut it."""

    def __init__(self, after: float, decisive: Callable[[str], bool]) -> None:
        """``after``: 0 never ends early."""
        self._after = after
        self._decisive = decisive
        self._partial = ""
        self._since = 0.0

    def ends(self, partial: str, at: float, last_sound: float) -> bool:
        """After the chunk ending at ``at`` in the stream, whose result was ``partial``, the
        caller's last voiced frame ending at ``last_sound``: does the utterance end here?"""
        if partial != self._partial:
            self._partial, self._since = partial, at
            return False
        if self._after <= 0 or not partial:
            return False
        if at - self._since < self._after - 1e-9 or at - last_sound < self._after - 1e-9:
            return False
        return self._decisive(partial)
