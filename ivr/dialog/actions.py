"""What the dialog engine asks the call to do. The driver performs them in order."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flow.model import Destination, Timeouts


@dataclass(frozen=True)
class Play:
    playback_id: str
    media: str


@dataclass(frozen=True)
class StopPrompt:
    """Stop a running prompt and wait until Asterisk says it has stopped.

    Setting variables and continuing in the dialplan wait behind a running prompt,
    so the engine always stops the prompt before it routes.
    """

    playback_id: str


@dataclass(frozen=True)
class Listen:
    """Start recognizing the caller's next utterance with the grammar of a menu."""

    grammar: str
    timeouts: Timeouts


@dataclass(frozen=True)
class StopListening:
    pass


@dataclass(frozen=True)
class SetVariables:
    variables: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.variables)


@dataclass(frozen=True)
class ContinueInDialplan:
    """Leave the application for a dialplan destination: the call's last action."""

    destination: Destination


Action = Play | StopPrompt | Listen | StopListening | SetVariables | ContinueInDialplan
