"""Rush hour: N SIP phones in the menu at once, through the sandbox Asterisk into ``speech-ivr run``.

    python bench/load.py [--callers 10,50,100,150] [--modes staggered,burst] [--workers 0]

The phones are SIPp processes (``ivr.sandbox.sip_caller``, G.711 mu-law RTP into the sandbox's
PJSIP endpoint), one per phrase and moment, each carrying its share of the calls; all calls
are set up within ``RAMP`` seconds. Each phone says one of the Korean switchboard phrases that
route without a confirmation (``bench.soak.PHONE_INTENTS``): *staggered*, at a moment after the
answer drawn from ``LEADS`` (the first 5 s of the menu); *burst*, all ``BURST_LEAD`` s after the
answer, so that all speak within the ramp of one another. With ``--workers N`` the app is
``speech-ivr run --workers N`` and the calls enter through StasisBroadcast (``sip:workers-FLOW``).

Printed for each N, from one run on this machine:

- routed right: calls Asterisk reported arriving at their phrase's destination;
- end of speech to arrival, p50 and p95: both times stamped by Asterisk: the arrival is the
  destination's UserEvent, the end of speech is when Asterisk's talk detector (``TALK_DETECT``
  on the phone's channel, set by this bench over ARI) heard the phrase begin plus the
  phrase's length as sent;
- worst backlog: the furthest behind the stream any call's recognizer was (the audio heard
  since the end of the oldest chunk whose result was not back; the app's call records,
  ``audio.worst_backlog``);
- first prompt, p95: from the call entering the app to its first prompt (the call rings
  until its tap is up; call records);
- decoding per call: the mean seconds of audio the recognizer decoded and the CPU its
  threads spent on them (call records' ``audio.decoded`` and ``audio.decode_cpu``): the
  recognizer's share of the CPU a call needs, whatever the load;
- CPU, as % of one core over the phase: the app (all its processes), Asterisk, and the SIPp
  phones apart;
- RSS: the app's peak (all its processes), and per call above the app idle with its model
  loaded; the app keeps each call's audio for the recording this bench needs (32 kB a second
  of call), which is in the figure;
- frames lost per call (``bench.frames_lost``): of each phrase as sent, the 20 ms frames that
  are not in the audio the app received (its recording), on the way or before the tap opened,
  the most in one call, and the calls with any loss (a phrase not found at all counts);
  and the frames of silence put in (a snoop's late frames, which hearing takes out);
- ast heard: the phones whose speech Asterisk's talk detector heard on their own channel
  (a phone that sent nothing Asterisk could hear is not the app's loss).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, percentile, rss_mb  # noqa: E402
from bench.frames_lost import FrameLoss, frames_lost, speech_of  # noqa: E402
from bench.soak import PHONE_INTENTS  # noqa: E402
from ivr.flow import load_flow  # noqa: E402
from ivr.project import EXAMPLES_DIR  # noqa: E402
from ivr.sandbox import CallLab, Sandbox, SandboxInfo, synthesize  # noqa: E402
from ivr.sandbox.calls import parse_timestamp  # noqa: E402
from ivr.sandbox.ports import free_port  # noqa: E402
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, install_prompts  # noqa: E402
from ivr.sandbox.sip_caller import Pcm, caller_pcap, sip_call  # noqa: E402

FLOW = "switchboard-ko"
APP = "speech-ivr"
LEADS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
"""When a staggered phone speaks, in seconds after the answer."""
BURST_LEAD = 4.0
RAMP = 2.0
"""Seconds over which each phase's calls are set up (SIPp's call rate)."""
HOLD = 25.0
"""A phone hangs up this long after the answer if Asterisk has not sent it on by then."""
TALK_SILENCE_MS = 500
"""TALK_DETECT's silence threshold (ms); only the start of talking is used."""
SAMPLE_EVERY = 0.1
DRAIN_SECONDS = 60.0
"""How long a phase waits for Asterisk to have no channel and no bridge left."""


