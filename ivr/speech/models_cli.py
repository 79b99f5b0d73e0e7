"""``speech-ivr models``: list the Vosk models, download or install one, find it, check it works.

Each command prints with rich and returns the process exit status (``ivr.exits.Exit``): OK;
PROBLEMS for a model that fails its checksum, will not unpack or will not load; USAGE for an
argument or a file that names no model; UNAVAILABLE when the model server cannot be reached.
A failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import vosk
from rich.console import Console
from rich.filesize import decimal
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table

from ivr.exits import Exit
from ivr.settings import DEFAULT_MODELS
from ivr.speech.model_catalog import CATALOG, LANGUAGE_NAMES, find_entry

from .download import (
    BadModelSource,
    ChecksumMismatch,
    ModelDownloadError,
    ModelServerUnavailable,
    download_model,
    install_model,
)
from .models import (
    ModelNotFound,
    cached_models,
    installed_model_packages,
    model_cache_dir,
    package_model_dir,
    resolve_model_path,
)
from .vocabulary import VocabularyError, model_vocabulary, unknown_word_token

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class _Listed:
    """A model of ``models list``: in the catalogue, or found installed."""

    name: str
    language: str | None
    size: int | None
    md5: str | None
    url: str | None
    installed: Path | None
    kind: Literal["download", "package", "downloaded"]
    note: str

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "language": self.language,
            "size": self.size,
            "md5": self.md5,
            "url": self.url,
            "installed": str(self.installed) if self.installed else None,
            "kind": self.kind,
        }


def list_models(
    *, cache_dir: Path | None = None, console: Console | None = None, as_json: bool = False
) -> int:
    """The catalogue, the installed model packages and the downloaded models: a table, or JSON."""
    console = console or Console()
    listed = _listed_models(cache_dir)
    if as_json:
        console.out(json.dumps([model.as_json() for model in listed], indent=2), highlight=False)
        return Exit.OK
    table = Table(title="Vosk models")
    table.add_column("name", no_wrap=True)  # a name is no use cut short: it is typed again
    table.add_column("language")
    table.add_column("size")
    table.add_column("installed", overflow="fold")  # folded, not cut: a path is no use cut
    table.add_column("note")
    for model in listed:
        table.add_row(
            model.name,
            model.language or "",
            decimal(model.size) if model.size else "",
            str(model.installed) if model.installed else "no",
            model.note,
        )
    _print_uncut(console, table)
    console.print(
        f"Downloads go to {model_cache_dir(cache_dir)}: get one with "
        "`speech-ivr models download NAME`, or `speech-ivr models install FILE.zip`.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return Exit.OK


def _listed_models(cache_dir: Path | None) -> list[_Listed]:
    cached = cached_models(cache_dir)
    packages = installed_model_packages()
    listed = []
    for entry in CATALOG:
        where = packages.pop(entry.name, None) if entry.is_package else cached.pop(entry.name, None)
        kind: Literal["package", "download"] = "package" if entry.is_package else "download"
        published = (entry.name, entry.language, entry.size, entry.md5, entry.url)
        listed.append(_Listed(*published, where, kind, entry.note))
    for name, where in packages.items():
        listed.append(_Listed(name, None, None, None, None, where, "package", "model package"))
    for name, where in cached.items():
        listed.append(_Listed(name, None, None, None, None, where, "downloaded", "downloaded"))
    return listed


def _print_uncut(console: Console, table: Table) -> None:
    """Print ``table`` so that no name is cut short or folded, however narrow the console.

    Rich fits a table to the console by folding cells and, when that is not enough, truncating
    them with an ellipsis, names included. So the table is laid out wider than the console when
    it must: piped (no terminal; rich assumes 80 columns) as wide as its widest row, in a
    terminal at least as wide as its longest words, the terminal wrapping the longer lines.
    ``console.print(width=...)`` cannot exceed the console's width, hence the rendering by hand.
    """
    measured = Measurement.get(console, console.options.update_width(sys.maxsize), table)
    if console.is_terminal:
        width = max(console.width, measured.minimum)
    else:
        width = measured.maximum
    console.print(Segments(console.render(table, console.options.update_width(width))), crop=False)


def download(
    target: str,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    cache_dir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Download a catalogue model (by name) or any model zip (by URL), then say how to use it."""
    console = console or Console()
    entry = find_entry(target)
    if entry is not None and entry.is_package:
        installed = package_model_dir(entry.name)
        if installed is None:
            return _fail(
                f"{entry.name} is a Python package: pip install {entry.name}", Exit.PROBLEMS
            )
        _print_usage(console, installed, entry.name, entry.language)
        return Exit.OK
    if entry is None and "://" not in target:
        return _fail(
            f"no model named {target!r} in the catalogue "
            "(see `speech-ivr models list`): give its URL",
            Exit.USAGE,
        )
    try:
        path = asyncio.run(
            download_model(entry or target, cache_dir, sha256=sha256, md5=md5, console=console)
        )
    except ValueError as exc:
        return _fail(str(exc), Exit.USAGE)
    except ModelServerUnavailable as exc:
        return _fail(str(exc), Exit.UNAVAILABLE)
    except ModelDownloadError as exc:
        return _fail(str(exc), Exit.PROBLEMS)
    except OSError as exc:  # the cache: no room, no permission
        return _fail(str(exc), Exit.PROBLEMS)
    _print_usage(console, path, path.name, entry.language if entry else None)
    return Exit.OK


