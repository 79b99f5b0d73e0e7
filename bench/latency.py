"""End-of-speech -> arrival latency and CPU cost of real calls through the sandbox Asterisk.

    python bench/latency.py [--calls 20]

Starts (or reuses) the sandbox instance "bench", runs ``speech-ivr run`` against it as a
separate process, and places N calls one after another, then N calls all at once. Each
caller says one of the Korean switchboard phrases (those routed straight to a destination,
without a confirmation). The latency of a call is the time
from the caller's end of speech (the caller leg's UserEvent after its Playback) to the
call's arrival at its destination (the destination's UserEvent), both stamped by Asterisk.
CPU is read from /proc for the app and for Asterisk over each run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import cpu_seconds, percentile
from rich.console import Console
from rich.table import Table

from ivr.project import EXAMPLES_DIR
from ivr.sandbox import CallLab, Sandbox, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, install_prompts

PROJECT_DIR = Path(__file__).resolve().parent.parent
FLOW = "switchboard-ko"


@dataclass
class Run:
    mode: str
    latencies: list[float]
    correct: int
    calls: int
    wall: float
    app_cpu: float
    asterisk_cpu: float


async def one_call(lab: CallLab, info: SandboxInfo, intent: str) -> tuple[bool, float | None]:
    speech = SWITCHBOARD_KO_CALLERS[intent].render(info.sounds_dir)
    call = await lab.call(speech=speech, flow=FLOW, delay=1.0, hold=20)
    try:
        arrival = await call.arrival(timeout=60)
    except TimeoutError:
        print(f"{intent}: no arrival", file=sys.stderr)
        return False, None
    end_of_speech = await call.speech_end()
    await call.gone()
    if arrival.extension != intent:
        print(f"{intent}: arrived at {arrival.extension} ({arrival.variables.get('Result')})", file=sys.stderr)
    return arrival.extension == intent, arrival.at - end_of_speech


async def measure(mode: str, n: int, info: SandboxInfo, app_pid: int) -> Run:
    # Support leads to a sub-menu, and billing's caller is sometimes asked to confirm: both
    # are dialog turns, not decision latency.
    intents = sorted(set(SWITCHBOARD_KO_CALLERS) - {"support", "billing"})
    plan = [intents[i % len(intents)] for i in range(n)]
    cpu_app, cpu_ast, started = cpu_seconds(app_pid), cpu_seconds(info.pid), time.monotonic()
    async with CallLab(info) as lab:
        if mode == "sequential":
            results = [await one_call(lab, info, intent) for intent in plan]
        else:
            results = await asyncio.gather(*(one_call(lab, info, intent) for intent in plan))
        await lab.wait_idle(timeout=10)
    return Run(
        mode,
        [latency for _, latency in results if latency is not None],
        sum(ok for ok, _ in results),
        n,
        time.monotonic() - started,
        cpu_seconds(app_pid) - cpu_app,
        cpu_seconds(info.pid) - cpu_ast,
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    console = Console()
    sandbox = Sandbox("bench")
    info = await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    for spoken in SWITCHBOARD_KO_CALLERS.values():
        spoken.render(info.sounds_dir)
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "run", "--sandbox", "bench", "--default-flow", FLOW,
        "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars"),
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SPEECH_IVR_MONITOR_LISTEN": "127.0.0.1:0"},
    )
    try:
        async with CallLab(info) as lab:
            await lab.wait_for_app(timeout=60)
        runs = [await measure(mode, args.calls, info, app.pid) for mode in ("sequential", "concurrent")]
    finally:
        app.terminate()
        await app.wait()
        await asyncio.to_thread(sandbox.down)

    table = Table(title=f"{args.calls} calls, end of speech -> arrival at the destination")
    for column in ("mode", "correct", "median", "p95", "max", "app CPU / call", "Asterisk CPU / call", "app CPU % of a core"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            run.mode,
            f"{run.correct}/{run.calls}",
            f"{statistics.median(run.latencies) * 1000:.0f} ms",
            f"{percentile(run.latencies, 0.95) * 1000:.0f} ms",
            f"{max(run.latencies) * 1000:.0f} ms",
            f"{run.app_cpu / run.calls * 1000:.0f} ms",
            f"{run.asterisk_cpu / run.calls * 1000:.0f} ms",
            f"{run.app_cpu / run.wall * 100:.0f} %",
        )
    console.print(table)
    console.print(f"machine: {os.cpu_count()} CPUs; command: python bench/latency.py --calls {args.calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