@dataclass(frozen=True)
class Phrase:
    intent: str
    destination: str  # "context,extension"
    said: Pcm
    """The rendering the phone sends (8 kHz)."""

    @functools.cached_property
    def speech(self) -> np.ndarray:
        """What it says, from its first sound to its last."""
        return speech_of(self.said.samples)


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far."""

    app: float
    asterisk: float
    phones: float

    @classmethod
    def now(cls, app_pid: int, asterisk_pid: int) -> Usage:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            app=sum(cpu_seconds(pid) for pid in _family(app_pid)),
            asterisk=sum(cpu_seconds(pid) for pid in _family(asterisk_pid)),
            phones=children.ru_utime + children.ru_stime,  # the SIPp processes reaped so far
        )


@dataclass
class Phase:
    mode: str
    callers: int
    workers: int
    right: int = 0
    latencies: list[float] = dataclasses.field(default_factory=list)
    worst_backlog: float = 0.0
    first_prompts: list[float] = dataclasses.field(default_factory=list)
    decoded: list[float] = dataclasses.field(default_factory=list)
    decode_cpu: list[float] = dataclasses.field(default_factory=list)
    cpu_app: float = 0.0
    cpu_asterisk: float = 0.0
    cpu_phones: float = 0.0
    rss_peak_mb: float = 0.0
    rss_per_call_mb: float = 0.0
    losses: list[FrameLoss] = dataclasses.field(default_factory=list)
    unrecorded: int = 0
    speech_spread: float = 0.0
    wall: float = 0.0
    talked: int = 0
    """Phones whose speech Asterisk's talk detector heard on their channel."""

    def row(self) -> list[str]:
        heard = [loss for loss in self.losses if loss.found]
        lost = [loss.missing for loss in self.losses]
        return [
            self.mode,
            str(self.callers),
            f"{100 * self.right / self.callers:.1f}",
            _ms(percentile(self.latencies, 0.5)) if self.latencies else "-",
            _ms(percentile(self.latencies, 0.95)) if self.latencies else "-",
            _ms(self.worst_backlog),
            f"{percentile(self.first_prompts, 0.95):.1f}" if self.first_prompts else "-",
            f"{np.mean(self.decoded):.2f}" if self.decoded else "-",
            _ms(float(np.mean(self.decode_cpu))) if self.decode_cpu else "-",
            f"{self.cpu_app:.0f}",
            f"{self.cpu_asterisk:.0f}",
            f"{self.cpu_phones:.0f}",
            f"{self.rss_peak_mb:.0f}",
            f"{self.rss_per_call_mb:.2f}",
            f"{np.mean(lost):.2f}" if lost else "-",
            str(max(lost, default=0)),
            str(sum(loss.missing > 0 for loss in self.losses) + (len(self.losses) - len(heard))),
            f"{np.mean([loss.inserted for loss in heard]):.2f}" if heard else "-",
            str(self.talked),
        ]


HEADER = ["mode", "N", "right %", "p50 ms", "p95 ms", "backlog ms", "prompt p95 s", "decoded s/call",
          "decode CPU ms/call", "app %", "ast %", "sipp %",
          "RSS MB", "MB/call", "lost/call", "lost max", "calls w/ loss", "inserted/call", "ast heard"]  # fmt: skip


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _family(pid: int) -> list[int]:
    """A process and all its descendants (from /proc's children lists)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _rss_mb(pid: int) -> float:
    """A process's and its descendants' resident memory, in MB."""
    total = 0.0
    for member in _family(pid):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            total += rss_mb(member)
    return total


def phrases(info: SandboxInfo) -> list[Phrase]:
    main = load_flow(EXAMPLES_DIR / "flows" / f"{FLOW}.yaml").menus["main"]
    found = []
    for intent in PHONE_INTENTS:
        route = main.routes[intent]
        if route.menu is not None:
            continue
        spoken = SWITCHBOARD_KO_CALLERS[intent]
        media = synthesize(spoken.text, info.sounds_dir, voice=spoken.voice, speed=spoken.speed)
        said = Pcm.read(info.sounds_dir.parent / f"{media}.wav")
        found.append(Phrase(intent, f"{route.context},{route.extension}", said))
    return found


def groups(callers: int, mode: str, phrases: list[Phrase], rng: random.Random) -> dict[tuple[str, float], int]:
    """How many phones say each phrase at each moment."""
    counts: dict[tuple[str, float], int] = {}
    for n in range(callers):
        phrase = phrases[n % len(phrases)]
        lead = BURST_LEAD if mode == "burst" else rng.choice(LEADS)
        counts[phrase.intent, lead] = counts.get((phrase.intent, lead), 0) + 1
    return counts


class TalkStamper:
    """Turns Asterisk's talk detector on for every phone channel of the bench as it appears."""

    def __init__(self, lab: CallLab, prefix: str) -> None:
        self._lab = lab
        self._prefix = prefix
        self._seen = 0
        self._done: set[str] = set()

    async def run(self) -> None:
        while True:
            events = self._lab.events[self._seen :]
            self._seen += len(events)
            for observed in events:
                channel = observed.data.get("channel") or {}
                number = (channel.get("caller") or {}).get("number", "")
                if number.startswith(self._prefix) and channel["name"].startswith("PJSIP/") and channel["id"] not in self._done:
                    self._done.add(channel["id"])
                    asyncio.create_task(self._stamp(channel["id"]))
            await asyncio.sleep(0.02)

    async def _stamp(self, channel_id: str) -> None:
        """ARI sets it once the channel is in an application (409 before: a broadcast call
        waiting to be claimed)."""
        for _ in range(50):
            try:
                await self._lab.set_variable(channel_id, "TALK_DETECT(set)", str(TALK_SILENCE_MS))
                return
            except aiohttp.ClientResponseError as exc:
                if exc.status != 409:
                    print(f"TALK_DETECT on {channel_id}: {exc.status} {exc.message}", file=sys.stderr)
                    return
            await asyncio.sleep(0.1)


