"""Speech from text with espeak-ng and sox, as sound files Asterisk plays.

Shipped prompts (``speech-ivr prompts render``), the demo's and the tests' prompts, and what
their test callers say are all rendered here, so that the same text, voice and speed always
give the same bytes in the same place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

# Output format options: what Asterisk's format_wav plays (8 kHz mono 16-bit signed), and
# format_sln's 16 kHz raw signed linear (.sln16), which a slin16 channel plays as it is.
WAV_8K_MONO = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
SLN16 = ["-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L"]
FORMATS = {".wav": WAV_8K_MONO, ".sln16": SLN16}
"""The sox output options of each file extension :func:`render` writes."""
# Trim leading silence, reverse, trim the (former) trailing silence, reverse back: the file
# starts and ends with speech, so a prompt's barge-in window and a test caller's timings
# (CallerSpeechStart/End) bracket the words themselves.
TRIM_SILENCE = [
    "silence",
    "1",
    "0.02",
    "0.5%",
    "reverse",
    "silence",
    "1",
    "0.02",
    "0.5%",
    "reverse",
]
TOOLS = ("espeak-ng", "sox")


class EspeakError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


class EspeakMissing(EspeakError):
    """espeak-ng or sox is not installed."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} is not installed: apt-get install espeak-ng sox")


def require_tools() -> None:
    """Raise :class:`EspeakMissing` for the first of espeak-ng and sox not on ``PATH``."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            raise EspeakMissing(tool)


def speech_key(text: str, voice: str, speed: int) -> str:
    """A short hash of what a rendering says and how: a file whose key differs is stale."""
    return hashlib.sha1(f"{voice}\0{speed}\0{text}".encode()).hexdigest()[:16]


def stamp_of(target: Path) -> Path:
    """Where :func:`render` keeps the key of what ``target`` says: ``NAME.key`` beside it."""
    return target.with_suffix(".key")


def is_current(target: Path, text: str, *, voice: str, speed: int) -> bool:
    """Whether ``target`` exists and its stamp says it renders this text, voice and speed."""
    stamp = stamp_of(target)
    return (
        target.is_file()
        and stamp.is_file()
        and stamp.read_text(encoding="ascii", errors="replace").strip()
        == speech_key(text, voice, speed)
    )


def render(
    text: str,
    target: Path,
    *,
    voice: str,
    speed: int,
    stamped: bool = True,
    force: bool = False,
) -> bool:
    """Render ``text`` to ``target``: a ``.wav`` (8 kHz mono 16-bit) or ``.sln16`` file, with
    the silence before and after the words trimmed. Return whether it rendered.

    A ``stamped`` file keeps the :func:`speech_key` of what it says beside it (see
    :func:`stamp_of`) and is rendered again only when that changes, or with ``force``; an
    unstamped one (named by its key already) only when it is missing. Files are replaced
    atomically: Asterisk never plays half of one.
    """
    options = FORMATS.get(target.suffix)
    if options is None:
        raise ValueError(
            f"cannot render {target}: the extension is not one of {', '.join(FORMATS)}"
        )
    current = is_current(target, text, voice=voice, speed=speed) if stamped else target.is_file()
    if current and not force:
        return False
    require_tools()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".synth-") as scratch:
        spoken = Path(scratch) / "espeak.wav"
        converted = Path(scratch) / target.name
        # "--": a text starting with "-" is words, not an option.
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(spoken), "--", text])
        # -D: no dither, so the same text always gives the same bytes.
        _run(["sox", "-D", str(spoken), *options, str(converted), *TRIM_SILENCE])
        if sound_seconds(converted) == 0:
            raise EspeakError(f"espeak-ng voice {voice!r} produced no audible speech for {text!r}")
        # Same directory: atomic. The audio first: a stamp never vouches for older audio.
        os.replace(converted, target)
        if stamped:
            key = Path(scratch) / "key"
            key.write_text(speech_key(text, voice, speed), encoding="ascii")
            os.replace(key, stamp_of(target))
    return True


def sound_seconds(path: Path) -> float:
    """How long a .wav or .sln16 sound lasts."""
    if path.suffix == ".sln16":
        return path.stat().st_size / 32000
    with wave.open(str(path)) as audio:
        return float(audio.getnframes() / audio.getframerate())


def _run(command: list[str]) -> None:
    try:
        result = subprocess.run(
            command, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
    except FileNotFoundError:  # removed since require_tools looked
        raise EspeakMissing(command[0]) from None
    if result.returncode != 0:
        raise EspeakError(
            f"{command[0]} failed (exit {result.returncode}): {result.stderr.strip()}"
        )
