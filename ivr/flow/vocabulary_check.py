"""Grammar words a model cannot hear.

A Vosk grammar may only use words of the model's vocabulary: Vosk drops the others
("Ignoring word missing in vocabulary"), and a phrase made of them can never be heard.
Each such word gets a warning at its phrase, with the nearest words the model knows.
"""

from __future__ import annotations

from collections.abc import Mapping

from rapidfuzz import fuzz, process

from ivr.flow.diagnostics import Diagnostic
from ivr.flow.loader import FlowSet
from ivr.grammar.normalize import normalize

SUGGESTIONS = 3


def unknown_words(flow_set: FlowSet, vocabularies: Mapping[str, frozenset[str]]) -> list[Diagnostic]:
    """Warnings for every phrase word missing from its language's vocabulary (languages
    without a vocabulary are not checked)."""
    diagnostics = []
    suggestions: dict[str, str] = {}
    for grammar in flow_set.grammars.values():
        vocabulary = vocabularies.get(grammar.language)
        if vocabulary is None:
            continue
        file = flow_set.source_of(grammar)
        texts = [
            (("intents", intent, index), phrase)
            for intent, phrases in grammar.intents.items()
            for index, phrase in enumerate(phrases)
        ] + [
            (("synonyms", word, index), synonym)
            for word, synonyms in grammar.synonyms.items()
            for index, synonym in enumerate(synonyms)
        ]
        for node, text in texts:
            for word in normalize(text, grammar.language).split():
                if word in vocabulary:
                    continue
                if word not in suggestions:
                    nearest = process.extract(word, vocabulary, scorer=fuzz.ratio, limit=SUGGESTIONS)
                    suggestions[word] = ", ".join(candidate for candidate, _, _ in nearest)
                diagnostics.append(
                    file.diagnostic(
                        node,
                        f"{word!r} is not a word of the {grammar.language} model: it can never be "
                        f"heard (nearest words it knows: {suggestions[word]})",
                        "warning",
                    )
                )
    return diagnostics
