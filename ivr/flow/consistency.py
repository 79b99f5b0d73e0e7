"""What no single model can check: names that must refer to something, DTMF keys that must
be enterable, confirmations that must be askable, and phrases the matcher would confuse.

Each check yields :class:`Diagnostic` s at the offending node of the file; the loader
collects them all, and any error makes loading fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from ivr.flow.diagnostics import Diagnostic
from ivr.flow.model import Flow, Menu
from ivr.flow.source_file import SourceFile
from ivr.grammar.intents import Grammar
from ivr.grammar.normalize import phrase_key

SIMILAR_PHRASES = 85.0
"""``fuzz.ratio`` of two phrase keys from which the matcher may take one for the other."""

MAX_COMPARED_PHRASES = 2000
"""Comparing phrases takes time quadratic in their number (2000 phrases: about a quarter of a
second); a larger grammar is not compared, with a warning saying so."""

RESERVED_PREFIX = "IVR_"
"""Channel variables speech-ivr sets itself; ``set:`` may not use these names."""

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_grammar(grammar: Grammar, file: SourceFile) -> Iterator[Diagnostic]:
    """Every phrase has words, belongs to one intent only, and is not so close to a phrase
    of another intent that the matcher would confuse them."""
    phrases: list[_Phrase] = []
    owners: dict[str, _Phrase] = {}
    for intent, texts in grammar.intents.items():
        for index, text in enumerate(texts):
            phrase = _Phrase(intent, index, text, phrase_key(text))
            if not phrase.key:
                yield file.diagnostic(phrase.node, f"the phrase {text!r} has no words")
                continue
            owner = owners.setdefault(phrase.key, phrase)
            if owner.intent != intent:
                yield file.diagnostic(
                    phrase.node,
                    f"the phrase {text!r} is the same as {owner.text!r} of intent {owner.intent!r}"
                    " (phrases are compared without case, punctuation or spaces)",
                )
            phrases.append(phrase)
    yield from _similar_phrases(phrases, file)


def check_flow(flow: Flow, file: SourceFile) -> Iterator[Diagnostic]:
    """The flow's menus and routes agree with each other (grammars aside)."""
    if flow.start not in flow.menus:
        message = f"there is no menu {flow.start!r}" + _did_you_mean(flow.start, flow.menus)
        yield file.diagnostic(("start",), message)
    else:
        yield from _unreachable_menus(flow, file)
    for name, menu in flow.menus.items():
        yield from _route_menus(name, menu, flow, file)
        yield from _answerable(name, menu, file)
        yield from _dtmf_keys(name, menu, file)
        yield from _variables(name, menu, file)
        yield from _confirmation_settings(name, menu, flow, file)


def check_grammar_references(
    flow: Flow, file: SourceFile, grammars: Mapping[str, Grammar], unreadable: Set[str]
) -> Iterator[Diagnostic]:
    """Each speech menu's grammar exists, speaks the flow's language, has the intents of the
    routes without a key, and its intents have confirm prompts when the menu confirms.

    ``unreadable`` names the grammar files that failed to load: they are reported already.
    """
    for name, menu in flow.menus.items():
        if menu.grammar is None:
            continue
        at = ("menus", name)
        grammar = grammars.get(menu.grammar)
        if grammar is None:
            if menu.grammar not in unreadable:
                message = f"there is no grammar {menu.grammar!r}"
                message += _did_you_mean(menu.grammar, grammars)
                yield file.diagnostic((*at, "grammar"), message)
            continue
        if grammar.language != flow.language:
            yield file.diagnostic(
                (*at, "grammar"),
                f"grammar {menu.grammar!r} is in language {grammar.language!r},"
                f" the flow in {flow.language!r}",
            )
        for intent, route in menu.routes.items():
            node = (*at, "routes", intent)
            if intent in grammar.intents:
                # A doubtful answer whose route cannot confirm is asked again, never taken:
                # worth a word only when the admin chose to confirm.
                if _confirms(menu) and route.confirm is None:
                    yield file.diagnostic(
                        node,
                        f"menu {name!r} confirms answers below {menu.confirm_below:g}"
                        f" but route {intent!r} has no confirm prompt: such answers for it"
                        " are asked again",
                        "warning",
                        at_key=True,
                    )
            elif route.key is None:
                message = f"grammar {menu.grammar!r} has no intent {intent!r}"
                yield file.diagnostic(
                    node, message + _did_you_mean(intent, grammar.intents), at_key=True
                )
        if unrouted := [intent for intent in grammar.intents if intent not in menu.routes]:
            yield file.diagnostic(
                (*at, "routes"),
                f"no route for {', '.join(map(repr, unrouted))} of grammar {menu.grammar!r}",
                "warning",
            )


