"""``speech-ivr models``: list the Vosk models, download one, find it, check that it works.

Each command prints with rich and returns the process exit code: 0 done, 1 failed,
2 for an argument that names nothing.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import vosk
from rich.console import Console
from rich.filesize import decimal
from rich.table import Table

from ivr.speech.model_catalog import CATALOG, find_entry

from .download import ModelDownloadError, download_model
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


def list_models(*, cache_dir: Path | None = None, console: Console | None = None) -> int:
    """A table of the catalogue, the installed model packages and the downloaded models."""
    console = console or Console()
    cached = cached_models(cache_dir)
    packages = installed_model_packages()
    table = Table("name", "language", "size", title="Vosk models")
    table.add_column("installed", overflow="fold")  # a path is no use cut short
    table.add_column("note")
    for entry in CATALOG:
        where = packages.pop(entry.name, None) if entry.is_package else cached.pop(entry.name, None)
        table.add_row(
            entry.name,
            entry.language,
            decimal(entry.size) if entry.size else "",
            str(where) if where else "no",
            entry.note,
        )
    for name, where in packages.items():
        table.add_row(name, "", "", str(where), "model package")
    for name, where in cached.items():
        table.add_row(name, "", "", str(where), "downloaded")
    console.print(table)
    console.print(
        f"Downloads go to {model_cache_dir(cache_dir)}: "
        "get one with `speech-ivr models download NAME`.",
        markup=False,
        highlight=False,
    )
    return 0


def download(
    target: str,
    *,
    sha256: str | None = None,
    cache_dir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Download a catalogue model (by name) or any model zip (by URL), then say how to use it."""
    console = console or Console()
    entry = find_entry(target)
    if entry is not None and entry.is_package:
        installed = package_model_dir(entry.name)
        if installed is None:
            return _fail(f"{entry.name} is a Python package: pip install {entry.name}", code=1)
        _print_usage(console, installed, entry.name, entry.language)
        return 0
    if entry is None and "://" not in target:
        return _fail(
            f"no model named {target!r} in the catalogue "
            "(see `speech-ivr models list`): give its URL"
        )
    try:
        path = asyncio.run(
            download_model(entry or target, cache_dir, sha256=sha256, console=console)
        )
    except ValueError as exc:
        return _fail(str(exc), code=2)
    except ModelDownloadError as exc:
        return _fail(str(exc), code=1)
    _print_usage(console, path, path.name, entry.language if entry else None)
    return 0


def show_path(spec: str, *, cache_dir: Path | None = None, console: Console | None = None) -> int:
    """Print the directory of a model (a name, package or path); exit 1 when it is not installed."""
    try:
        path = resolve_model_path(spec, cache_dir=cache_dir)
    except ModelNotFound as exc:
        return _fail(str(exc), code=1)
    (console or Console()).print(str(path), markup=False, highlight=False, soft_wrap=True)
    return 0


def verify(spec: str, *, cache_dir: Path | None = None, console: Console | None = None) -> int:
    """Load a model with vosk and decode a second of silence with it, reporting what it offers."""
    console = console or Console()
    try:
        path = resolve_model_path(spec, cache_dir=cache_dir)
    except ModelNotFound as exc:
        return _fail(str(exc), code=1)
    # The spinner keeps turning while vosk loads: rich redraws from its own thread, and vosk's
    # C calls release the GIL.
    with console.status(f"loading {path}…"):
        try:
            trial = _try_model(path)
        # vosk raises a bare Exception when it cannot load a model
        except Exception as exc:  # noqa: BLE001
            return _fail(f"{path}: vosk cannot use it: {exc}", code=1)
    table = Table.grid(padding=(0, 2))
    table.add_row("model", str(path))
    table.add_row("loaded in", f"{trial.load_seconds:.1f} s")
    table.add_row("vocabulary", trial.vocabulary)
    table.add_row("unknown words", trial.unknown_words)
    table.add_row("1 s of silence", f"decoded as {trial.silence_text!r}")
    console.print(table, markup=False, highlight=False)
    return 0


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
    """Where the model is, and the setting that makes speech-ivr use it."""
    language = language or "LANGUAGE"
    environment = "SPEECH_IVR_MODELS=" + shlex.quote(json.dumps({language: name}))
    console.print(f"model in {path}", markup=False, highlight=False, soft_wrap=True)
    console.print("to use it, set", environment, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"or in the TOML settings file:\n[models]\n{language} = {json.dumps(name)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _fail(message: str, *, code: int = 2) -> int:
    Console(stderr=True).print(
        f"speech-ivr: {message}", style="red", markup=False, highlight=False, soft_wrap=True
    )
    return code
