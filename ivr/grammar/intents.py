"""A grammar: the phrases callers may say for each intent, as an admin writes them in
``grammars/*.yaml``, and the forms the matcher and the recognizer use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ivr.grammar.normalize import expand_synonyms, normalize


class Grammar(BaseModel):
    """The phrases a caller may say for each intent, in one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    language: str = Field(min_length=1)
    intents: dict[str, Annotated[tuple[str, ...], Field(min_length=1)]] = Field(min_length=1)
    synonyms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Word -> other words callers say for it; every phrase is also heard with them."""
    source: Path | None = Field(default=None, exclude=True)

    def expanded(self) -> dict[str, tuple[str, ...]]:
        """Each intent's phrases normalized (numbers spelled out) and with their synonyms."""
        return {
            intent: tuple(
                dict.fromkeys(
                    variant
                    for phrase in phrases
                    for variant in expand_synonyms(normalize(phrase, self.language), self._normalized_synonyms())
                )
            )
            for intent, phrases in self.intents.items()
        }

    def _normalized_synonyms(self) -> dict[str, tuple[str, ...]]:
        return {
            normalize(word, self.language): tuple(normalize(s, self.language) for s in alternatives)
            for word, alternatives in self.synonyms.items()
        }

