"""One conformance suite for every way of tapping the caller, through the sandbox Asterisk.

Each transport gets its own app (its own ARI application name, so it can run beside the
session's app) that records what its tap heard; calls reach it through ``Local/APP@ivr-app``.
stream-channel runs twice: through the test double of Wazo's module on the plain sandbox, and
through the real module (``res_ari_stream.so``) on the Wazo sandbox, with calls in ulaw like a
real phone (the module sends nothing at all for a slin16 channel). Killing the tap is the
double's to do: nothing makes the module drop a stream while the call goes on.
"""

from __future__ import annotations

import array
import asyncio
import math
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.flow import load_flows
from ivr.runtime.listener import Listener
from ivr.sandbox import CallLab, PlacedCall, SandboxInfo
from ivr.sandbox.damage import frames_damaged
from ivr.sandbox.prompts import PROMPTS, SWITCHBOARD_KO_CALLERS, confirming, install_prompts
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving
from ivr.telephony.router import is_own_id
from tests.harness import TEST_PROMPTS
from tests.stream_channel_double import StreamChannelDouble

pytestmark = pytest.mark.real

STREAM_CHANNEL = {"stream-channel-double": "double", "stream-channel-module": "module"}
TRANSPORTS = ["websocket", "rtp", "audiosocket", *STREAM_CHANNEL]
KILLABLE = [name for name in TRANSPORTS if name != "stream-channel-module"]
killable_only = pytest.mark.parametrize("transport_target", KILLABLE, indirect=True)
TONE_RMS = 5792  # a 440 Hz sine at a quarter of full scale


class Target:
    """A transport's name, its setting, and the Asterisk (and double) its calls go through."""

    def __init__(self, name: str, info: SandboxInfo, double: StreamChannelDouble | None) -> None:
        self.name = name
        self.setting = "stream-channel" if name in STREAM_CHANNEL else name
        self.info = info
        self.double = double


class Transport:
    def __init__(self, target: Target, app: SpeechIvrApp, record_dir: Path) -> None:
        self.name = target.name
        self.info = target.info
        self.app = app
        self.record_dir = record_dir
        self.double = target.double
        # Like a real phone for stream-channel; bit-exact slin16 for the others.
        self.formats = "ulaw" if target.setting == "stream-channel" else "slin16"

    async def call(self, lab: CallLab, *, flow: str | None = None, **kwargs: object) -> PlacedCall:
        variables = {"FLOW": flow} if flow else {}
        return await lab.call(
            endpoint=f"Local/{self.app.settings.app}@ivr-app", formats=self.formats, variables=variables, **kwargs
        )

    async def recording(self, call: PlacedCall) -> array.array:
        """What the app's tap heard during the call, once the call has left the app."""
        await asyncio.wait_for(self.app.idle(), 10)
        with wave.open(str(self.record_dir / f"{call.other_id}.wav")) as audio:
            return array.array("h", audio.readframes(audio.getnframes()))

    async def kill_tap(self, lab: CallLab, call: PlacedCall) -> None:
        """Break the call's tap from outside, as a crash or a network fault would."""
        if self.double is not None:
            assert self.double.kill(call.other_id) == 1
            return
        taps = [c["id"] for c in await lab.channels() if is_own_id(c["id"]) and "-tap-" in c["id"]]
        assert len(taps) == 1
        await lab.hangup(taps[0])


@pytest.fixture(scope="module", params=TRANSPORTS)
def transport_target(request: pytest.FixtureRequest, sandbox: SandboxInfo) -> Target:
    """The transport of the test's parameter and where it runs. The real module's Asterisk
    starts only for its transport (and its rootfs is built on first use, outside the loop)."""
    name: str = request.param
    if STREAM_CHANNEL.get(name) == "module":
        return Target(name, request.getfixturevalue("wazo_sandbox"), None)
    if STREAM_CHANNEL.get(name) == "double":
        return Target(name, sandbox, request.getfixturevalue("stream_channel_double"))
    return Target(name, sandbox, None)


@pytest.fixture(scope="module")
async def transport(
    transport_target: Target,
    sandbox: SandboxInfo,
    models: ModelStore,
    flow_files: tuple[Path, Path],
    ivr_app: SpeechIvrApp,  # its prompts are installed in the plain sandbox
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Transport]:
    target = transport_target
    if target.info is not sandbox:  # the Wazo sandbox has sounds of its own
        prompts = {**PROMPTS, **TEST_PROMPTS}
        await asyncio.to_thread(install_prompts, target.info.sounds_dir, prompts)
    double = target.double
    record_dir = tmp_path_factory.mktemp(f"recorded-{target.name}")
    settings = target.info.app_settings(
        app=f"speech-ivr-{target.name}",
        transport=target.setting,
        flows_dir=flow_files[0],
        grammars_dir=flow_files[1],
        default_flow="switchboard-ko",
        record_dir=record_dir,
        watch_flows=False,
        stream_channel_url=double.url if double is not None else None,  # the module's: ARI's /ws
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    async with serving(app):
        yield Transport(target, app, record_dir)
    if double is not None:
        assert double.violations == []
    elif target.setting == "stream-channel":
        # The module's own word (sic) for a write that failed: the client had gone first.
        assert "end sesssion" not in target.info.log_file.read_text()


@pytest.fixture
async def lab(transport: Transport) -> AsyncIterator[CallLab]:
    """Calls on the transport's Asterisk (the conftest's lab is on the plain sandbox)."""
    async with CallLab(transport.info) as lab:
        yield lab


@pytest.fixture(scope="module")
def tone(transport: Transport) -> tuple[str, array.array]:
    """One second of 440 Hz at 16 kHz (played without resampling), and its samples."""
    path = transport.info.sounds_dir / "test" / "tone440.sln16"
    path.parent.mkdir(exist_ok=True)
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", str(path),
         "synth", "1", "sine", "440", "vol", "0.25"],
        check=True,
    )
    return "speech-ivr/test/tone440", array.array("h", path.read_bytes())


