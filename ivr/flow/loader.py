"""Load flows and grammars from YAML, reporting every problem at its line and column.

Validation is the model's (:mod:`ivr.flow.model`); this module turns pydantic's errors into
:class:`Diagnostic` s placed at the failing node, then runs the checks of
:mod:`ivr.flow.consistency` on what loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ivr.flow.consistency import check_flow, check_grammar, check_grammar_references
from ivr.flow.diagnostics import Diagnostic, FlowLoadError
from ivr.flow.model import Flow
from ivr.flow.source_file import NO_POSITIONS, SourceFile
from ivr.flow.yaml_source import read_yaml
from ivr.grammar.intents import Grammar

ModelT = TypeVar("ModelT", Flow, Grammar)
AnyModel = TypeVar("AnyModel", bound=BaseModel)


@dataclass(frozen=True)
class FlowSet:
    """Every flow and grammar of a configuration, checked against each other."""

    flows: Mapping[str, Flow]
    grammars: Mapping[str, Grammar]
    diagnostics: tuple[Diagnostic, ...] = ()
    """The warnings found while loading (errors make loading fail)."""
    files: Mapping[Path, SourceFile] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    """The files read, to place diagnostics found after loading (see :meth:`source_of`)."""

    def get(self, name: str) -> Flow | None:
        return self.flows.get(name)

    def source_of(self, model: Flow | Grammar) -> SourceFile:
        """The file ``model`` was read from; one without positions if it was not."""
        path = model.source or Path(model.name)
        return self.files.get(path) or SourceFile(path, NO_POSITIONS)


def load_grammar(path: Path | str) -> Grammar:
    """Load one grammar file; raise :class:`FlowLoadError` if it has errors."""
    grammar = _read(Grammar, Path(path))
    _raise_on_errors(check_grammar(grammar.model, grammar.file))
    return grammar.model


def load_flow(path: Path | str) -> Flow:
    """Load one flow file on its own (its grammars are not checked, see :func:`load_flows`)."""
    flow = _read(Flow, Path(path))
    _raise_on_errors(check_flow(flow.model, flow.file))
    return flow.model


def load_flows(flows_dir: Path, grammars_dir: Path) -> FlowSet:
    """Load every ``*.yaml`` and ``*.yml`` file of both directories and check them together.

    Raises :class:`FlowLoadError` with all the diagnostics found if any is an error.
    """
    return load_files(yaml_files(flows_dir), yaml_files(grammars_dir))


def load_files(flow_files: Iterable[Path], grammar_files: Iterable[Path]) -> FlowSet:
    """Load these flow and grammar files and check them together, like :func:`load_flows`."""
    diagnostics: list[Diagnostic] = []
    unreadable: set[str] = set()
    grammars = _read_all(Grammar, grammar_files, diagnostics, unreadable)
    flows = _read_all(Flow, flow_files, diagnostics, unreadable)
    grammar_models = {name: grammar.model for name, grammar in grammars.items()}
    for grammar in grammars.values():
        diagnostics += check_grammar(grammar.model, grammar.file)
    for flow in flows.values():
        diagnostics += check_flow(flow.model, flow.file)
        diagnostics += check_grammar_references(flow.model, flow.file, grammar_models, unreadable)
    diagnostics.sort()
    _raise_on_errors(diagnostics)
    return FlowSet(
        flows=MappingProxyType({name: flow.model for name, flow in flows.items()}),
        grammars=MappingProxyType(grammar_models),
        diagnostics=tuple(diagnostics),
        files=MappingProxyType(
            {loaded.file.path: loaded.file for loaded in (*grammars.values(), *flows.values())}
        ),
    )


COMPANION_KINDS = ("cases", "prompts")
"""What may sit beside a flow as ``FLOW.<kind>.yaml``: its regression cases, its prompt texts."""


def yaml_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files of ``directory``, sorted, without hidden ones and
    without a flow's companions (:func:`companion_kind`)."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in (".yaml", ".yml")
        and not path.name.startswith(".")
        and companion_kind(path) is None
        and path.is_file()
    )


def companion_kind(path: Path) -> str | None:
    """``"cases"`` for ``FLOW.cases.yaml``, ``"prompts"`` for ``FLOW.prompts.yaml``, else None."""
    kind = Path(path.stem).suffix.removeprefix(".")
    return kind if path.suffix in (".yaml", ".yml") and kind in COMPANION_KINDS else None


def companion_file(flow_source: Path, kind: str) -> Path | None:
    """The ``kind`` companion of the flow read from ``flow_source``, if there is one."""
    for suffix in (".yaml", ".yml"):
        candidate = flow_source.with_name(f"{flow_source.stem}.{kind}{suffix}")
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class _Loaded(Generic[ModelT]):
    """A validated model with the file it came from."""

    model: ModelT
    file: SourceFile


def load_model(model_type: type[AnyModel], path: Path | str) -> AnyModel:
    """Any pydantic model from a YAML file, with the same positioned errors as flows."""
    file = SourceFile(Path(path), read_yaml(Path(path)))
    return validate_in_file(model_type, file, file.source.data)


def _read(model_type: type[ModelT], path: Path) -> _Loaded[ModelT]:
    file = SourceFile(path, read_yaml(path))
    data = file.source.data
    if isinstance(data, dict):
        if "source" in data:  # set by the loader, not by the file
            raise FlowLoadError([file.diagnostic(("source",), "unknown key", at_key=True)])
        data = {"name": path.stem, **data, "source": path}
    return _Loaded(validate_in_file(model_type, file, data), file)


def validate_in_file(model_type: type[AnyModel], file: SourceFile, data: object) -> AnyModel:
    """``data`` (read from ``file``) as ``model_type``; errors are placed at their nodes."""
    try:
        return model_type.model_validate(data)
    except ValidationError as error:
        diagnostics = sorted(_from_pydantic(file, details) for details in error.errors())
        raise FlowLoadError(diagnostics) from None


def _read_all(
    model_type: type[ModelT],
    paths: Iterable[Path],
    diagnostics: list[Diagnostic],
    unreadable: set[str],
) -> dict[str, _Loaded[ModelT]]:
    """Read files by name; a file that fails is taken to define the name of its stem, in
    ``unreadable``, so that references to it do not add errors of their own."""
    kind = model_type.__name__.lower()
    loaded: dict[str, _Loaded[ModelT]] = {}
    for path in paths:
        try:
            item = _read(model_type, path)
        except FlowLoadError as error:
            diagnostics += error.diagnostics
            unreadable.add(path.stem)
            continue
        name = item.model.name
        if name in loaded:
            first = loaded[name].file.path
            diagnostics.append(
                item.file.diagnostic(("name",), f"{kind} {name!r} is already defined in {first}")
            )
        else:
            loaded[name] = item
    return loaded


def _from_pydantic(file: SourceFile, details: ErrorDetails) -> Diagnostic:
    loc: Sequence[object] = details["loc"]
    if details["type"] == "missing":
        message = f"missing required key {loc[-1]!r}"
        loc = loc[:-1]
    elif details["type"] == "extra_forbidden":
        message = "unknown key"
    elif details["type"] == "value_error":
        message = str(details["ctx"]["error"])
    else:
        message = details["msg"]
    return file.diagnostic(loc, message, at_key=details["type"] == "extra_forbidden")


def _raise_on_errors(diagnostics: Iterable[Diagnostic]) -> None:
    found = list(diagnostics)
    if any(diagnostic.severity == "error" for diagnostic in found):
        raise FlowLoadError(found)
