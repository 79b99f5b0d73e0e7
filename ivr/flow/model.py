"""The flow model: what an admin describes in ``flows/*.yaml`` and ``grammars/*.yaml``.

Every object is frozen: a call holds on to the flow it started with, and a hot reload
builds new objects instead of mutating the ones calls in progress are using.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def parse_duration(value: object) -> object:
    """Accept ``5``, ``2.5``, ``"5s"`` or ``"800ms"`` and return seconds as a float."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 5, 2.5, '5s' or '800ms'")
        number, unit = float(match.group(1)), match.group(2)
        return number / 1000 if unit == "ms" else number
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Destination(_Frozen):
    """A dialplan location the call continues at when it leaves the app."""

    context: str = Field(min_length=1)
    extension: str = Field(min_length=1)
    priority: int = Field(default=1, ge=1)

    @field_validator("extension", mode="before")
    @classmethod
    def _extension_as_text(cls, value: object) -> object:
        # YAML reads `extension: 100` as an int; a dialplan extension is text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def __str__(self) -> str:
        return f"{self.context},{self.extension},{self.priority}"


class Timeouts(_Frozen):
    """Per-menu listening timers, all measured on the wall clock."""

    no_input: Seconds = 5.0
    """How long to wait for the caller to start speaking once the prompt has finished."""
    end_of_speech: Seconds = 0.6
    """Silence after speech that ends the utterance."""
    max_speech: Seconds = 10.0
    """Longest utterance; the recognizer is asked for its result when it is reached."""


class Menu(_Frozen):
    """One question to the caller and where each answer leads."""

    prompt: str = Field(min_length=1, description="Asterisk media URI, e.g. sound:speech-ivr/main")
    grammar: str = Field(min_length=1, description="name of a grammar in grammars/")
    routes: dict[str, Destination] = Field(min_length=1, description="intent name -> destination")
    min_score: float = Field(default=70.0, ge=0, le=100)
    barge_in: bool = True
    timeouts: Timeouts = Timeouts()


class Flow(_Frozen):
    """A call flow: its language, its menus and where calls go when nothing matches."""

    name: str = Field(min_length=1)
    language: str = Field(min_length=1)
    start: str = Field(min_length=1, description="name of the first menu")
    fallback: Destination
    menus: dict[str, Menu] = Field(min_length=1)
    source: Path | None = Field(default=None, exclude=True)

    @property
    def start_menu(self) -> Menu:
        return self.menus[self.start]


class Grammar(_Frozen):
    """The phrases a caller may say for each intent, in one language."""

    name: str = Field(min_length=1)
    language: str = Field(min_length=1)
    intents: dict[str, Annotated[tuple[str, ...], Field(min_length=1)]] = Field(min_length=1)
    source: Path | None = Field(default=None, exclude=True)

