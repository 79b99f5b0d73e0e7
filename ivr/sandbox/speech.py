"""Spoken audio for tests and the demo: text rendered by espeak-ng into Asterisk-ready WAV files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from .errors import SandboxError

# Output format options: what Asterisk's format_wav plays (8 kHz mono 16-bit signed).
WAV_8K_MONO = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
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
) -> str:
    """Render `text` to `sounds_dir/subdir/<name>.wav` (8 kHz mono 16-bit); return its media name.

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
    target = target_dir / f"{key}.wav"
    stamp = target.with_suffix(".key")
    media = f"{sounds_dir.name}/{subdir}/{key}"
    if target.exists() and (name is None or (stamp.exists() and stamp.read_text() == digest)):
        return media

    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".synth-") as scratch:
        spoken = Path(scratch) / "espeak.wav"
        converted = Path(scratch) / f"{key}.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(spoken), text])
        # -D: no dither, so the same text always gives the same bytes.
        _run(["sox", "-D", str(spoken), *WAV_8K_MONO, str(converted), *TRIM_SILENCE])
        with wave.open(str(converted)) as result:
            if result.getnframes() == 0:
                raise SandboxError(
                    f"espeak-ng voice {voice!r} produced no audible speech for {text!r}"
                )
        os.replace(converted, target)  # same directory: atomic, readers never see half a file
    if name is not None:
        stamp.write_text(digest)
    return media


def silence(seconds: float, sounds_dir: Path, *, subdir: str = "tts") -> str:
    """A pause of `seconds` as a sound (8 kHz WAV of zeros): the gaps of a scripted caller."""
    name = f"silence-{round(seconds * 1000)}ms"
    target = sounds_dir / subdir / f"{name}.wav"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial.wav")
        _run(["sox", "-n", *WAV_8K_MONO, str(partial), "trim", "0", f"{seconds:.3f}"])
        os.replace(partial, target)
    return f"{sounds_dir.name}/{subdir}/{name}"


async def synthesize_async(
    text: str,
    sounds_dir: Path,
    *,
    voice: str = "ko+f2",
    speed: int = 130,
    subdir: str = "tts",
    name: str | None = None,
) -> str:
    """`synthesize` in a worker thread, for use inside an event loop."""
    return await asyncio.to_thread(
        synthesize, text, sounds_dir, voice=voice, speed=speed, subdir=subdir, name=name
    )


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SandboxError(
            f"{command[0]} failed (exit {result.returncode}): {result.stderr.strip()}"
        )
