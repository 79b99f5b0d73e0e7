"""What a menu did with a caller's first answer, read the same way offline and on a live call.

Offline, from the actions the simulator recorded (``ivr.simulate``); live, from what Asterisk
saw the app do (the prompts it played, the destination the call reached). A decision is one
of: ``accept`` an intent (routed: a destination or a sub-menu), ``confirm`` an intent ("did
you say ...?"), ``reject`` (asked again: not understood) or ``no-input`` (nothing heard).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivr.dialog.actions import Action, ContinueInDialplan, Judged, Play
from ivr.flow.compiled import CompiledMenu
from ivr.grammar.verdict import Judgement, Verdict


@dataclass(frozen=True)
class Decision:
    verdict: str
    """accept | confirm | reject | no-input"""
    intent: str | None = None
    transcript: str = ""
    at: float | None = None
    """When it was made: simulated seconds offline, Asterisk's epoch seconds live."""


NO_INPUT = "no-input"


def decision_of(judgement: Judgement, menu: CompiledMenu, at: float | None) -> Decision:
    """What ``menu`` did with an answer it judged so (not LISTEN_ON): a doubtful answer for a
    route without a confirm prompt is asked again, as on a live call."""
    if judgement.verdict is Verdict.REJECT or (
        judgement.verdict is Verdict.CONFIRM and not menu.confirms(judgement.intent or "")
    ):
        return Decision("reject", None, judgement.transcript, at)
    return Decision(judgement.verdict.value, judgement.intent, judgement.transcript, at)


def first_decision(actions: Iterable[tuple[float, Action]], menu: CompiledMenu) -> Decision:
    """The first decision of ``menu`` on a real answer (speech without words is listened
    past), or no-input if the menu asked again or gave up without one."""
    plays = 0
    for at, action in actions:
        match action:
            case Judged(judgement=judgement) if judgement.verdict is not Verdict.LISTEN_ON:
                return decision_of(judgement, menu, at)
            case Play():
                plays += 1
                if plays > 1:
                    return Decision(NO_INPUT, at=at)
            case ContinueInDialplan():
                return Decision(NO_INPUT, at=at)
    return Decision(NO_INPUT)


def is_first_decision(action: Action, plays: list[int]) -> bool:
    """For ``Simulator.run(stop=...)``: stop once ``first_decision`` has what it needs."""
    if isinstance(action, Judged):
        return action.judgement.verdict is not Verdict.LISTEN_ON
    if isinstance(action, Play):
        plays.append(1)
        return len(plays) > 1
    return isinstance(action, ContinueInDialplan)


class PromptReader:
    """Tells a decision from the first prompt Asterisk played after the menu's question."""

    def __init__(self, menu: CompiledMenu, sub_menus: dict[str, tuple[str, ...]]) -> None:
        self._by_media: dict[str, Decision] = {}
        for intent, route in menu.menu.routes.items():
            if route.confirm:
                self._by_media[route.confirm[0]] = Decision("confirm", intent)
            if route.menu:
                self._by_media[sub_menus[route.menu][0]] = Decision("accept", intent)
        for prompt in menu.menu.no_match:
            self._by_media.setdefault(prompt[0], Decision("reject"))
        for prompt in menu.menu.no_input:
            self._by_media.setdefault(prompt[0], Decision(NO_INPUT))

    def read(self, media_uri: str) -> Decision | None:
        return self._by_media.get(media_uri)