def _did_you_mean(name: str, choices: Mapping[str, object]) -> str:
    """`` (did you mean 'sales'?)`` for the choice closest to a misspelled ``name``, if any."""
    found = process.extractOne(name, list(choices), scorer=fuzz.ratio, score_cutoff=60)
    return f" (did you mean {found[0]!r}?)" if found else ""


@dataclass(frozen=True)
class _Phrase:
    intent: str
    index: int
    text: str
    key: str

    @property
    def node(self) -> tuple[str, str, int]:
        return ("intents", self.intent, self.index)


def _similar_phrases(phrases: list[_Phrase], file: SourceFile) -> Iterator[Diagnostic]:
    """Warn at the later of two phrases of different intents whose keys are similar (but not
    equal: that is an error of its own)."""
    if len(phrases) > MAX_COMPARED_PHRASES:
        yield file.diagnostic(
            ("intents",),
            f"{len(phrases)} phrases are too many to look for similar ones"
            f" (at most {MAX_COMPARED_PHRASES} are compared)",
            "warning",
            at_key=True,
        )
        return
    keys = [phrase.key for phrase in phrases]
    for index, phrase in enumerate(phrases):
        found = process.extract(
            phrase.key, keys[:index], scorer=fuzz.ratio, score_cutoff=SIMILAR_PHRASES, limit=None
        )
        similar = [
            (score, earlier)
            for _, score, earlier in found
            if phrases[earlier].intent != phrase.intent and keys[earlier] != phrase.key
        ]
        if similar:
            score, earlier = min(similar, key=lambda hit: (-hit[0], hit[1]))
            other = phrases[earlier]
            yield file.diagnostic(
                phrase.node,
                f"the phrase {phrase.text!r} is so close to {other.text!r} of intent"
                f" {other.intent!r} ({score:.0f}% alike) that the matcher may take one for"
                " the other",
                "warning",
            )


def _unreachable_menus(flow: Flow, file: SourceFile) -> Iterator[Diagnostic]:
    reached, to_visit = {flow.start}, [flow.start]
    while to_visit:
        for route in flow.menus[to_visit.pop()].routes.values():
            if route.menu in flow.menus and route.menu not in reached:
                reached.add(route.menu)
                to_visit.append(route.menu)
    for name in flow.menus:
        if name not in reached:
            yield file.diagnostic(
                ("menus", name),
                f"no route leads to this menu from the start menu {flow.start!r}",
                "warning",
                at_key=True,
            )


def _route_menus(name: str, menu: Menu, flow: Flow, file: SourceFile) -> Iterator[Diagnostic]:
    for intent, route in menu.routes.items():
        if route.menu is not None and route.menu not in flow.menus:
            yield file.diagnostic(
                ("menus", name, "routes", intent, "menu"),
                f"there is no menu {route.menu!r}" + _did_you_mean(route.menu, flow.menus),
            )


