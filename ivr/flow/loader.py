"""Load flows and grammars from YAML, reporting every problem at its line and column.

Validation is the model's (:mod:`ivr.flow.model`); this module turns pydantic's errors into
:class:`Diagnostic` s placed at the failing node, then checks what no single model can:
that names refer to things that exist and agree with each other.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Generic, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rapidfuzz import fuzz, process

from ivr.flow.errors import Diagnostic, FlowLoadError, Severity
from ivr.flow.model import Flow, Grammar
from ivr.flow.yaml_source import YamlSource, read_yaml
from ivr.grammar.matcher import phrase_key

ModelT = TypeVar("ModelT", Flow, Grammar)


@dataclass(frozen=True)
class FlowSet:
    """Every flow and grammar of a configuration, checked against each other."""

    flows: Mapping[str, Flow]
    grammars: Mapping[str, Grammar]
    diagnostics: tuple[Diagnostic, ...] = ()
    """The warnings found while loading (errors make loading fail)."""

    def get(self, name: str) -> Flow | None:
        return self.flows.get(name)


def load_grammar(path: Path | str) -> Grammar:
    """Load one grammar file; raise :class:`FlowLoadError` if it has errors."""
    grammar = _read(Grammar, Path(path))
    _raise_on_errors(_check_grammar(grammar))
    return grammar.model


def load_flow(path: Path | str) -> Flow:
    """Load one flow file on its own (its grammars are not checked, see :func:`load_flows`)."""
    flow = _read(Flow, Path(path))
    _raise_on_errors(_check_flow(flow))
    return flow.model


def load_flows(flows_dir: Path, grammars_dir: Path) -> FlowSet:
    """Load every ``*.yaml`` and ``*.yml`` file of both directories and check them together.

    Raises :class:`FlowLoadError` with all the diagnostics found if any is an error.
    """
    diagnostics: list[Diagnostic] = []
    unreadable: set[str] = set()
    grammars = _read_all(Grammar, grammars_dir, diagnostics, unreadable)
    flows = _read_all(Flow, flows_dir, diagnostics, unreadable)
    for grammar in grammars.values():
        diagnostics += _check_grammar(grammar)
    for flow in flows.values():
        diagnostics += _check_flow(flow)
        diagnostics += _check_references(flow, grammars, unreadable)
    diagnostics.sort()
    _raise_on_errors(diagnostics)
    return FlowSet(
        flows=MappingProxyType({name: flow.model for name, flow in flows.items()}),
        grammars=MappingProxyType({name: grammar.model for name, grammar in grammars.items()}),
        diagnostics=tuple(diagnostics),
    )


@dataclass(frozen=True)
class _Loaded(Generic[ModelT]):
    """A validated model with the YAML it came from, to place diagnostics about it."""

    model: ModelT
    path: Path
    source: YamlSource

    def diagnostic(
        self,
        node: Sequence[Hashable],
        message: str,
        severity: Severity = "error",
        *,
        at_key: bool = False,
    ) -> Diagnostic:
        return _diagnostic(self.path, self.source, node, message, severity, at_key=at_key)


def _read(model_type: type[ModelT], path: Path) -> _Loaded[ModelT]:
    source = read_yaml(path)
    data = source.data
    if isinstance(data, dict):
        if "source" in data:  # set by the loader, not by the file
            unknown = _diagnostic(path, source, ("source",), "source: unknown key", at_key=True)
            raise FlowLoadError([unknown])
        data = {"name": path.stem, **data, "source": path}
    try:
        return _Loaded(model_type.model_validate(data), path, source)
    except ValidationError as error:
        raise FlowLoadError(
            sorted(_from_pydantic(path, source, details) for details in error.errors())
        ) from None


def _read_all(
    model_type: type[ModelT],
    directory: Path,
    diagnostics: list[Diagnostic],
    unreadable: set[str],
) -> dict[str, _Loaded[ModelT]]:
    """Read a directory's files by name; a file that fails is taken to define the name of
    its stem, in ``unreadable``, so that references to it do not add errors of their own."""
    kind = model_type.__name__.lower()
    loaded: dict[str, _Loaded[ModelT]] = {}
    for path in _yaml_files(directory):
        try:
            item = _read(model_type, path)
        except FlowLoadError as error:
            diagnostics += error.diagnostics
            unreadable.add(path.stem)
            continue
        name = item.model.name
        if name in loaded:
            first = loaded[name].path
            diagnostics.append(
                item.diagnostic(("name",), f"name: {kind} {name!r} is already defined in {first}")
            )
        else:
            loaded[name] = item
    return loaded


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in (".yaml", ".yml") and not path.name.startswith(".") and path.is_file()
    )


def _check_grammar(grammar: _Loaded[Grammar]) -> Iterator[Diagnostic]:
    """Every phrase has words and belongs to one intent only."""
    owners: dict[str, tuple[str, str]] = {}
    for intent, phrases in grammar.model.intents.items():
        for index, text in enumerate(phrases):
            node = ("intents", intent, index)
            where = f"intents.{intent}[{index}]"
            key = phrase_key(text)
            if not key:
                yield grammar.diagnostic(node, f"{where}: the phrase {text!r} has no words")
                continue
            owner, owner_text = owners.setdefault(key, (intent, text))
            if owner != intent:
                yield grammar.diagnostic(
                    node,
                    f"{where}: the phrase {text!r} is the same as {owner_text!r} of intent"
                    f" {owner!r} (phrases are compared without case, punctuation or spaces)",
                )


def _check_flow(flow: _Loaded[Flow]) -> Iterator[Diagnostic]:
    """The start menu exists."""
    menus = flow.model.menus
    if flow.model.start not in menus:
        message = f"start: there is no menu {flow.model.start!r}"
        yield flow.diagnostic(("start",), message + _did_you_mean(flow.model.start, menus))


def _check_references(
    flow: _Loaded[Flow], grammars: Mapping[str, _Loaded[Grammar]], unreadable: set[str]
) -> Iterator[Diagnostic]:
    """Each menu's grammar exists, speaks the flow's language and has its routes' intents."""
    for menu_name, menu in flow.model.menus.items():
        at = ("menus", menu_name)
        where = f"menus.{menu_name}"
        grammar = grammars.get(menu.grammar)
        if grammar is None:
            if menu.grammar not in unreadable:
                message = f"{where}.grammar: there is no grammar {menu.grammar!r}"
                yield flow.diagnostic(
                    (*at, "grammar"), message + _did_you_mean(menu.grammar, grammars)
                )
            continue
        if grammar.model.language != flow.model.language:
            yield flow.diagnostic(
                (*at, "grammar"),
                f"{where}.grammar: grammar {menu.grammar!r} is in language"
                f" {grammar.model.language!r}, the flow in {flow.model.language!r}",
            )
        intents = grammar.model.intents
        for intent in menu.routes:
            if intent not in intents:
                message = f"{where}.routes.{intent}: grammar {menu.grammar!r} has no intent"
                message += f" {intent!r}" + _did_you_mean(intent, intents)
                yield flow.diagnostic((*at, "routes", intent), message, at_key=True)
        if unrouted := [intent for intent in intents if intent not in menu.routes]:
            yield flow.diagnostic(
                (*at, "routes"),
                f"{where}.routes: no route for {', '.join(map(repr, unrouted))}"
                f" of grammar {menu.grammar!r}",
                severity="warning",
            )


