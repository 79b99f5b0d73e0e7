"""The doubt policy on top of the matcher, and the verdict it leads to."""

from __future__ import annotations

import pytest

from ivr.flow import load_grammar
from ivr.grammar.matcher import IntentMatcher
from ivr.grammar.verdict import DEFAULT_PENALTIES, Policy, Verdict, decisive, doubtful_score, judge
from ivr.hearing.heard import Heard, Word
from ivr.project import EXAMPLES_DIR

POLICY = Policy(min_score=50, confirm_below=95)


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher.from_grammar(
        load_grammar(EXAMPLES_DIR / "grammars" / "switchboard-ko.yaml")
    )


def score(matcher: IntentMatcher, *words: tuple[str, float]) -> tuple[str | None, float]:
    match = matcher.match(" ".join(w for w, _ in words))
    return match.intent, round(doubtful_score(match, words, DEFAULT_PENALTIES), 1)


def heard(*words: tuple[str, float]) -> Heard:
    return Heard(tuple(Word(w, c) for w, c in words), 0.0, 0.0, 0.0, 0.0, 0.0)


def test_a_clear_phrase_keeps_its_score(matcher: IntentMatcher) -> None:
    assert score(matcher, ("환불", 1.0)) == ("support", 100.0)


def test_spacing_variants_count_as_the_phrase(matcher: IntentMatcher) -> None:
    assert score(matcher, ("기술", 1.0), ("지원", 1.0)) == ("tech", 100.0)


def test_low_confidence_costs_points(matcher: IntentMatcher) -> None:
    assert score(matcher, ("영업", 0.75)) == ("sales", 90.0)


def test_words_of_several_intents_and_low_confidence_sink_the_score(matcher: IntentMatcher) -> None:
    # What "오늘 날씨가 어때요" decodes to with the grammar alone: tech 93, sales 88 close behind.
    intent, judged = score(matcher, ("오류", 0.31), ("영업", 1.0), ("기술지원", 0.7))
    assert judged == 74.0  # 93.3, less 40 x (1 - 0.7) for doubt, less 0.5 x (20 - 5.3) for sales


def test_other_words_around_a_confident_phrase_cost_nothing_more(matcher: IntentMatcher) -> None:
    # "환불 부탁합니다": the carrier words come out as other grammar words. The matcher scores
    # the phrase among other words lower, and a close runner-up costs, but no more than that.
    match = matcher.match("환불 납부")
    intent, judged = score(matcher, ("환불", 1.0), ("납부", 0.9))
    close = max(0.0, 20 - (match.score - match.runner_up_score))
    assert (intent, judged) == ("support", round(match.score - 0.5 * close, 1))


def test_nothing_recognized_is_no_match(matcher: IntentMatcher) -> None:
    assert score(matcher) == (None, 0.0)


def test_a_confident_answer_is_accepted(matcher: IntentMatcher) -> None:
    judgement = judge(Heard.from_text("환불"), matcher, POLICY)
    assert (judgement.verdict, judgement.intent, judgement.score) == (
        Verdict.ACCEPT,
        "support",
        100.0,
    )
    assert judgement.transcript == "환불" and judgement.match.phrase == "환불"


def test_a_score_at_confirm_below_is_accepted(matcher: IntentMatcher) -> None:
    judgement = judge(Heard.from_text("환불"), matcher, Policy(min_score=50, confirm_below=100))
    assert (judgement.verdict, judgement.intent) == (Verdict.ACCEPT, "support")


def test_a_doubtful_answer_is_confirmed(matcher: IntentMatcher) -> None:
    judgement = judge(heard(("영업", 0.75)), matcher, POLICY)  # 90: above 50, below 95
    assert (judgement.verdict, judgement.intent) == (Verdict.CONFIRM, "sales")
    assert judgement.score == pytest.approx(90.0)


def test_a_score_below_min_score_is_rejected(matcher: IntentMatcher) -> None:
    judgement = judge(
        heard(("오류", 0.31), ("영업", 1.0), ("기술지원", 0.7)), matcher, Policy(min_score=80)
    )
    assert (judgement.verdict, judgement.intent) == (Verdict.REJECT, None)
    assert round(judgement.score, 1) == 74.0 and judgement.match.intent == "tech"


def test_words_of_no_intent_are_rejected(matcher: IntentMatcher) -> None:
    judgement = judge(Heard.from_text("날씨"), matcher, POLICY)
    assert (judgement.verdict, judgement.intent, judgement.score) == (Verdict.REJECT, None, 0.0)


def test_no_words_at_all_is_not_an_answer(matcher: IntentMatcher) -> None:
    judgement = judge(Heard.from_text(""), matcher, POLICY)
    assert (judgement.verdict, judgement.intent, judgement.score) == (Verdict.LISTEN_ON, None, 0.0)
    assert judgement.transcript == ""


def test_exactly_one_phrase_is_decisive(matcher: IntentMatcher) -> None:
    assert decisive(matcher, "환불")


def test_words_of_two_intents_or_none_are_not_decisive(matcher: IntentMatcher) -> None:
    assert not decisive(matcher, "환불 영업")
    assert not decisive(matcher, "")
