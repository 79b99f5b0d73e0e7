"""Flows compiled into what calls run on."""

from __future__ import annotations

from ivr.flow.compiled import compile_flow
from ivr.flow.model import Destination, Flow, Menu, Route
from ivr.grammar.matcher import IntentMatcher


def test_only_a_route_with_a_confirm_prompt_confirms_a_doubtful_answer() -> None:
    flow = Flow(
        name="desk",
        language="en",
        start="main",
        fallback=Destination(context="ivr-fallback", extension="s"),
        menus={
            "main": Menu(
                prompt="sound:main",
                grammar="desk",
                routes={
                    "sales": Route(context="ivr-dest", extension="sales"),
                    "billing": Route(context="ivr-dest", extension="billing", confirm="sound:billing?"),
                },
            )
        },
    )
    menu = compile_flow(flow, {"desk": IntentMatcher({"sales": ["sales"], "billing": ["billing"]})}).menus["main"]
    assert menu.confirms("billing")
    assert not menu.confirms("sales")
    assert not menu.confirms("no such intent")
