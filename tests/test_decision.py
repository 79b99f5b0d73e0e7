"""The doubt policy on top of the matcher."""

from __future__ import annotations

import pytest

from ivr.flow import load_grammar
from ivr.grammar.decision import judge
from ivr.grammar.matcher import IntentMatcher
from tests.harness import PROJECT_DIR


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher.from_grammar(load_grammar(PROJECT_DIR / "grammars" / "switchboard-ko.yaml"))


def score(matcher: IntentMatcher, *words: tuple[str, float]) -> tuple[str | None, float]:
    judged = judge(matcher.match(" ".join(w for w, _ in words)), words)
    return judged.intent, round(judged.score, 1)


def test_a_clear_phrase_keeps_its_score(matcher: IntentMatcher) -> None:
    assert score(matcher, ("환불", 1.0)) == ("support", 100.0)


def test_spacing_variants_count_as_the_phrase(matcher: IntentMatcher) -> None:
    assert score(matcher, ("기술", 1.0), ("지원", 1.0)) == ("tech", 100.0)


def test_low_confidence_costs_points(matcher: IntentMatcher) -> None:
    assert score(matcher, ("영업", 0.75)) == ("sales", 90.0)


def test_forced_words_of_other_intents_sink_the_score(matcher: IntentMatcher) -> None:
    # What "오늘 날씨가 어때요" decodes to with the grammar alone.
    intent, judged = score(matcher, ("오류", 0.31), ("영업", 1.0), ("기술지원", 0.7))
    assert judged < 70


def test_nothing_recognized_is_no_match(matcher: IntentMatcher) -> None:
    assert score(matcher) == (None, 0.0)
