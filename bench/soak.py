"""Soak: many calls, a few at a time, through the sandbox Asterisk into ``speech-ivr run``;
what is left at the end must be what was there at the start.

    python bench/soak.py [--calls 1000] [--concurrency 20]

Each caller says one of the Korean switchboard phrases that route without a confirmation
straight to a destination (``SWITCHBOARD_KO_CALLERS`` but support, a sub-menu), in turn. Printed: the calls routed right, and at the start and
at the end the channels and bridges Asterisk has, the app's asyncio tasks (its
``ivr_asyncio_tasks`` metric), its open file descriptors and its RSS (from /proc).
tests/real/test_soak.py runs a short soak (100 calls) in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.flow import load_flow  # noqa: E402
from ivr.project import EXAMPLES_DIR  # noqa: E402
from ivr.sandbox import CallLab, Sandbox, SandboxInfo  # noqa: E402
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, install_prompts  # noqa: E402

FLOW = "switchboard-ko"
APP = "ivr-soak"
KEEPALIVE_SECONDS = 20.0


@dataclass(frozen=True)
class Snapshot:
    channels: int
    bridges: int
    tasks: int
    fds: int
    rss_mb: float


@dataclass(frozen=True)
class Soak:
    calls: int
    routed_right: int
    wall: float
    start: Snapshot
    end: Snapshot

    def table(self) -> str:
        lines = [f"{'':<10}{'start':>10}{'end':>10}"]
        for name in ("channels", "bridges", "tasks", "fds", "rss_mb"):
            lines.append(f"{name:<10}{getattr(self.start, name):>10}{getattr(self.end, name):>10}")
        right = f"{self.routed_right}/{self.calls} routed right ({100 * self.routed_right / self.calls:.1f} %)"
        return "\n".join([right, f"{self.calls / self.wall * 60:.0f} calls a minute", *lines])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _snapshot(lab: CallLab, pid: int, metrics_url: str) -> Snapshot:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    async with aiohttp.ClientSession() as http, http.get(metrics_url) as response:
        metrics = await response.text()
    tasks = next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("ivr_asyncio_tasks "))
    return Snapshot(
        channels=len(await lab.channels()),
        bridges=len(await lab.bridges()),
        tasks=int(tasks),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        rss_mb=round(rss_kb / 1024, 1),
    )


async def soak(info: SandboxInfo, *, calls: int, concurrency: int) -> Soak:
    """Run the app against ``info`` and place ``calls`` calls, ``concurrency`` at a time."""
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    main = load_flow(EXAMPLES_DIR / "flows" / f"{FLOW}.yaml").menus["main"]
    intents = [intent for intent in SWITCHBOARD_KO_CALLERS if main.routes[intent].menu is None]  # straight to a destination
    media = {intent: SWITCHBOARD_KO_CALLERS[intent].render(info.sounds_dir) for intent in intents}
    port = _free_port()
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "run", "--sandbox", info.name, "--default-flow", FLOW,
        "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars"),
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SPEECH_IVR_APP": APP, "SPEECH_IVR_MONITOR_LISTEN": f"127.0.0.1:{port}", "SPEECH_IVR_WATCH_FLOWS": "false"},
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with CallLab(info) as lab:
            await lab.wait_for_app(APP, timeout=60)
            start = await _snapshot(lab, app.pid, metrics_url)
            gate = asyncio.Semaphore(concurrency)
            began = time.monotonic()

            async def one(n: int) -> bool:
                intent = intents[n % len(intents)]
                async with gate:
                    call = await lab.call(endpoint=f"Local/{APP}@ivr-app", variables={"FLOW": FLOW}, speech=media[intent], hold=15)
                    try:
                        arrival = await call.arrival(timeout=60)
                    except TimeoutError:
                        return False
                    finally:
                        await call.hangup()
                        await call.gone()
                    lab.forget(call)
                    return arrival.extension == intent

            right = sum(await asyncio.gather(*(one(n) for n in range(calls))))
            wall = time.monotonic() - began
            await lab.wait_idle()
            # The app's ARI client keeps connections alive for reuse and closes them after
            # 15 s idle (aiohttp): give them that long before counting file descriptors.
            deadline = time.monotonic() + KEEPALIVE_SECONDS
            while (end := await _snapshot(lab, app.pid, metrics_url)).fds > start.fds and time.monotonic() < deadline:
                await asyncio.sleep(1)
    finally:
        if app.returncode is None:
            app.terminate()
        await app.wait()
    return Soak(calls, right, wall, start, end)


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    sandbox = Sandbox("soak")
    info = await asyncio.to_thread(sandbox.up)
    try:
        result = await soak(info, calls=args.calls, concurrency=args.concurrency)
    finally:
        await asyncio.to_thread(sandbox.down)
    print(f"soak: {args.calls} calls, {args.concurrency} at a time, {os.cpu_count()} CPUs")
    print(result.table())
    return 0 if result.routed_right == result.calls and result.end.channels == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