def rms(samples: array.array) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def smoothness(samples: array.array) -> float:
    """Mean |x[n]-x[n-1]| over mean |x|: 0.17 for this tone in the right byte order, ~1.5 swapped."""
    steps = sum(abs(samples[i] - samples[i - 1]) for i in range(1, len(samples)))
    return steps / max(1, sum(abs(s) for s in samples))


def loud_part(samples: array.array) -> array.array:
    loud = [i for i, s in enumerate(samples) if abs(s) > 1000]
    return samples[loud[0] : loud[-1] + 1]


async def test_a_tone_arrives_in_the_right_byte_order_and_level(
    transport: Transport, lab: CallLab, tone: tuple[str, array.array]
) -> None:
    media, reference = tone
    # The caller plays the tone, then presses 9 (no route: the menu asks again).
    call = await transport.call(lab, speech=media, delay=0.5, dtmf="9", hold=2)
    await call.gone()
    recorded = await transport.recording(call)
    heard = loud_part(recorded)
    assert abs(len(heard) - len(reference)) < 400
    assert abs(rms(heard) - TONE_RMS) / TONE_RMS < 0.03
    assert smoothness(heard) < 0.3
    if transport.formats == "slin16":
        # No codec in the way: every sample as played (the snoop's late frames undone).
        assert frames_damaged(reference.tobytes(), recorded.tobytes()) == 0


async def test_dtmf_does_not_leak_into_the_audio(transport: Transport, lab: CallLab) -> None:
    call = await transport.call(lab, delay=0.5, dtmf="9", hold=2)
    await call.gone()
    heard = await transport.recording(call)
    assert max((abs(s) for s in heard), default=0) < 100


async def test_a_spoken_phrase_is_routed(transport: Transport, lab: CallLab) -> None:
    # The Korean flow confirms all but its surest answers: the caller answers 네 if asked.
    spoken = confirming(transport.info.sounds_dir, SWITCHBOARD_KO_CALLERS["sales"])
    call = await transport.call(lab, speech=spoken)
    arrival = await call.arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("sales", "matched")


async def test_a_hangup_mid_stream_cleans_everything_up(transport: Transport, lab: CallLab) -> None:
    call = await transport.call(lab, hangup_after=1.5)
    await call.gone()
    assert await lab.wait_idle() == ([], [])
    await asyncio.wait_for(transport.app.idle(), 5)


@killable_only
async def test_a_killed_tap_leaves_a_menu_with_keys_working(transport: Transport, lab: CallLab) -> None:
    # The main menu takes keys: after the tap dies the caller can still press 3.
    call = await transport.call(lab, delay=7.0, dtmf="3")
    await asyncio.sleep(2.0)
    await transport.kill_tap(lab, call)
    arrival = await call.arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("billing", "dtmf")


@killable_only
async def test_a_killed_tap_sends_a_speech_only_menu_to_the_fallback(transport: Transport, lab: CallLab) -> None:
    call = await transport.call(lab, flow="ivr-test-speech", hold=20)
    await asyncio.sleep(2.0)
    await transport.kill_tap(lab, call)
    arrival = await call.arrival()
    assert (arrival.context, arrival.variables["Result"]) == ("ivr-fallback", "error")


async def test_hearing_that_breaks_closes_the_tap_and_sends_the_call_to_the_fallback(
    transport: Transport, lab: CallLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault in hearing itself (not the tap's): the dialog must learn it (this menu takes no
    # keys: the fallback), and the tap that streams to nobody must go.
    frames = 0
    feed = Listener._feed

    def breaking(self: Listener, frame: bytes) -> None:
        nonlocal frames
        frames += 1
        if frames > 50:
            raise ValueError("a fault in hearing")
        feed(self, frame)

    monkeypatch.setattr(Listener, "_feed", breaking)
    call = await transport.call(lab, flow="ivr-test-speech", hold=20)
    arrival = await call.arrival()
    assert (arrival.context, arrival.variables["Result"]) == ("ivr-fallback", "error")
    await asyncio.wait_for(transport.app.idle(), 10)
    assert not [c["id"] for c in await lab.channels() if is_own_id(c["id"])]