def install(
    source: Path,
    *,
    name: str | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    cache_dir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Install a model zip or unpacked model directory into the cache, with no network at all."""
    console = console or Console()
    try:
        path = install_model(source, cache_dir, name=name, md5=md5, sha256=sha256, console=console)
    except ValueError as exc:
        return _fail(str(exc), Exit.USAGE)
    except ChecksumMismatch as exc:
        return _fail(str(exc), Exit.PROBLEMS)
    except BadModelSource as exc:
        return _fail(str(exc), Exit.USAGE)
    except ModelDownloadError as exc:
        return _fail(str(exc), Exit.PROBLEMS)
    except OSError as exc:  # reading the source, writing the cache
        return _fail(str(exc), Exit.PROBLEMS)
    entry = find_entry(path.name)
    _print_usage(console, path, path.name, entry.language if entry else None)
    return Exit.OK


def show_path(spec: str, *, cache_dir: Path | None = None, console: Console | None = None) -> int:
    """Print the directory of a model (a name, package or path); exit 1 when it is not installed."""
    try:
        path = resolve_model_path(spec, cache_dir=cache_dir)
    except ModelNotFound as exc:
        return _fail(str(exc), Exit.PROBLEMS)
    (console or Console()).print(str(path), markup=False, highlight=False, soft_wrap=True)
    return 0


def verify(spec: str, *, cache_dir: Path | None = None, console: Console | None = None) -> int:
    """Load a model with vosk and decode a second of silence with it, reporting what it offers."""
    console = console or Console()
    try:
        path = resolve_model_path(spec, cache_dir=cache_dir)
    except ModelNotFound as exc:
        return _fail(str(exc), Exit.PROBLEMS)
    # The spinner keeps turning while vosk loads: rich redraws from its own thread, and vosk's
    # C calls release the GIL.
    with console.status(f"loading {path}…"):
        try:
            trial = _try_model(path)
        # vosk raises a bare Exception when it cannot load a model
        except Exception as exc:  # noqa: BLE001
            return _fail(f"{path}: vosk cannot use it: {exc}", Exit.PROBLEMS)
    table = Table.grid(padding=(0, 2))
    table.add_row("model", str(path))
    table.add_row("loaded in", f"{trial.load_seconds:.1f} s")
    table.add_row("vocabulary", trial.vocabulary)
    table.add_row("unknown words", trial.unknown_words)
    table.add_row("1 s of silence", f"decoded as {trial.silence_text!r}")
    console.print(table, markup=False, highlight=False)
    return Exit.OK


@dataclass(frozen=True)
class _Trial:
    load_seconds: float
    vocabulary: str
    unknown_words: str
    silence_text: str


def _try_model(path: Path) -> _Trial:
    started = time.perf_counter()
    model = vosk.Model(str(path))
    load_seconds = time.perf_counter() - started
    recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
    recognizer.AcceptWaveform(bytes(2 * SAMPLE_RATE))  # one second of 16-bit silence
    silence_text = json.loads(recognizer.FinalResult())["text"]
    words_txt = path / "graph" / "words.txt"
    try:
        source = "graph/words.txt" if words_txt.is_file() else "from graph/Gr.fst"
        words = f"{len(model_vocabulary(path)):,} words ({source})"
    except VocabularyError as exc:
        words = f"unreadable: {exc}"
    unknown = unknown_word_token(path)
    return _Trial(
        load_seconds,
        words,
        f"{unknown} (grammars can catch words outside them)" if unknown else "no [unk] token",
        silence_text,
    )


def _print_usage(console: Console, path: Path, name: str, language: str | None) -> None:
    """Where the model is, and the ``[models]`` table of config.toml that makes speech-ivr use it.

    The configured models add to the built-in ones (``DEFAULT_MODELS``), language by language,
    so the table needs only the new model's line.
    """
    lines = [f"model in {path}"]
    if language is not None and DEFAULT_MODELS.get(language) == name:
        lines.append(f"it is the built-in {_language_name(language)} model: nothing to configure")
    else:
        if language is not None and language in DEFAULT_MODELS:
            effect = f"it replaces the built-in {_language_name(language)} model"
        else:
            effect = "it adds to the built-in " + _built_in_models()
        lines += [
            f"to use it, add to config.toml ({effect}):",
            "[models]",
            f"{language or 'LANGUAGE'} = {json.dumps(name)}",
        ]
        if language is None:
            lines.append("(replace LANGUAGE with the language code of the model, such as en)")
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _built_in_models() -> str:
    return " and ".join(f"{_language_name(language)} model" for language in DEFAULT_MODELS)


def _language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, repr(code))


def _fail(message: str, code: Exit) -> int:
    """Say what failed, on one line of stderr (soft_wrap: rich folds nothing); return ``code``."""
    Console(stderr=True).print(
        f"speech-ivr: {message}", style="red", markup=False, highlight=False, soft_wrap=True
    )
    return code
