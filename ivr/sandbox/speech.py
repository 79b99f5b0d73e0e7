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
    voice and speed, so a file that exists already is reused; a named file (a flow's prompt) is
    rendered anew each time, so that edited text is never shadowed by an old file.
    """
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} is missing: apt-get install espeak-ng sox")
    key = name or hashlib.sha1(f"{voice}\0{speed}\0{text}".encode()).hexdigest()[:16]
    target_dir = sounds_dir / subdir
    target = target_dir / f"{key}.wav"
    media = f"{sounds_dir.name}/{subdir}/{key}"
    if name is None and target.exists():
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
    return media


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
