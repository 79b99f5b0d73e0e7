"""Flows compiled into what calls run on: each menu's matcher, thresholds and way of listening.

Compiled once when the flows are loaded (and again on reload), shared by every call, the
simulator and the benchmarks: whoever runs a menu hears and judges it with the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from ivr.flow.loader import FlowSet
from ivr.flow.model import Destination, Flow, Menu, Timeouts
from ivr.grammar.intents import Grammar
from ivr.grammar.matcher import IntentMatcher
from ivr.grammar.verdict import Policy, decisive
from ivr.hearing.endpointer import EndpointSettings
from ivr.hearing.heard import Listening

YES_NO_GRAMMAR = "@yes-no"
"""The name confirmations listen with: the flow's yes/no words."""


@dataclass(frozen=True)
class CompiledMenu:
    name: str
    menu: Menu
    matcher: IntentMatcher | None
    """None for a keys-only menu."""
    policy: Policy
    listening: Listening | None
    """How answers to the menu's question are heard; None for a keys-only menu."""
    confirming: Listening | None
    """How answers to its "did you say ...?" are heard; None without yes/no words."""
    confirm_policy: Policy
    """How a yes or no to its "did you say ...?" is judged (the menu's ``min_score``)."""

    def confirms(self, intent: str) -> bool:
        """Is a doubtful answer for ``intent`` confirmed? Only when its route has a confirm
        prompt; otherwise it is asked again, never taken on doubt."""
        route = self.menu.routes.get(intent)
        return route is not None and route.confirm is not None


@dataclass(frozen=True)
class CompiledFlow:
    flow: Flow
    menus: Mapping[str, CompiledMenu]
    yes_no: IntentMatcher
    """Intents ``yes`` and ``no``; empty when the flow's language has no yes/no words."""

    @property
    def name(self) -> str:
        return self.flow.name

    @property
    def language(self) -> str:
        return self.flow.language

    @property
    def start(self) -> str:
        return self.flow.start

    @property
    def fallback(self) -> Destination:
        return self.flow.fallback


def listening_for(grammar: str, matcher: IntentMatcher, timeouts: Timeouts) -> Listening:
    return Listening(
        grammar,
        tuple(matcher.vocabulary),
        EndpointSettings(end_of_speech=timeouts.end_of_speech, max_speech=timeouts.max_speech),
        early_decision=timeouts.early_decision,
        decisive=partial(decisive, matcher),
    )


def compile_flow(flow: Flow, matchers: Mapping[str, IntentMatcher]) -> CompiledFlow:
    """``matchers``: grammar name -> matcher, for every grammar the flow's menus name."""
    words = flow.yes_no
    yes_no = IntentMatcher({"yes": words.yes, "no": words.no} if words else {})
    menus = {}
    for name, menu in flow.menus.items():
        matcher = matchers[menu.grammar] if menu.grammar is not None else None
        menus[name] = CompiledMenu(
            name,
            menu,
            matcher,
            Policy(menu.min_score, menu.confirm_below),
            listening_for(menu.grammar, matcher, menu.timeouts) if matcher and menu.grammar else None,
            listening_for(YES_NO_GRAMMAR, yes_no, menu.timeouts) if words else None,
            Policy(menu.min_score),
        )
    return CompiledFlow(flow, menus, yes_no)


def compile_matchers(grammars: Mapping[str, Grammar]) -> dict[str, IntentMatcher]:
    return {name: IntentMatcher.from_grammar(grammar) for name, grammar in grammars.items()}


def compile_flows(flow_set: FlowSet) -> dict[str, CompiledFlow]:
    """Every flow of a loaded set, the grammars' matchers built once and shared."""
    matchers = compile_matchers(flow_set.grammars)
    return {name: compile_flow(flow, matchers) for name, flow in flow_set.flows.items()}
