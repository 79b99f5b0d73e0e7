"""What can happen to a call, as seen by the dialog engine."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.grammar.matcher import Match


@dataclass(frozen=True)
class PromptStarted:
    playback_id: str


@dataclass(frozen=True)
class PromptFinished:
    """The prompt ended: played out, stopped by us, or failed (missing file, hangup)."""

    playback_id: str


@dataclass(frozen=True)
class SpeechStarted:
    """The endpointer heard the caller start speaking."""


@dataclass(frozen=True)
class Utterance:
    """The recognizer's result for one utterance, already matched against the grammar and
    judged (``match.score`` includes the doubt policy). ``early``: ended on a stable
    partial result, before the end-of-speech silence."""

    transcript: str
    match: Match
    early: bool = False


@dataclass(frozen=True)
class Dtmf:
    """The caller pressed (and released) a key: 0-9, *, #."""

    digit: str


@dataclass(frozen=True)
class TapFailed:
    """The caller's audio can no longer be heard (tap not created, dropped, or silent too long)."""

    reason: str


@dataclass(frozen=True)
class CallerHungUp:
    """The call left the application (StasisEnd): nothing more can be done with it."""


@dataclass(frozen=True)
class Tick:
    """A wake-up at or after ``DialogEngine.deadline``."""


Event = (
    PromptStarted | PromptFinished | SpeechStarted | Utterance | Dtmf | TapFailed | CallerHungUp | Tick
)