async def run_phase(
    info: SandboxInfo, lab: CallLab, app_pid: int, work: Path, phrases: list[Phrase], *,
    mode: str, callers: int, workers: int, idle_rss: float, rng: random.Random, tag: str,
) -> Phase:
    assert info.sip_port is not None and info.pid is not None
    by_intent = {phrase.intent: phrase for phrase in phrases}
    plan = groups(callers, mode, phrases, rng)
    pcaps = {}
    for intent, lead in plan:
        pcaps[intent, lead] = caller_pcap(work / f"{intent}-{lead}.pcap", by_intent[intent].said, lead=lead, tail=3.0).path
    extension = f"workers-{FLOW}" if workers else FLOW
    seen_from = len(lab.events)
    stamper = asyncio.create_task(TalkStamper(lab, tag).run())
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_mb(app_pid))
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    before = Usage.now(app_pid, info.pid)
    began = time.monotonic()
    try:
        results = await asyncio.gather(*(
            sip_call(info.sip_port, pcaps[intent, lead], extension=extension,
                     caller=f"{tag}-{intent}-{round(lead * 10)}", calls=count,
                     rate=max(count / RAMP, 0.5), limit=count, hold=HOLD, timeout=HOLD + RAMP + 30)
            for (intent, lead), count in plan.items()
        ))
        left = await lab.wait_idle(timeout=DRAIN_SECONDS)
    finally:
        stamper.cancel()
        sampler.cancel()
    wall = time.monotonic() - began
    after = Usage.now(app_pid, info.pid)
    for result in results:
        if not result.ok:
            print(result.summary(), file=sys.stderr)
    if left != ([], []):
        print(f"{mode} N={callers}: {len(left[0])} channels and {len(left[1])} bridges still up "
              f"{DRAIN_SECONDS:.0f} s after the last phone ended", file=sys.stderr)
    phase = Phase(mode, callers, workers, wall=wall)
    phase.cpu_app = 100 * (after.app - before.app) / wall
    phase.cpu_asterisk = 100 * (after.asterisk - before.asterisk) / wall
    phase.cpu_phones = 100 * (after.phones - before.phones) / wall
    phase.rss_peak_mb = peak
    phase.rss_per_call_mb = max(0.0, peak - idle_rss) / callers
    _judge(phase, [seen.data for seen in lab.events[seen_from:]], by_intent, tag)
    _read_records(phase, work, by_intent, tag)
    return phase


def _intent_of(number: str, tag: str) -> str | None:
    """The intent of a phone of this phase from its caller id: TAG-INTENT-LEAD-N."""
    if not number.startswith(f"{tag}-"):
        return None
    return number.removeprefix(f"{tag}-").split("-")[0]


def _judge(phase: Phase, events: list[dict], phrases: dict[str, Phrase], tag: str) -> None:  # type: ignore[type-arg]
    talking: dict[str, float] = {}
    starts: list[float] = []
    for event in events:
        channel = event.get("channel") or {}
        intent = _intent_of((channel.get("caller") or {}).get("number", ""), tag)
        if intent is None:
            continue
        if event["type"] == "ChannelTalkingStarted" and channel["id"] not in talking:
            talking[channel["id"]] = parse_timestamp(event["timestamp"])
            starts.append(talking[channel["id"]])
            phase.talked += 1
        elif event["type"] == "ChannelUserevent" and event.get("eventname") == "IvrArrived":
            where = f'{event["userevent"].get("Context")},{event["userevent"].get("Exten")}'
            if where != phrases[intent].destination:
                print(f"{channel['caller']['number']}: {intent} arrived at {where}", file=sys.stderr)
                continue
            phase.right += 1
            spoke = talking.get(channel["id"])
            if spoke is not None:
                end = spoke + len(phrases[intent].speech) / 8000
                phase.latencies.append(parse_timestamp(event["timestamp"]) - end)
    phase.speech_spread = max(starts) - min(starts) if starts else 0.0


