"""Several workers behind Asterisk's StasisBroadcast (marked `real`: the sandbox Asterisk and
the Korean model): SIP phones call ``sip:workers-FLOW@`` (the sandbox's ``ivr-workers``
context: StasisBroadcast for 2 s to the apps named ``speech-ivr-*``, then the fallback).

The workers here are apps in this process (their claims and admissions can be read), except
in the test that kills one: that one runs ``speech-ivr run --workers 2``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from ivr.sandbox import CallLab, DtmfKeys, Pcm, PlacedCall, SandboxInfo, SipCaller, caller_pcap
from ivr.sandbox.calls import parse_timestamp
from ivr.sandbox.prompts import PROMPTS, install_prompts
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from tests.harness import TEST_PROMPTS, ProcessUse, left_in_process, running_app

pytestmark = pytest.mark.real

FLOW = "switchboard-ko"
TO_WORKERS = f"workers-{FLOW}"  # [sip-in]: sip:workers-<flow>@ -> StasisBroadcast(...,<flow>)


def stasis_status(call: PlacedCall) -> list[str]:
    """The values StasisBroadcast gave STASISSTATUS on the call (it clears it first)."""
    return [e["value"] for e in call.events if e["type"] == "ChannelVarset" and e["variable"] == "STASISSTATUS"]


def claims(app: SpeechIvrApp, outcome: str) -> float:
    return app.metrics.claims.labels(outcome=outcome)._value.get()  # prometheus-client has no public read


@asynccontextmanager
async def workers(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], count: int, **overrides: object
) -> AsyncIterator[list[SpeechIvrApp]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running_app(sandbox, models, *flow_files, app=f"speech-ivr-{n}", broadcast=True, watch_flows=False, **overrides)
            )
            for n in range(1, count + 1)
        ]


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_workers_share_calls_a_full_one_does_not_claim_and_a_full_house_goes_to_the_fallback(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Two workers hearing one call each at most: the first call goes to one, the second to
    the other (the first one, full, does not claim it), the third to nobody: after the
    broadcast's 2 s it reaches the dialplan's fallback, with IVR_RESULT=error. A claimed call
    runs its flow (the flow comes as StasisBroadcast's argument): a key takes it on."""
    assert sandbox.sip_port is not None
    before = ProcessUse.now()
    silence = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    key = caller_pcap(tmp_path / "key.pcap", Pcm.silence(2.0), dtmf=[DtmfKeys("3")], tail=1.0)
    async with workers(sandbox, models, flow_files, 2, max_recognitions=1) as apps, CallLab(sandbox) as lab:
        async with SipCaller(lab, sandbox.sip_port, silence.path, extension=TO_WORKERS, hold=60):
            await _until(lambda: sum(app.active_calls for app in apps) == 1)
            (first,) = [app for app in apps if app.active_calls]
            async with SipCaller(lab, sandbox.sip_port, key.path, extension=TO_WORKERS, hold=30) as keyed:
                await _until(lambda: all(app.active_calls for app in apps))
                async with SipCaller(lab, sandbox.sip_port, silence.path, extension=TO_WORKERS, hold=30) as third:
                    unclaimed = await third.call.arrival(timeout=10)
                keyed_arrival = await keyed.call.arrival(timeout=20)
            (second,) = [app for app in apps if app is not first]
            await lab.end_calls()
        assert (keyed_arrival.extension, keyed_arrival.variables["Result"]) == ("billing", "dtmf")
        assert (unclaimed.context, unclaimed.variables["Result"]) == ("ivr-fallback", "error")
        assert stasis_status(third.call)[-1] == "TIMEOUT"
        assert (claims(first, "won"), claims(first, "declined")) == (1, 2)
        assert (claims(second, "won"), claims(second, "declined")) == (1, 1)
        await asyncio.gather(*(asyncio.wait_for(app.idle(), 15) for app in apps))
        assert all(app.admission.heard == app.admission.reserved == 0 for app in apps)
        assert await lab.wait_idle() == ([], [])
    assert not await left_in_process(before)


