"""What can happen to a call, as seen by the dialog engine."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.hearing.heard import Heard


@dataclass(frozen=True)
class PromptFinished:
    """The prompt ended: played out, stopped by us, or failed (missing file, hangup)."""

    playback_id: str


@dataclass(frozen=True)
class SpeechStarted:
    """Hearing found the caller starting to speak."""


@dataclass(frozen=True)
class Utterance:
    """What hearing made of one utterance (judged by the engine, ``ivr.grammar.verdict``)."""

    heard: Heard
    speech_end_at: float | None = None
    """When the caller stopped speaking, on the call's clock (the live shell knows it; the
    dialog does not use it): what call records and latency metrics count from."""


@dataclass(frozen=True)
class KeyPressed:
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


Event = PromptFinished | SpeechStarted | Utterance | KeyPressed | TapFailed | CallerHungUp | Tick
