"""Several workers behind Asterisk's StasisBroadcast (marked `real`: the sandbox Asterisk and
the Korean model): SIP phones call ``sip:workers-FLOW@`` (the sandbox's ``ivr-workers``
context: StasisBroadcast for 2 s to the apps named ``speech-ivr-*``, then the fallback).

The workers here are apps in this process (their claims and admissions can be read), except
in the test that kills one: that one runs ``speech-ivr run --workers 2``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from ivr.sandbox import CallLab, DtmfKeys, Pcm, PlacedCall, SandboxInfo, SipCaller, caller_pcap
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from tests.harness import ProcessUse, left_in_process, running_app

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
        assert await lab.wait_idle() == ([], [])
