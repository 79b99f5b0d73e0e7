"""Matching Vosk grammar-mode transcripts to the intents of the Korean switchboard grammar."""

from __future__ import annotations

import pytest

from ivr.flow import load_grammar
from ivr.grammar.matcher import IntentMatcher, Match
from ivr.grammar.normalize import normalize
from ivr.project import EXAMPLES_DIR

GRAMMAR = EXAMPLES_DIR / "grammars/switchboard-ko.yaml"
MIN_SCORE = 70  # the switchboard flow's min_score


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher.from_grammar(load_grammar(GRAMMAR))


def test_vocabulary_is_the_sorted_distinct_words(matcher: IntentMatcher) -> None:
    assert matcher.vocabulary == sorted(
        "영업부 영업 구매 문의 고객 지원 고객센터 환불 배송 요금 납부 청구서"
        " 기술지원 기술 장애 인터넷 오류 수리 상담원 상담 사람 직원 연결".split()
    )


@pytest.mark.parametrize(
    ("transcript", "intent"),
    [
        ("영업부", "sales"),
        ("구매 문의", "sales"),
        ("고객센터", "support"),
        ("배송 문의", "support"),
        ("요금 납부", "billing"),
        ("청구서", "billing"),
        ("기술지원", "tech"),
        ("인터넷 장애", "tech"),
        ("상담원", "operator"),
        ("직원 연결", "operator"),
    ],
)
def test_a_phrase_said_exactly_scores_100(
    matcher: IntentMatcher, transcript: str, intent: str
) -> None:
    match = matcher.match(transcript)

    assert (match.intent, match.score, match.phrase) == (intent, 100, transcript)


@pytest.mark.parametrize(
    ("transcript", "intent", "phrase"),
    [
        ("요금 요금", "billing", "요금"),
        ("사람 사람 사람 환불", "support", "환불"),
        ("영업 인터넷 장애", "tech", "인터넷 장애"),
        ("기술지원 영업", "tech", "기술지원"),
        ("구매 문의 요금", "sales", "구매 문의"),
    ],
)
def test_a_phrase_within_a_longer_transcript_scores_high(
    matcher: IntentMatcher, transcript: str, intent: str, phrase: str
) -> None:
    match = matcher.match(transcript)

    assert (match.intent, match.phrase) == (intent, phrase)
    assert 80 <= match.score < 100


def test_the_phrase_covering_more_of_the_transcript_wins(matcher: IntentMatcher) -> None:
    match = matcher.match("구매 문의 요금")

    assert (match.intent, match.runner_up) == ("sales", "billing")
    assert match.score > match.runner_up_score >= MIN_SCORE


@pytest.mark.parametrize("transcript", ["고객 지원", "고객지원", " 고객  지원 "])
def test_spacing_does_not_matter(matcher: IntentMatcher, transcript: str) -> None:
    assert (matcher.match(transcript).intent, matcher.match(transcript).score) == ("support", 100)


def test_both_spacings_of_a_phrase_match_exactly(matcher: IntentMatcher) -> None:
    assert matcher.match("기술 지원").score == matcher.match("기술지원").score == 100


@pytest.mark.parametrize("transcript", ["", "   ", "?!"])
def test_nothing_said_matches_nothing(matcher: IntentMatcher, transcript: str) -> None:
    assert matcher.match(transcript) == Match(
        intent=None, score=0.0, phrase=None, runner_up=None, runner_up_score=0.0
    )


def test_the_runner_up_is_another_intent(matcher: IntentMatcher) -> None:
    match = matcher.match("상담원")

    assert match.intent == "operator"
    assert match.runner_up not in (None, "operator")
    assert match.runner_up_score < match.score


def test_half_a_phrase_is_ambiguous_and_below_the_threshold(matcher: IntentMatcher) -> None:
    """"지원" is half of both "고객 지원" and "기술 지원": neither may win outright."""
    match = matcher.match("지원")

    assert (match.intent, match.runner_up) == ("support", "tech")  # grammar order breaks the tie
    assert match.score == match.runner_up_score < MIN_SCORE


def test_ties_go_to_the_intent_first_in_the_grammar(matcher: IntentMatcher) -> None:
    match = matcher.match("영업 장애")

    assert (match.intent, match.runner_up) == ("sales", "tech")
    assert match.score == match.runner_up_score


def test_matching_is_deterministic(matcher: IntentMatcher) -> None:
    transcripts = ["구매 문의 요금", "지원", "영업 장애", "요금 요금"]

    assert [matcher.match(t) for t in transcripts] == [matcher.match(t) for t in transcripts]


def test_the_transcript_is_normalized() -> None:
    matcher = IntentMatcher({"sales": ["Sales"], "support": ["Customer Service"]})

    assert matcher.match("  CUSTOMER   service. ").intent == "support"
    assert matcher.vocabulary == ["customer", "sales", "service"]


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("  기술지원!! ", "기술지원"),
        ("Ｓａｌｅｓ,  Dept.", "sales dept"),
        ("sales/billing", "sales billing"),
        ("I’m 'here'", "i'm here"),
        ("Straße", "strasse"),
    ],
)
def test_normalize(text: str, normalized: str) -> None:
    assert normalize(text) == normalized
