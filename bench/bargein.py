"""Barge-in: how fast the prompt stops when the caller speaks over it.

    python bench/bargein.py [--calls 20]

Runs the app in this process against the sandbox instance "bench" and places N calls
one after another, then N at once, into the Korean switchboard. Each caller starts
speaking 1 s into the 10-second main prompt. The figure is the time from the caller's
first word (the caller leg's UserEvent just before its Playback, stamped by Asterisk)
to the prompt's PlaybackFinished (stamped by Asterisk too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from common import percentile
from rich.console import Console
from rich.table import Table

from ivr.flow import load_flows
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import CallLab, Sandbox, SandboxInfo, parse_timestamp
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, install_prompts
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving
from ivr.telephony.router import AriEvent

PROJECT_DIR = Path(__file__).resolve().parent.parent
FLOW = "switchboard-ko"
PROMPT = "sound:speech-ivr/switchboard-ko/main"


async def one_call(lab: CallLab, info: SandboxInfo, events: list[AriEvent], intent: str) -> float | None:
    call = await lab.call(speech=SWITCHBOARD_KO_CALLERS[intent].render(info.sounds_dir), flow=FLOW, delay=1.0)
    await call.arrival(timeout=60)
    spoke = await call.speech_start()
    stopped = [
        parse_timestamp(e["timestamp"])
        for e in events
        if e["type"] == "PlaybackFinished"
        and e["playback"]["target_uri"] == f"channel:{call.other_id}"
        and e["playback"]["media_uri"] == PROMPT
    ]
    return stopped[0] - spoke if stopped else None


async def measure(concurrent: bool, n: int, info: SandboxInfo, events: list[AriEvent]) -> list[float]:
    intents = [i for i in sorted(SWITCHBOARD_KO_CALLERS) if i != "support"]
    plan = [intents[i % len(intents)] for i in range(n)]
    async with CallLab(info) as lab:
        if concurrent:
            results = await asyncio.gather(*(one_call(lab, info, events, i) for i in plan))
        else:
            results = [await one_call(lab, info, events, i) for i in plan]
        await lab.wait_idle(timeout=10)
    return [r for r in results if r is not None]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    sandbox = Sandbox("bench")
    info = await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    settings = info.app_settings(
        flows_dir=EXAMPLES_DIR / "flows", grammars_dir=EXAMPLES_DIR / "grammars", default_flow=FLOW
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), ModelStore(settings.models))
    events: list[AriEvent] = []
    app.router.monitors.append(events.append)
    try:
        async with serving(app):
            runs = {mode: await measure(mode == "concurrent", args.calls, info, events) for mode in ("sequential", "concurrent")}
    finally:
        await asyncio.to_thread(sandbox.down)
    table = Table(title=f"barge-in: caller's first word -> prompt stopped ({args.calls} calls)")
    for column in ("mode", "measured", "median", "p95", "max"):
        table.add_column(column, justify="right")
    for mode, values in runs.items():
        table.add_row(
            mode,
            f"{len(values)}/{args.calls}",
            f"{statistics.median(values) * 1000:.0f} ms",
            f"{percentile(values, 0.95) * 1000:.0f} ms",
            f"{max(values) * 1000:.0f} ms",
        )
    Console().print(table)
    print(f"machine: {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}; command: python bench/bargein.py --calls {args.calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
