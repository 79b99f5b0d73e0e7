"""The benchmark reads a menu's decision as a live call meets it."""

from __future__ import annotations

import sys
from pathlib import Path

from ivr.flow.compiled import compile_flow
from ivr.flow.model import Destination, Flow, Menu, Route
from ivr.grammar.matcher import NO_MATCH, IntentMatcher
from ivr.grammar.verdict import Judgement, Verdict

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from decisions import Decision, decision_of  # noqa: E402

FLOW = Flow(
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
MENU = compile_flow(FLOW, {"desk": IntentMatcher({"sales": ["sales"], "billing": ["billing"]})}).menus["main"]


def judged(verdict: Verdict, intent: str | None) -> Judgement:
    return Judgement(verdict, intent, 80.0, NO_MATCH, intent or "")


def test_a_doubtful_answer_is_a_confirmation_where_the_route_can_confirm() -> None:
    assert decision_of(judged(Verdict.CONFIRM, "billing"), MENU, 1.0) == Decision("confirm", "billing", "billing", 1.0)


def test_a_doubtful_answer_without_a_confirm_prompt_is_asked_again() -> None:
    # As the engine does: the caller hears the menu's no-match prompt, which live mode reads.
    assert decision_of(judged(Verdict.CONFIRM, "sales"), MENU, 1.0) == Decision("reject", None, "sales", 1.0)


def test_accepted_and_rejected_answers_are_read_as_judged() -> None:
    assert decision_of(judged(Verdict.ACCEPT, "sales"), MENU, 2.0) == Decision("accept", "sales", "sales", 2.0)
    assert decision_of(judged(Verdict.REJECT, None), MENU, 2.0) == Decision("reject", None, "", 2.0)