def _from_pydantic(path: Path, source: YamlSource, details: ErrorDetails) -> Diagnostic:
    loc, at_key = details["loc"], details["type"] == "extra_forbidden"
    if details["type"] == "missing":
        message = f"missing required key {loc[-1]!r}"
        loc = loc[:-1]
    elif details["type"] == "extra_forbidden":
        message = "unknown key"
    elif details["type"] == "value_error":
        message = str(details["ctx"]["error"])
    else:
        message = details["msg"]
    if loc:
        message = f"{_dotted(loc)}: {message}"
    return _diagnostic(path, source, loc, message, at_key=at_key)


def _dotted(loc: Sequence[Hashable]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return text.removeprefix(".")


def _did_you_mean(name: str, choices: Mapping[str, object]) -> str:
    found = process.extractOne(name, list(choices), scorer=fuzz.ratio, score_cutoff=60)
    return f" (did you mean {found[0]!r}?)" if found else ""


def _diagnostic(
    path: Path,
    source: YamlSource,
    node: Sequence[Hashable],
    message: str,
    severity: Severity = "error",
    *,
    at_key: bool = False,
) -> Diagnostic:
    line, column = source.position(node, key=at_key)
    return Diagnostic(path, line, column, severity, message)


def _raise_on_errors(diagnostics: Iterable[Diagnostic]) -> None:
    found = list(diagnostics)
    if any(diagnostic.severity == "error" for diagnostic in found):
        raise FlowLoadError(found)
