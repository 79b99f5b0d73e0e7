"""CPU cost per call of each way of tapping the caller, app and Asterisk apart.

    python bench/transports.py [--calls 20 100] [--seconds 8]

For each transport, runs ``speech-ivr run`` as its own process (its own ARI application)
against the sandbox instance "bench" and places N calls at once that stay silent in the
Korean switchboard's main menu (its prompt plays; no speech, so no decoding: what is
measured is the tap, the VAD and the call control). CPU is read from /proc for the app
and for Asterisk from the first call placed to the last one gone. stream-channel runs
through the test double of Wazo's module, which taps with externalMedia itself: its
Asterisk figure is the double's, not the real module's (measured apart at 8 to 36 % of a
core per stream: the module spins while it waits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from common import cpu_seconds
from rich.console import Console
from rich.table import Table

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ivr.project import EXAMPLES_DIR
from ivr.sandbox import CallLab, Sandbox, SandboxInfo  # noqa: E402
from ivr.sandbox.prompts import install_prompts  # noqa: E402
from tests.stream_channel_double import StreamChannelDouble  # noqa: E402

TRANSPORTS = ("websocket", "rtp", "audiosocket", "stream-channel")


async def run_app(info: SandboxInfo, transport: str, stream_url: str) -> asyncio.subprocess.Process:
    environment = {
        **os.environ,
        "SPEECH_IVR_APP": f"bench-{transport}",
        "SPEECH_IVR_TRANSPORT": transport,
        "SPEECH_IVR_STREAM_CHANNEL_URL": stream_url,
        "SPEECH_IVR_WATCH_FLOWS": "false",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "run", "--sandbox", "bench", "--default-flow", "switchboard-ko",
        "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars"),
        env=environment, stderr=asyncio.subprocess.DEVNULL,
    )


async def measure(info: SandboxInfo, transport: str, calls: int, seconds: float, stream_url: str) -> tuple[float, float]:
    app = await run_app(info, transport, stream_url)
    try:
        async with CallLab(info) as lab:
            await lab.wait_for_app(f"bench-{transport}", timeout=60)
            formats = "ulaw" if transport == "stream-channel" else "slin16"
            app_cpu, asterisk_cpu = cpu_seconds(app.pid), cpu_seconds(info.pid)
            placed = await asyncio.gather(
                *(
                    lab.call(endpoint=f"Local/bench-{transport}@ivr-app", formats=formats, hangup_after=seconds)
                    for _ in range(calls)
                )
            )
            await asyncio.gather(*(call.gone(timeout=seconds + 30) for call in placed))
            await lab.wait_idle(timeout=10)
            return cpu_seconds(app.pid) - app_cpu, cpu_seconds(info.pid) - asterisk_cpu
    finally:
        app.terminate()
        await app.wait()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each call lasts")
    args = parser.parse_args()
    sandbox = Sandbox("bench")
    info = await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    table = Table(title=f"CPU per call of {args.seconds:.0f} s, all calls at once (ms of CPU; % of one core)")
    for column in ("transport", "calls", "app", "Asterisk", "app % / call", "Asterisk % / call"):
        table.add_column(column, justify="right")
    try:
        async with StreamChannelDouble(info) as double:
            for transport in TRANSPORTS:
                for calls in args.calls:
                    app_cpu, asterisk_cpu = await measure(info, transport, calls, args.seconds, double.url)
                    table.add_row(
                        transport,
                        str(calls),
                        f"{app_cpu / calls * 1000:.0f} ms",
                        f"{asterisk_cpu / calls * 1000:.0f} ms",
                        f"{app_cpu / calls / args.seconds * 100:.1f} %",
                        f"{asterisk_cpu / calls / args.seconds * 100:.1f} %",
                    )
    finally:
        await asyncio.to_thread(sandbox.down)
    Console().print(table)
    print(f"machine: {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}; command: python bench/transports.py --calls {' '.join(map(str, args.calls))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