def _read_records(phase: Phase, work: Path, phrases: dict[str, Phrase], tag: str) -> None:
    recordings = work / "recordings"
    for line in (work / "calls.jsonl").read_text().splitlines():
        record = json.loads(line).get("call") or {}
        intent = _intent_of(record.get("caller", ""), tag)
        if intent is None:
            continue
        audio = record.get("audio") or {}
        phase.worst_backlog = max(phase.worst_backlog, audio.get("worst_backlog") or 0.0)
        if "decoded" in audio:
            phase.decoded.append(audio["decoded"])
            phase.decode_cpu.append(audio["decode_cpu"])
        turns = record.get("turns") or []
        if turns and turns[0].get("prompt_start") is not None:
            phase.first_prompts.append(turns[0]["prompt_start"])
        wav = recordings / record["recording"] if record.get("recording") else None
        if wav is None or not wav.exists():
            phase.unrecorded += 1
            continue
        phase.losses.append(frames_lost(phrases[intent].speech, Pcm.read(wav).samples))
    for wav in recordings.glob("*.wav"):
        wav.unlink()


def table(phases: Iterable[Phase]) -> str:
    rows = [HEADER, *(phase.row() for phase in phases)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows)


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--callers", default="10,50,100,150", help="the Ns, comma-separated")
    parser.add_argument("--modes", default="staggered,burst", help="staggered, burst or both")
    parser.add_argument("--workers", type=int, default=0, help="run --workers N behind StasisBroadcast (0: plain Stasis)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the app's log and call records in DIR")
    args = parser.parse_args()
    ns = [int(n) for n in args.callers.split(",")]
    modes = args.modes.split(",")
    rng = random.Random(args.seed)
    sandbox = Sandbox("load")
    info = await asyncio.to_thread(sandbox.up)
    phases: list[Phase] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "recordings").mkdir()
            await asyncio.to_thread(install_prompts, info.sounds_dir)
            spoken = phrases(info)
            port = free_port()
            command = [sys.executable, "-m", "ivr", "run", "--sandbox", info.name, "--default-flow", FLOW,
                       "--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars")]
            if args.workers:
                command += ["--workers", str(args.workers)]
            app = await asyncio.create_subprocess_exec(
                *command, stderr=(work / "app.log").open("wb"),
                env={**os.environ, "SPEECH_IVR_MONITOR_LISTEN": f"127.0.0.1:{port}",
                     "SPEECH_IVR_WATCH_FLOWS": "false", "SPEECH_IVR_RECORD_DIR": str(work / "recordings"),
                     "SPEECH_IVR_CALL_LOG": str(work / "calls.jsonl")},
            )  # fmt: skip
            try:
                async with CallLab(info) as lab:
                    if args.workers:
                        for n in range(1, args.workers + 1):
                            await lab.wait_for_app(f"{APP}-{n}", timeout=120)
                    else:
                        await lab.wait_for_app(APP, timeout=120)
                    await asyncio.sleep(2)  # the model is loaded before the app registers; let it settle
                    idle_rss = _rss_mb(app.pid)
                    for mode in modes:
                        for n in ns:
                            tag = f"load{len(phases)}"
                            phase = await run_phase(
                                info, lab, app.pid, work, spoken, mode=mode, callers=n,
                                workers=args.workers, idle_rss=idle_rss, rng=rng, tag=tag,
                            )
                            phases.append(phase)
                            print(table([phase]).splitlines()[1], flush=True)
            finally:
                if app.returncode is None:
                    app.terminate()
                await app.wait()
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for name in ("app.log", "calls.jsonl"):
                        shutil.copy(work / name, args.keep / name)
    finally:
        await asyncio.to_thread(sandbox.down)
    print(f"\nload: {os.cpu_count()} CPUs, {'1 app' if not args.workers else f'{args.workers} workers'}, "
          f"idle RSS {idle_rss:.0f} MB (model loaded)")
    print(table(phases))
    for phase in phases:
        if phase.mode == "burst":
            print(f"burst N={phase.callers}: speech began within {phase.speech_spread:.2f} s of each other")
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(p) | {"row": dict(zip(HEADER, p.row()))} for p in phases], default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