def _answerable(name: str, menu: Menu, file: SourceFile) -> Iterator[Diagnostic]:
    """A menu without a grammar is answered with keys only."""
    if menu.grammar is not None:
        return
    if not menu.takes_keys:
        yield file.diagnostic(
            ("menus", name),
            "the menu has no grammar and none of its routes has a key:"
            " the caller has no way to answer",
            at_key=True,
        )
        return
    for intent, route in menu.routes.items():
        if route.key is None:
            yield file.diagnostic(
                ("menus", name, "routes", intent),
                "the menu has no grammar and this route has no key: nothing can choose it",
                at_key=True,
            )


def _dtmf_keys(name: str, menu: Menu, file: SourceFile) -> Iterator[Diagnostic]:
    """Keys must fit the menu's DTMF entry, and choose one route without ambiguity."""
    dtmf = menu.dtmf
    multi_digit = dtmf.max_digits > 1
    owners: dict[str, str] = {}
    for intent, route in menu.routes.items():
        key = route.key
        if key is None:
            continue
        node = ("menus", name, "routes", intent, "key")
        if len(key) > dtmf.max_digits:
            yield file.diagnostic(
                node,
                f"key {key!r} has {len(key)} digits but dtmf.max_digits is {dtmf.max_digits}:"
                " it can never be entered",
            )
        elif multi_digit and dtmf.terminator and dtmf.terminator in key:
            yield file.diagnostic(
                node,
                f"key {key!r} holds the dtmf.terminator {dtmf.terminator!r}:"
                " it can never be entered",
            )
        owner = owners.setdefault(key, intent)
        if owner != intent:
            message = f"key {key!r} is already the key of route {owner!r}, which takes it"
            yield file.diagnostic(node, message, "warning")
    if multi_digit and not dtmf.terminator:
        yield from _prefix_keys(name, owners, file)


def _prefix_keys(name: str, owners: Mapping[str, str], file: SourceFile) -> Iterator[Diagnostic]:
    """Warn at each key that starts a longer one: without a terminator, the menu cannot know
    the caller is done until ``dtmf.inter_digit`` passes.

    In sorted order, the keys a key starts follow it directly, so comparing neighbours is enough.
    """
    keys = sorted(owners)
    for key, following in zip(keys, keys[1:]):
        if following.startswith(key):
            intent = owners[key]
            yield file.diagnostic(
                ("menus", name, "routes", intent, "key"),
                f"ambiguous: key {key!r} is the start of key {following!r} of route"
                f" {owners[following]!r}, and without a dtmf.terminator the caller must wait"
                " dtmf.inter_digit after it",
                "warning",
            )


def _variables(name: str, menu: Menu, file: SourceFile) -> Iterator[Diagnostic]:
    for intent, route in menu.routes.items():
        for variable in route.set:
            node = ("menus", name, "routes", intent, "set", variable)
            if not _VARIABLE_NAME.fullmatch(variable):
                yield file.diagnostic(
                    node,
                    "not a channel variable name: use letters, digits and '_',"
                    " not starting with a digit",
                    at_key=True,
                )
            elif variable.startswith(RESERVED_PREFIX):
                message = f"names starting with {RESERVED_PREFIX} are reserved for speech-ivr"
                yield file.diagnostic(node, message, at_key=True)


def _confirmation_settings(
    name: str, menu: Menu, flow: Flow, file: SourceFile
) -> Iterator[Diagnostic]:
    if menu.confirm_below <= 0:
        return
    node = ("menus", name, "confirm_below")
    can_confirm = any(route.confirm is not None for route in menu.routes.values())
    if flow.yes_no is None and can_confirm:
        yield file.diagnostic(
            node,
            f"the flow's language {flow.language!r} has no default yes/no words:"
            " give the flow confirm_words",
        )
    if _confirms(menu) and menu.confirm_below <= menu.min_score:
        yield file.diagnostic(
            node,
            f"{menu.confirm_below:g} is not above min_score {menu.min_score:g}:"
            " answers are never confirmed",
            "warning",
        )


def _confirms(menu: Menu) -> bool:
    """The admin set the menu to confirm doubtful answers (not just the defaults)."""
    return "confirm_below" in menu.model_fields_set and menu.confirm_below > 0
