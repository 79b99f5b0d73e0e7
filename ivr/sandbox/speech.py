"""Spoken audio for tests and the demo: text rendered by espeak-ng into Asterisk-ready WAV files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from .errors import SandboxError

# Output format options: what Asterisk's format_wav plays (8 kHz mono 16-bit signed), and
# format_sln's 16 kHz raw signed linear (.sln16), which a slin16 channel plays as it is.
WAV_8K_MONO = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
SLN16 = ["-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L"]
# Trim leading silence, reverse, trim the (former) trailing silence, reverse back: the file starts
# and ends with speech, so test timings (CallerSpeechStart/End) bracket the words themselves.
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


def synthesize(
    text: str,
    sounds_dir: Path,
    *,
    voice: str = "ko+f2",
    speed: int = 130,
    subdir: str = "tts",
    name: str | None = None,
    wide: bool = False,
) -> str:
    """Render `text` to `sounds_dir/subdir/<name>.wav` (8 kHz mono 16-bit), or with `wide`
    to `<name>.sln16` (16 kHz: what a test caller says, which a slin16 Local channel hands
    to the app sample for sample); return its media name.

    `sounds_dir` is a directory directly under Asterisk's sounds root (`SandboxInfo.sounds_dir`);
    the returned name is relative to that root and has no extension, e.g. `speech-ivr/tts/3fa2...`,
    ready for `Playback()` or ARI `sound:`. Without a `name` the file is named by a hash of text,
    voice and speed; a named file (a flow's prompt) keeps that hash beside it in `<name>.key`.
    Either way a file is rendered again only when what it says has changed.
    """
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} is missing: apt-get install espeak-ng sox")
    digest = hashlib.sha1(f"{voice}\0{speed}\0{text}".encode()).hexdigest()[:16]
    key = name or digest
    target_dir = sounds_dir / subdir
    target = target_dir / f"{key}.{'sln16' if wide else 'wav'}"
    stamp = target.with_suffix(".key")
    media = f"{sounds_dir.name}/{subdir}/{key}"
    if target.exists() and (name is None or (stamp.exists() and stamp.read_text() == digest)):
        return media

    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".synth-") as scratch:
        spoken = Path(scratch) / "espeak.wav"
        converted = Path(scratch) / target.name
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(spoken), text])
        # -D: no dither, so the same text always gives the same bytes.
        _run(["sox", "-D", str(spoken), *(SLN16 if wide else WAV_8K_MONO), str(converted), *TRIM_SILENCE])
        if sound_seconds(converted) == 0:
            raise SandboxError(f"espeak-ng voice {voice!r} produced no audible speech for {text!r}")
        os.replace(converted, target)  # same directory: atomic, readers never see half a file
    if name is not None:
        stamp.write_text(digest)
    return media


def silence(seconds: float, sounds_dir: Path, *, subdir: str = "tts") -> str:
    """A pause of `seconds` as a sound (16 kHz zeros): the gaps of a scripted caller."""
    name = f"silence-{round(seconds * 1000)}ms"
    target = sounds_dir / subdir / f"{name}.sln16"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.partial")
        partial.write_bytes(bytes(2 * round(seconds * 16000)))
        os.replace(partial, target)
    return f"{sounds_dir.name}/{subdir}/{name}"


def sound_file(sounds_dir: Path, media: str) -> Path:
    """The file of a media name (relative to Asterisk's sounds root, as `synthesize` returns)."""
    base = sounds_dir.parent / media
    for suffix in (".sln16", ".wav"):
        if base.with_suffix(suffix).exists():
            return base.with_suffix(suffix)
    raise SandboxError(f"no sound file for {media!r} under {sounds_dir.parent}")


def sound_seconds(path: Path) -> float:
    """How long a .wav or .sln16 sound lasts."""
    if path.suffix == ".sln16":
        return path.stat().st_size / 32000
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SandboxError(
            f"{command[0]} failed (exit {result.returncode}): {result.stderr.strip()}"
        )