async def test_of_two_workers_with_room_each_serves_some_and_one_claim_loses(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """No ceiling: both workers claim every call; Asterisk gives each to the first claim (the
    less loaded worker claims sooner), the other's claim gets a 409 and stays quiet."""
    assert sandbox.sip_port is not None
    silence = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    async with workers(sandbox, models, flow_files, 2) as apps, CallLab(sandbox) as lab:
        async with AsyncExitStack() as calls:
            for n in range(1, 5):
                await calls.enter_async_context(SipCaller(lab, sandbox.sip_port, silence.path, extension=TO_WORKERS, hold=60))
                await _until(lambda n=n: sum(app.active_calls for app in apps) == n)
            served = [app.active_calls for app in apps]
            await lab.end_calls()
        assert all(served) and sum(served) == 4, served
        assert sum(claims(app, "won") for app in apps) == 4
        assert sum(claims(app, "lost") for app in apps) == 4  # every loser got its 409
        await asyncio.gather(*(asyncio.wait_for(app.idle(), 15) for app in apps))
        assert await lab.wait_idle() == ([], [])


async def test_with_no_worker_running_a_call_reaches_the_fallback(sandbox: SandboxInfo, tmp_path: Path) -> None:
    assert sandbox.sip_port is not None
    silence = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    async with CallLab(sandbox) as lab:
        async with SipCaller(lab, sandbox.sip_port, silence.path, extension=TO_WORKERS, hold=30) as caller:
            arrival = await caller.call.arrival(timeout=10)
        assert (arrival.context, arrival.variables["Result"], arrival.variables["Flow"]) == ("ivr-fallback", "error", FLOW)
        assert stasis_status(caller.call)[-1] == "TIMEOUT"
        (broadcast,) = [e for e in caller.call.events if e["type"] == "ChannelDialplan" and e["dialplan_app"] == "StasisBroadcast"]
        # its whole timeout (the two stamps are Asterisk's, to the millisecond each)
        assert 1.99 <= arrival.at - parse_timestamp(broadcast["timestamp"]) < 2.5
        assert await lab.wait_idle() == ([], [])


async def test_killing_a_worker_mid_call_sends_its_call_to_the_fallback_while_the_other_serves(
    sandbox: SandboxInfo, flow_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """``speech-ivr run --workers 2`` (each worker hears one call at most): a silent caller in
    one worker's menu, a caller in the other's who presses 3 after 5 s. The first worker is
    killed (SIGKILL): its caller reaches the fallback at once (the supervisor continues it),
    the other caller is still served and reaches billing, the dead worker is started again
    and serves the next caller; SIGTERM stops everything (status 0), leaving nothing."""
    assert sandbox.sip_port is not None
    await asyncio.to_thread(install_prompts, sandbox.sounds_dir, {**PROMPTS, **TEST_PROMPTS})
    silence = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    late_key = caller_pcap(tmp_path / "late-key.pcap", Pcm.silence(5.0), dtmf=[DtmfKeys("3")], tail=1.0)
    key = caller_pcap(tmp_path / "key.pcap", Pcm.silence(2.0), dtmf=[DtmfKeys("3")], tail=1.0)
    environment = {
        **os.environ, "SPEECH_IVR_MONITOR_LISTEN": "127.0.0.1:0", "SPEECH_IVR_MAX_RECOGNITIONS": "1",
        "SPEECH_IVR_WATCH_FLOWS": "false",
    }
    command = [
        sys.executable, "-m", "ivr", "run", "--workers", "2", "--sandbox", sandbox.name,
        "--flows", str(flow_files[0]), "--grammars", str(flow_files[1]), "--default-flow", FLOW,
    ]
    boss = await asyncio.create_subprocess_exec(*command, env=environment, stderr=asyncio.subprocess.PIPE)
    log = SupervisorLog(boss)
    try:
        async with CallLab(sandbox) as lab, aiohttp.ClientSession(sandbox.ari_url, headers=sandbox.ari_headers) as ari:

            async def worker_of(call: PlacedCall) -> str:
                for app in ("speech-ivr-1", "speech-ivr-2"):
                    async with ari.get(f"/ari/applications/{app}") as response:
                        if response.status == 200 and call.id in (await response.json())["channel_ids"]:
                            return app
                return ""

            async def claimed(call: PlacedCall) -> str:
                async with asyncio.timeout(10):
                    while not (app := await worker_of(call)):
                        await asyncio.sleep(0.05)
                return app

            for app in ("speech-ivr-1", "speech-ivr-2"):
                await lab.wait_for_app(app, timeout=90)
            async with SipCaller(lab, sandbox.sip_port, silence.path, extension=TO_WORKERS, hold=60) as stranded:
                victim = await claimed(stranded.call)
                async with SipCaller(lab, sandbox.sip_port, late_key.path, extension=TO_WORKERS, hold=30) as served:
                    survivor = await claimed(served.call)
                    await lab.wait_for(lambda e: e["type"] == "PlaybackStarted" and e["playback"]["target_uri"] == f"channel:{served.call.id}", timeout=10)
                    killed_at = time.time()
                    os.kill(log.pid(victim), signal.SIGKILL)
                    rescued = await stranded.call.arrival(timeout=5)
                    still_there = await worker_of(served.call)
                    served_arrival = await served.call.arrival(timeout=20)
            assert victim != survivor and still_there == survivor
            assert (rescued.context, rescued.variables["Result"]) == ("ivr-fallback", "error")
            assert stasis_status(stranded.call)[-1] == "SUCCESS"  # continued, not timed out
            print(f"killed worker's caller at the fallback {1000 * (rescued.at - killed_at):.0f} ms after SIGKILL")
            assert rescued.at - killed_at < 2.0
            assert (served_arrival.extension, served_arrival.variables["Result"]) == ("billing", "dtmf")
            await log.wait_for(f"worker {victim} started", count=2, timeout=10)
            await lab.wait_for_app(victim, timeout=60)
            async with asyncio.timeout(60):  # the restarted worker is back in the broadcast's filter
                while True:
                    async with SipCaller(lab, sandbox.sip_port, key.path, extension=TO_WORKERS, hold=30) as again:
                        again_arrival = await again.call.arrival(timeout=20)
                    if again_arrival.context == "ivr-dest":
                        break
            assert again_arrival.extension == "billing"
            boss.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(boss.wait(), 40) == 0
            await lab.end_calls()
            assert await lab.wait_idle() == ([], [])
    finally:
        if boss.returncode is None:
            boss.kill()
            await boss.wait()
        log.close()


class SupervisorLog:
    """The supervisor's stderr, read as it comes: which pid each worker has."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(process.stderr))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace"))
            self._changed.set()

    def pid(self, app: str) -> int:
        started = [line for line in self.lines if f"worker {app} started" in line]
        return int(started[-1].rsplit("pid ", 1)[1].rstrip(")\n"))

    async def wait_for(self, text: str, *, count: int = 1, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while sum(text in line for line in self.lines) < count:
                self._changed.clear()
                await self._changed.wait()

    def close(self) -> None:
        self._reader.cancel()
        sys.stderr.write("".join(self.lines[-40:]))
