"""Clips as real calls: through the sandbox Asterisk into a running ``speech-ivr run``.

Each clip is installed as a 16 kHz ``.sln16`` sound, so Asterisk plays exactly its samples
(a Local channel in slin16: no resampling); the caller leg plays it a second after the call
is answered, like the simulator's caller. What the app decided is read from Asterisk's side:
the first prompt it played after the menu's question (a "did you say ...?", a reprompt, a
sub-menu) or the destination the call reached. The call is then hung up. The app's own log
gives the transcript it heard (for looking into a disagreement; the decision is Asterisk's),
and its recordings what reached it (``ivr.sandbox.damage``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import cpu_seconds
from corpus import Clip
from decisions import Decision, PromptReader

from ivr.audio import read_wav
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import CallLab, Sandbox, SandboxInfo, parse_timestamp
from ivr.sandbox.calls import PlacedCall
from ivr.sandbox.damage import frames_damaged
from ivr.sandbox.prompts import install_prompts

PROJECT_DIR = Path(__file__).resolve().parent.parent
SANDBOX = "bench-accuracy"
CALLER_DELAY = 1.0
DECISION_TIMEOUT = 60.0
HEARD = re.compile(r" (?P<channel>\S+): menu (?P<menu>\S+) heard '(?P<words>.*)': (?P<verdict>\S+)")


@dataclass(frozen=True)
class LiveResult:
    clip: str
    decision: Decision
    """``at``: Asterisk's timestamp of the decision."""
    words_end: float | None
    """When the clip's words ended, by Asterisk's clock (its playback start + the words' end)."""
    heard: str | None
    """What the app's log says it heard first (its INFO line per answer)."""
    damaged: int | None
    """20 ms frames of the clip (up to the decision) that did not reach the app as they were
    sent: lost, repeated or changed; None when the app's recording was not found."""


@dataclass
class LiveRun:
    results: list[LiveResult]
    seconds: float
    app_cpu: float
    asterisk_cpu: float


async def run_live(
    clips: Sequence[Clip],
    reader: PromptReader,
    menu_prompt: str,
    *,
    calls: int,
    flow: str,
    progress: Callable[[], None] | None = None,
) -> LiveRun:
    sandbox = Sandbox(SANDBOX)
    info = await asyncio.to_thread(sandbox.up)
    scratch = Path(tempfile.mkdtemp(prefix="speech-ivr-accuracy-"))
    log_file, recordings = scratch / "app.log", scratch / "heard"
    app = None
    try:
        await asyncio.to_thread(install_prompts, info.sounds_dir)
        media = await asyncio.to_thread(_install_clips, info, clips)
        with log_file.open("w") as log:
            app = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr", "run", "--sandbox", SANDBOX,
                "--default-flow", flow,
                "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars"),
                stderr=log,
                env={**os.environ, "SPEECH_IVR_RECORD_DIR": str(recordings), "SPEECH_IVR_MONITOR_LISTEN": "127.0.0.1:0"},
            )
        async with CallLab(info) as lab:
            await lab.wait_for_app(timeout=60)
            started = time.monotonic()
            cpu_app, cpu_ast = cpu_seconds(app.pid), cpu_seconds(info.pid)
            limit = asyncio.Semaphore(calls)

            async def one(clip: Clip) -> tuple[Clip, PlacedCall, Decision, float | None]:
                async with limit:
                    call = await lab.call(speech=media[clip.id], flow=flow, delay=CALLER_DELAY, hold=60)
                    decision = await _decision(lab, call, reader, menu_prompt)
                    await call.hangup()
                    await call.gone()
                    spoke = await call.speech_start()
                    if progress is not None:
                        progress()
                    words_end = spoke + clip.speech_end if clip.speech_end is not None else None
                    return clip, call, decision, words_end

            placed = await asyncio.gather(*(one(clip) for clip in clips))
            seconds = time.monotonic() - started
            app_cpu, asterisk_cpu = cpu_seconds(app.pid) - cpu_app, cpu_seconds(info.pid) - cpu_ast
            names = _channel_names(lab)
    finally:
        if app is not None:
            app.terminate()
            await app.wait()
        await asyncio.to_thread(sandbox.down)
    heard = _heard(log_file.read_text())
    results = [
        LiveResult(
            clip.id, decision, words_end, heard.get(names.get(call.other_id, "")),
            _damage(clip, recordings / f"{call.other_id}.wav"),
        )
        for clip, call, decision, words_end in placed
    ]
    shutil.rmtree(scratch, ignore_errors=True)
    return LiveRun(results, seconds, app_cpu, asterisk_cpu)


def _damage(clip: Clip, recording: Path) -> int | None:
    if not recording.exists():
        return None
    return frames_damaged(read_wav(clip.path), read_wav(recording))


def _install_clips(info: SandboxInfo, clips: Sequence[Clip]) -> dict[str, str]:
    """Each clip as ``speech-ivr/bench/<id>.sln16``: raw 16 kHz PCM, played sample for sample."""
    directory = info.sounds_dir / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    media = {}
    for clip in clips:
        name = clip.id.replace(".", "_")
        (directory / f"{name}.sln16").write_bytes(read_wav(clip.path))
        media[clip.id] = f"{info.sounds_dir.name}/bench/{name}"
    return media


async def _decision(lab: CallLab, call: PlacedCall, reader: PromptReader, menu_prompt: str) -> Decision:
    """The first thing Asterisk saw the app do with the caller's answer."""

    def decided(event: dict) -> bool:  # type: ignore[type-arg]
        if event["type"] == "ChannelUserevent" and event.get("eventname") == "IvrArrived":
            return event["channel"]["id"] in (call.id, call.other_id)
        if event["type"] == "PlaybackStarted":
            playback = event["playback"]
            return playback["target_uri"] == f"channel:{call.other_id}" and playback["media_uri"] != menu_prompt
        return False

    event = await lab.wait_for(decided, DECISION_TIMEOUT)
    at = parse_timestamp(event["timestamp"])
    if event["type"] == "PlaybackStarted":
        found = reader.read(event["playback"]["media_uri"])
        return Decision(found.verdict, found.intent, at=at) if found else Decision("unknown", at=at)
    fields = event["userevent"]
    result = fields.get("Result", "")
    if result == "matched" or result == "dtmf":
        return Decision("accept", fields.get("Intent") or None, fields.get("Transcript", ""), at)
    return Decision("no-input" if result == "no-input" else "reject", transcript=fields.get("Transcript", ""), at=at)


def _channel_names(lab: CallLab) -> dict[str, str]:
    return {
        seen.data["channel"]["id"]: seen.data["channel"]["name"]
        for seen in lab.events
        if seen.data.get("type") == "ChannelCreated" and isinstance(seen.data.get("channel"), dict)
    }


def _heard(log: str) -> dict[str, str]:
    """Channel name -> the first words the app heard in its menu (``-v`` log lines)."""
    heard: dict[str, str] = {}
    for line in log.splitlines():
        found = HEARD.search(line)
        if found and found["verdict"] != "listen-on":
            heard.setdefault(found["channel"], found["words"])
    return heard
