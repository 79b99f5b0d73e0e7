"""The per-call dialog engine: a pure state machine, events in, actions out.

It does no I/O and never reads a clock: every event carries the time it happened,
and the engine says when it next wants to be woken (``DialogEngine.deadline``).
The ARI driver, the simulator and the unit tests all drive the same engine.
"""

from ivr.dialog.actions import (
    Action,
    ContinueInDialplan,
    Listen,
    Play,
    SetVariables,
    StopListening,
    StopPrompt,
)
from ivr.dialog.engine import DialogEngine, Outcome
from ivr.dialog.events import (
    CallerHungUp,
    Event,
    PromptFinished,
    PromptStarted,
    SpeechStarted,
    TapFailed,
    Tick,
    Utterance,
)

__all__ = [
    "Action",
    "CallerHungUp",
    "ContinueInDialplan",
    "DialogEngine",
    "Event",
    "Listen",
    "Outcome",
    "Play",
    "PromptFinished",
    "PromptStarted",
    "SetVariables",
    "SpeechStarted",
    "StopListening",
    "StopPrompt",
    "TapFailed",
    "Tick",
    "Utterance",
]
