"""Spoken audio for tests and the demo: text rendered by espeak-ng (:mod:`ivr.espeak`) into
Asterisk-ready files in the sandbox's sounds, and the pauses between a test caller's words."""

from __future__ import annotations

import os
from pathlib import Path

from ivr.espeak import (
    SLN16,
    TRIM_SILENCE,
    WAV_8K_MONO,
    EspeakError,
    render,
    sound_seconds,
    speech_key,
)

from .errors import SandboxError

__all__ = [
    "SLN16",
    "TRIM_SILENCE",
    "WAV_8K_MONO",
    "silence",
    "sound_file",
    "sound_seconds",
    "synthesize",
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
    key = name or speech_key(text, voice, speed)
    target = sounds_dir / subdir / f"{key}.{'sln16' if wide else 'wav'}"
    try:
        render(text, target, voice=voice, speed=speed, stamped=name is not None)
    except EspeakError as error:
        raise SandboxError(str(error)) from error
    return f"{sounds_dir.name}/{subdir}/{key}"


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
