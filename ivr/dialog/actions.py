"""What the dialog engine asks the call to do. The runtime performs them in order."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flow.model import Destination
from ivr.grammar.verdict import Judgement
from ivr.hearing.heard import Heard, Listening


@dataclass(frozen=True)
class Play:
    """Play a prompt: one or more media URIs in a row, as one playback."""

    playback_id: str
    media: tuple[str, ...]


@dataclass(frozen=True)
class StopPrompt:
    """Stop a running prompt and wait until Asterisk says it has stopped.

    Setting variables and continuing in the dialplan wait behind a running prompt,
    so the engine always stops the prompt before it routes.
    """

    playback_id: str


@dataclass(frozen=True)
class Listen:
    """Hear the caller's next utterance this way (replacing any other listening)."""

    listening: Listening


@dataclass(frozen=True)
class StopListening:
    pass


@dataclass(frozen=True)
class Judged:
    """Nothing to perform: the record of an answer's verdict, for traces and logs."""

    menu: str
    heard: Heard
    judgement: Judgement
    confirming: bool
    """The answer to a "did you say ...?"."""


@dataclass(frozen=True)
class SetVariables:
    variables: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.variables)


@dataclass(frozen=True)
class ContinueInDialplan:
    """Leave the application for a dialplan destination: the call's last action."""

    destination: Destination


Action = Play | StopPrompt | Listen | StopListening | Judged | SetVariables | ContinueInDialplan
