"""The flow model: what an admin describes in ``flows/*.yaml`` and ``grammars/*.yaml``.

Every object is frozen: a call holds on to the flow it started with, and a hot reload
builds new objects instead of mutating the ones calls in progress are using.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

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
    early_decision: Seconds = 0.3
    """Decide before the end-of-speech silence once the words heard so far have named one
    intent, and nothing else, for this long (0: always wait for the silence)."""


def _as_media_list(value: object) -> object:
    return (value,) if isinstance(value, str) else value


Prompt = Annotated[
    tuple[Annotated[str, Field(min_length=1)], ...],
    BeforeValidator(_as_media_list),
    Field(min_length=1),
]
"""One Asterisk media URI (``sound:speech-ivr/main``) or a list of them, played in a row."""

DtmfKeys = Annotated[str, Field(pattern=r"^[0-9*]+$")]


class Route(_Frozen):
    """Where an intent leads: a dialplan destination, or another menu."""

    context: str | None = Field(default=None, min_length=1)
    extension: str | None = Field(default=None, min_length=1)
    priority: int = Field(default=1, ge=1)
    menu: str | None = Field(default=None, min_length=1, description="a sub-menu of this flow")
    key: DtmfKeys | None = Field(default=None, description="DTMF keys that choose this route")
    set: dict[str, str] = Field(default_factory=dict, description="channel variables to set on exit")
    confirm: Prompt | None = Field(
        default=None, description='what to ask when the menu confirms this intent ("did you say sales?")'
    )

    @field_validator("extension", "key", mode="before")
    @classmethod
    def _extension_as_text(cls, value: object) -> object:
        # YAML reads `extension: 100` and `key: 1` as ints; extensions and keys are text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("set", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Route:
        if self.menu is not None:
            if self.context is not None or self.extension is not None:
                raise ValueError("a route goes to a menu or to a context and extension, not both")
        elif self.context is None or self.extension is None:
            raise ValueError("a route needs a context and an extension (or a menu)")
        return self

    @property
    def destination(self) -> Destination | None:
        if self.menu is not None:
            return None
        assert self.context is not None and self.extension is not None
        return Destination(context=self.context, extension=self.extension, priority=self.priority)


class KeyEntry(_Frozen):
    """How a menu reads keys: one key decides at once unless ``max_digits`` allows more."""

    max_digits: int = Field(default=1, ge=1, le=32)
    terminator: Literal["#", "*", ""] = "#"
    """Ends a multi-digit entry early ("" for none)."""
    inter_digit: Seconds = 3.0
    """Silence between keys that ends a multi-digit entry."""


class Menu(_Frozen):
    """One question to the caller and where each answer leads."""

    prompt: Prompt
    grammar: str | None = Field(
        default=None, min_length=1, description="a grammar in grammars/; none for a keys-only menu"
    )
    routes: dict[str, Route] = Field(min_length=1, description="intent name -> route")
    min_score: float = Field(default=35.0, ge=0, le=100)
    """Answers scoring below this (0-100, after the doubt penalties) count as not understood."""
    confirm_below: float = Field(default=95.0, ge=0, le=101)
    """Answers scoring below this are confirmed with the route's ``confirm`` prompt, or asked
    again when the route has none (0: never). The defaults come from the accuracy bench's
    tuning corpus: an untuned menu takes only answers it is sure of."""
    barge_in: bool = True
    """Speech or a key stops the prompt; off: the prompt plays out before listening starts."""
    timeouts: Timeouts = Timeouts()
    dtmf: KeyEntry = KeyEntry()
    retries: int = Field(default=2, ge=0, le=10)
    """How many times the caller is asked again after no input or no match."""
    no_input: tuple[Prompt, ...] = ()
    """Reprompts after silence, one per retry (the last repeats); none: the menu prompt again."""
    no_match: tuple[Prompt, ...] = ()
    """Reprompts after an answer that matched nothing; none: the menu prompt again."""
    fallback: Destination | None = None
    """Where this menu gives up to; the flow's fallback when unset."""

    @field_validator("no_input", "no_match", mode="before")
    @classmethod
    def _prompt_list(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def route_for_keys(self, keys: str) -> str | None:
        """The intent whose route has exactly these DTMF keys."""
        return next((intent for intent, route in self.routes.items() if route.key == keys), None)

    @property
    def takes_keys(self) -> bool:
        return any(route.key is not None for route in self.routes.values())


class ConfirmWords(_Frozen):
    """The words that answer "did you say ...?" in a flow's language."""

    yes: tuple[str, ...] = Field(min_length=1)
    no: tuple[str, ...] = Field(min_length=1)


CONFIRM_WORDS: dict[str, ConfirmWords] = {
    "ko": ConfirmWords(yes=("네", "예", "응", "맞아"), no=("아니요", "아니오", "아니", "틀려")),
    "en": ConfirmWords(yes=("yes", "yeah", "yep", "correct", "right"), no=("no", "nope", "wrong")),
}
"""Default yes/no words per language; a flow names its own with ``confirm_words``."""


class Flow(_Frozen):
    """A call flow: its language, its menus and where calls go when nothing matches."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")
    language: str = Field(min_length=1)
    start: str = Field(min_length=1, description="name of the first menu")
    fallback: Destination
    menus: dict[str, Menu] = Field(min_length=1)
    confirm_words: ConfirmWords | None = None
    """Yes/no words for confirmations; the language's defaults when unset."""
    source: Path | None = Field(default=None, exclude=True)

    @property
    def start_menu(self) -> Menu:
        return self.menus[self.start]

    @property
    def yes_no(self) -> ConfirmWords | None:
        """The confirmation words in effect, or None if the language has no defaults."""
        return self.confirm_words or CONFIRM_WORDS.get(self.language)
