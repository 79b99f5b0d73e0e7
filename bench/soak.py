"""Soak: many SIP calls, a few at a time, through the sandbox Asterisk into ``speech-ivr run``;
what is left at the end must be what was there at the start.

    python bench/soak.py [--calls 1000] [--concurrency 20]

The callers are SIPp phones (``ivr.sandbox.sip_caller``: G.711 mu-law RTP into the sandbox's
PJSIP endpoint), one SIPp process per phrase, each keeping its share of the concurrent calls
going; each says one of the Korean switchboard phrases that route over mu-law without a
confirmation straight to a destination (``PHONE_INTENTS``), rendered at 8 kHz. A call is routed right when Asterisk reports it arriving at its phrase's destination. Printed: the calls routed right, and at the start and
at the end the channels and bridges Asterisk has, the app's asyncio tasks (its
``ivr_asyncio_tasks`` metric), its open file descriptors and its RSS (from /proc).
tests/real/test_soak.py runs a short soak (100 calls) in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import rss_mb  # noqa: E402
from ivr.flow import load_flow  # noqa: E402
from ivr.project import EXAMPLES_DIR  # noqa: E402
from ivr.sandbox import CallLab, Sandbox, SandboxInfo, synthesize  # noqa: E402
from ivr.sandbox.ports import free_port  # noqa: E402
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, install_prompts  # noqa: E402
from ivr.sandbox.sip_caller import Pcm, caller_pcap, sip_call  # noqa: E402

FLOW = "switchboard-ko"
PHONE_INTENTS = ("sales", "tech", "operator")
"""The main-menu destinations whose espeak-ng renderings route over a mu-law line (billing's
does not: ``SWITCHBOARD_KO_CALLERS``); hearing is deterministic, so they do every time."""
APP = "speech-ivr"  # the sandbox's SIP entry, sip-in, enters Stasis(speech-ivr, FLOW)
KEEPALIVE_SECONDS = 20.0
LEAD = 2.0
"""Seconds a phone listens to the prompt before it speaks: 20 call set-ups at once on two
cores can take more than a second to bring up a tap, and words spoken before it are lost."""
CALL_SECONDS = 10.0
"""A generous bound on one call (answer, a second of silence, the phrase, the decision): what
SIPp's own deadline for all of a phone's calls is reckoned from."""


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
    missed: dict[str, int]
    """How many of each phrase arrived elsewhere ("sales -> ivr-fallback,s")."""

    def table(self) -> str:
        lines = [f"{'':<10}{'start':>10}{'end':>10}"]
        for name in ("channels", "bridges", "tasks", "fds", "rss_mb"):
            lines.append(f"{name:<10}{getattr(self.start, name):>10}{getattr(self.end, name):>10}")
        right = f"{self.routed_right}/{self.calls} routed right ({100 * self.routed_right / self.calls:.1f} %)"
        missed = [f"  {where}: {count}" for where, count in sorted(self.missed.items())]
        return "\n".join([right, *missed, f"{self.calls / self.wall * 60:.0f} calls a minute", *lines])


async def _snapshot(lab: CallLab, pid: int, metrics_url: str) -> Snapshot:
    rss = rss_mb(pid)
    async with aiohttp.ClientSession() as http, http.get(metrics_url) as response:
        metrics = await response.text()
    tasks = next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("ivr_asyncio_tasks "))
    return Snapshot(
        channels=len(await lab.channels()),
        bridges=len(await lab.bridges()),
        tasks=int(tasks),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        rss_mb=round(rss, 1),
    )


async def soak(info: SandboxInfo, *, calls: int, concurrency: int, work: Path) -> Soak:
    """Run the app against ``info`` and place ``calls`` SIP calls, ``concurrency`` at a time."""
    assert info.sip_port is not None, "a sandbox with the SIP endpoint"
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    main = load_flow(EXAMPLES_DIR / "flows" / f"{FLOW}.yaml").menus["main"]
    intents = [intent for intent in PHONE_INTENTS if main.routes[intent].menu is None]
    phones = {}
    for intent in intents:
        spoken = SWITCHBOARD_KO_CALLERS[intent]
        media = synthesize(spoken.text, info.sounds_dir, voice=spoken.voice, speed=spoken.speed)
        narrow = Pcm.read(info.sounds_dir.parent / f"{media}.wav")  # the 8 kHz rendering
        phones[intent] = caller_pcap(work / f"{intent}.pcap", narrow, lead=LEAD, tail=2.0).path
    port = free_port()
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "run", "--sandbox", info.name, "--default-flow", FLOW,
        "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars"),
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SPEECH_IVR_MONITOR_LISTEN": f"127.0.0.1:{port}", "SPEECH_IVR_WATCH_FLOWS": "false"},
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with CallLab(info) as lab:
            await lab.wait_for_app(APP, timeout=60)
            start = await _snapshot(lab, app.pid, metrics_url)
            began = time.monotonic()
            shares = [calls // len(intents) + (n < calls % len(intents)) for n in range(len(intents))]
            limit = max(1, concurrency // len(intents))
            results = await asyncio.gather(*(
                sip_call(info.sip_port, phones[intent], extension=FLOW, caller=f"soak-{intent}",
                         calls=share, rate=limit, limit=limit, hold=20,
                         timeout=share * CALL_SECONDS / limit + 60)
                for intent, share in zip(intents, shares) if share
            ))
            wall = time.monotonic() - began
            arrivals = [found for event in lab.events if (found := _arrival(event.data)) is not None]
            right = sum(intent == where for intent, where in arrivals)
            missed = collections.Counter(f"{i} -> {w}" for i, w in arrivals if i != w)
            await lab.wait_idle(timeout=30)
            # The app's ARI client keeps connections alive for reuse and closes them after
            # 15 s idle (aiohttp): give them that long before counting file descriptors.
            deadline = time.monotonic() + KEEPALIVE_SECONDS
            while (end := await _snapshot(lab, app.pid, metrics_url)).fds > start.fds and time.monotonic() < deadline:
                await asyncio.sleep(1)
    finally:
        if app.returncode is None:
            app.terminate()
        await app.wait()
    for result in results:
        if not result.ok:
            print(result.summary(), file=sys.stderr)
    return Soak(calls, right, wall, start, end, dict(missed))


def _arrival(event: dict) -> tuple[str, str] | None:  # type: ignore[type-arg]
    """(the phrase's intent, the destination reached) of a soak phone's arrival (the
    sandbox's IvrArrived user event), or None for any other event."""
    if event.get("type") != "ChannelUserevent" or event.get("eventname") != "IvrArrived":
        return None
    number = event["channel"]["caller"]["number"]  # soak-<intent>-<n>
    if not number.startswith("soak-"):
        return None
    intent = number.removeprefix("soak-").rpartition("-")[0]
    return intent, f'{event["userevent"].get("Context")},{event["userevent"].get("Exten")}'.removeprefix("ivr-dest,")


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    sandbox = Sandbox("soak")
    info = await asyncio.to_thread(sandbox.up)
    try:
        with tempfile.TemporaryDirectory() as work:
            result = await soak(info, calls=args.calls, concurrency=args.concurrency, work=Path(work))
    finally:
        await asyncio.to_thread(sandbox.down)
    print(f"soak: {args.calls} SIP calls, {args.concurrency} at a time, {os.cpu_count()} CPUs")
    print(result.table())
    return 0 if result.routed_right == result.calls and result.end.channels == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
