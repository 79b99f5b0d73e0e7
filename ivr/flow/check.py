"""``speech-ivr check``: load flows and grammars as the app would and report every problem
(and those of each flow's test cases and prompt texts, ``FLOW.cases.yaml`` and
``FLOW.prompts.yaml``).

Paths name what to check::

    speech-ivr check                          # ./flows and ./grammars
    speech-ivr check /etc/speech-ivr          # a project: its flows/ and grammars/
    speech-ivr check flows grammars           # the two directories
    speech-ivr check flows/switchboard-en.yaml --sounds /var/lib/asterisk/sounds
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ivr.flow.cases import load_cases
from ivr.flow.diagnostics import Diagnostic, FlowLoadError
from ivr.flow.loader import FlowSet, companion_file, load_files, yaml_files
from ivr.flow.prompt_texts import check_flow_set_texts
from ivr.flow.sound_check import missing_prompts
from ivr.flow.vocabulary_check import unknown_words

FLOWS_DIR = "flows"
GRAMMARS_DIR = "grammars"


@dataclass(frozen=True)
class ConfigFiles:
    """The flow and grammar files that paths name, and the paths that could not be read."""

    flows: tuple[Path, ...]
    grammars: tuple[Path, ...]
    problems: tuple[Diagnostic, ...] = ()

    @property
    def count(self) -> int:
        return len(self.flows) + len(self.grammars)


def config_files(paths: Sequence[Path]) -> ConfigFiles:
    """Sort the YAML files that ``paths`` name into flows and grammars.

    A directory with a ``flows/`` or ``grammars/`` subdirectory is a project and stands for
    them. A directory named ``grammars``, or a file in one, holds grammars; any other
    directory or file, flows. No paths: ``./flows`` and ``./grammars``. Flows given
    without grammars are checked with the ``grammars/`` directory next to theirs, if any.
    """
    flows: list[Path] = []
    grammars: list[Path] = []
    problems: list[Diagnostic] = []
    for path in _expand_projects(paths or [Path(FLOWS_DIR), Path(GRAMMARS_DIR)]):
        if path.is_dir():
            try:
                named = yaml_files(path)
            except OSError as error:
                problems.append(_unreadable(path, f"cannot read the directory: {error.strerror}"))
                continue
        elif path.is_file():
            named = [path]
        else:
            problems.append(_unreadable(path, "no such file or directory"))
            continue
        (grammars if _in_grammars(path) else flows).extend(named)
    if flows and not grammars:
        beside = dict.fromkeys(flow.parent.parent / GRAMMARS_DIR for flow in flows)
        for directory in beside:
            grammars += yaml_files(directory) if directory.is_dir() else []
    return ConfigFiles(tuple(dict.fromkeys(flows)), tuple(dict.fromkeys(grammars)), tuple(problems))


def check_paths(
    paths: Sequence[Path], *, sounds_dirs: Sequence[Path] = ()
) -> tuple[FlowSet | None, list[Diagnostic]]:
    """Check the flows and grammars that ``paths`` name (see :func:`config_files`).

    Returns the flows (None if there is any error) and every diagnostic, sorted.
    """
    return check_files(config_files(paths), sounds_dirs=sounds_dirs)


def check_files(
    files: ConfigFiles,
    *,
    sounds_dirs: Sequence[Path] = (),
    vocabularies: Callable[[str], frozenset[str] | None] | None = None,
) -> tuple[FlowSet | None, list[Diagnostic]]:
    """Load ``files`` together and, with ``sounds_dirs``, look for their prompts' audio;
    with ``vocabularies`` (language -> the model's words, or None), check grammar words.

    Returns the flows (None if there is any error) and every diagnostic, sorted.
    """
    diagnostics = list(files.problems)
    diagnostics += (
        _unreadable(directory, "no such directory")
        for directory in sounds_dirs
        if not directory.is_dir()
    )
    diagnostics += _case_problems(files.flows)
    try:
        flow_set = load_files(files.flows, files.grammars)
    except FlowLoadError as error:
        return None, sorted([*diagnostics, *error.diagnostics])
    diagnostics += flow_set.diagnostics
    diagnostics += check_flow_set_texts(flow_set)
    if sounds_dirs:
        diagnostics += missing_prompts(flow_set, sounds_dirs)
    if vocabularies is not None:
        languages = {grammar.language for grammar in flow_set.grammars.values()}
        known = {language: vocabularies(language) for language in sorted(languages)}
        diagnostics += unknown_words(flow_set, {k: v for k, v in known.items() if v is not None})
    return (None if _has_errors(diagnostics) else flow_set), sorted(diagnostics)


def format_report(diagnostics: Iterable[Diagnostic], *, files: int | None = None) -> str:
    """One ``FILE:LINE:COL: severity: message`` line per diagnostic, sorted by file and line,
    then ``2 errors, 1 warning`` (``in 4 files`` given how many were checked)."""
    ordered = sorted(diagnostics)
    errors = sum(diagnostic.severity == "error" for diagnostic in ordered)
    summary = f"{_counted(errors, 'error')}, {_counted(len(ordered) - errors, 'warning')}"
    if files is not None:
        summary += f" in {_counted(files, 'file')}"
    return "\n".join([*map(str, ordered), summary])


def run_check(
    paths: Sequence[Path],
    sounds_dirs: Sequence[Path],
    out: TextIO,
    vocabularies: Callable[[str], frozenset[str] | None] | None = None,
    *,
    strict: bool = False,
) -> int:
    """Check, print the report to ``out`` and return the exit status: 1 on errors (with
    ``strict``, on warnings too), else 0."""
    files = config_files(paths)
    _, diagnostics = check_files(files, sounds_dirs=sounds_dirs, vocabularies=vocabularies)
    print(format_report(diagnostics, files=files.count), file=out)
    failed = _has_errors(diagnostics) or (strict and bool(diagnostics))
    return 1 if failed else 0


def _case_problems(flow_files: Iterable[Path]) -> list[Diagnostic]:
    """The errors of the flows' test cases (``FLOW.cases.yaml`` beside each flow)."""
    problems: list[Diagnostic] = []
    for flow_file in flow_files:
        cases = companion_file(flow_file, "cases")
        if cases is not None:
            try:
                load_cases(cases)
            except FlowLoadError as error:
                problems += error.diagnostics
    return problems


def _expand_projects(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        parts = [path / FLOWS_DIR, path / GRAMMARS_DIR]
        yield from [part for part in parts if part.is_dir()] or [path]


def _in_grammars(path: Path) -> bool:
    return (path if path.is_dir() else path.parent).name == GRAMMARS_DIR


def _unreadable(path: Path, message: str) -> Diagnostic:
    return Diagnostic(path, 1, 1, "error", message)


def _has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(diagnostic.severity == "error" for diagnostic in diagnostics)


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
