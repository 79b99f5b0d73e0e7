"""Recognition that hears the same audio the same way every time: Kaldi's dither, made repeatable.

Kaldi adds random noise ("dither") to every frame before computing features, unless the
model's ``conf/mfcc.conf`` says ``--dither=0``, drawing it from the process-wide C random
generator. Models that leave the option out (the Korean one does) then decode a clip
differently depending on everything decoded before it or beside it in the process: the
same clip decoded six times in one process gave six different results.

Turning the dither off is not enough: the models were trained with it, and telephone audio
(8 kHz, upsampled for the recognizer) has nothing at all above 4 kHz; without the dither's
noise floor those bands' features fall to Kaldi's floor, far from anything the model saw,
and words appear that nobody said (a test caller's "영업" came out as "영업 오류").

So the app does both: it loads the model from a derived directory whose ``mfcc.conf`` says
``--dither=0`` (the model's own files linked; built once per model in the cache; Vosk has
no API for it), and ``Dither`` adds the same noise Kaldi would (Gaussian, one 16-bit step
of standard deviation) from a generator of the recognizer's own, seeded alike for every
utterance: the noise is the same every time, so the result is too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ivr.cache import default_cache_dir

log = logging.getLogger(__name__)

MFCC_CONF = Path("conf") / "mfcc.conf"
NO_DITHER = "--dither=0"
DITHER = 1.0
"""Kaldi's default dither: noise of this standard deviation, in 16-bit sample steps."""
SEED = 0


class Dither:
    """Kaldi's dither, from a generator seeded alike for every utterance (one per recognizer):
    the same audio always gets the same noise, however it is cut into chunks."""

    def __init__(self, seed: int = SEED, amount: float = DITHER) -> None:
        self._noise = np.random.default_rng(seed)
        self._amount = amount

    def apply(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2")
        noisy = samples + self._noise.standard_normal(samples.size) * self._amount
        return np.clip(np.round(noisy), -32768, 32767).astype("<i2").tobytes()


def dither_off(conf: str) -> str:
    """An mfcc.conf's text with dithering turned off (any dither setting replaced)."""
    lines = [line for line in conf.splitlines() if not line.strip().startswith("--dither")]
    return "\n".join([*lines, NO_DITHER]) + "\n"


def is_undithered(model_dir: Path) -> bool:
    conf = model_dir / MFCC_CONF
    return conf.is_file() and dither_off(conf.read_text()) == conf.read_text()


def undithered_model(model_dir: Path, *, cache_dir: Path | None = None) -> Path:
    """The directory to load ``model_dir`` from so that it decodes deterministically: the
    model itself if it already turns dithering off, else its derived copy in the cache
    (made now if missing). Falls back to ``model_dir``, with a warning, if the cache cannot
    be written."""
    model_dir = model_dir.resolve()
    if is_undithered(model_dir):
        return model_dir
    conf = (model_dir / MFCC_CONF).read_bytes() if (model_dir / MFCC_CONF).is_file() else b""
    key = hashlib.sha1(str(model_dir).encode() + b"\0" + conf).hexdigest()[:12]
    # A packaged model's directory is just "model": name it by its package too.
    name = f"{model_dir.parent.name}-{model_dir.name}" if model_dir.name == "model" else model_dir.name
    target = (cache_dir or default_cache_dir()) / "models-undithered" / f"{name}-{key}"
    if target.is_dir():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as scratch:
            building = Path(scratch) / "model"
            _derive(model_dir, building, conf.decode())
            try:
                os.rename(building, target)
            except OSError:
                if not target.is_dir():  # not another process that got there first
                    raise
    except OSError as exc:
        log.warning(
            "cannot write an undithered copy of the model %s (%s): recognition will not be "
            "repeatable from one decode to the next",
            model_dir,
            exc,
        )
        return model_dir
    return target


def _derive(source: Path, target: Path, conf: str) -> None:
    """``target``: every entry of ``source`` linked, except ``conf/mfcc.conf``, rewritten."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name == MFCC_CONF.parent.name and entry.is_dir():
            (target / entry.name).mkdir()
            for item in entry.iterdir():
                if item.name != MFCC_CONF.name:
                    (target / entry.name / item.name).symlink_to(item)
        else:
            (target / entry.name).symlink_to(entry)
    (target / MFCC_CONF).parent.mkdir(exist_ok=True)
    (target / MFCC_CONF).write_text(dither_off(conf))

