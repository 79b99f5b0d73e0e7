"""The sandbox: the real Asterisk (marked `real`)."""

from __future__ import annotations

import array
import asyncio
import wave
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import aiohttp
import pytest

from ivr.sandbox import (
    CallLab,
    Sandbox,
    SandboxError,
    SandboxInfo,
    parse_timestamp,
    synthesize,
)

# --- speech files (espeak-ng and sox) -------------------------------------------------------


@pytest.mark.real
def test_synthesize_writes_trimmed_8khz_mono_wav(tmp_path: Path) -> None:
    sounds_dir = tmp_path / "speech-ivr"
    media = synthesize("영업부 연결해 주세요", sounds_dir)
    assert media.startswith("speech-ivr/tts/")
    path = tmp_path / f"{media}.wav"
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    assert 1.0 < len(samples) / 8000 < 5.0
    assert max(abs(sample) for sample in samples[:80]) > 500  # speech within the first 10 ms
    assert synthesize("영업부 연결해 주세요", sounds_dir) == media  # cached by content


# --- the real Asterisk ----------------------------------------------------------------------


@pytest.mark.real
async def test_boots_and_ari_answers(sandbox: SandboxInfo) -> None:
    async with (
        aiohttp.ClientSession(headers=sandbox.ari_headers) as http,
        http.get(f"{sandbox.ari_url}ari/asterisk/info") as response,
    ):
        assert response.status == 200
        info = await response.json()
    assert info["system"]["version"].startswith("22.")
    assert "Asterisk 22" in Sandbox(sandbox.name).cli("core show version")


@pytest.mark.real
def test_boot_log_is_clean(sandbox: SandboxInfo) -> None:
    boot = sandbox.log_file.read_text().split("Asterisk Ready.")[0]
    problems = [line for line in boot.splitlines() if "WARNING[" in line or "ERROR[" in line]
    assert problems == []


@pytest.mark.real
@pytest.mark.parametrize(
    ("endpoint", "context", "extension"),
    [
        ("Local/sales-team@ivr-dest", "ivr-dest", "sales-team"),
        ("Local/0@ivr-dest", "ivr-dest", "0"),
        ("Local/s@ivr-fallback", "ivr-fallback", "s"),
    ],
)
async def test_destination_reports_arrival(
    sandbox: SandboxInfo, endpoint: str, context: str, extension: str
) -> None:
    async with CallLab(sandbox) as lab:
        call = await lab.call(
            endpoint=endpoint,
            variables={
                "IVR_TRANSCRIPT": "영업 부서, 연결",
                "IVR_INTENT": "sales",
                "IVR_RESULT": "matched",
            },
        )
        arrival = await call.arrival(timeout=5)
        await call.gone(timeout=5)
        assert await lab.wait_idle() == ([], [])
    assert (arrival.context, arrival.extension) == (context, extension)
    assert arrival.variables == {
        "Intent": "sales",
        "Confidence": "",
        "Transcript": "영업 부서, 연결",  # spaces and commas survive
        "Flow": "",
        "Menu": "",
        "Result": "matched",
    }


async def _post(http: aiohttp.ClientSession, url: str, **params: str) -> None:
    async with http.post(url, params=params):
        pass


STAND_IN = "sandbox-stand-in"
"""The stand-in IVR's ARI application. Not speech-ivr: a second connection under the same
name takes the application over from the session's real app."""


@pytest.fixture
async def answering_ivr(sandbox: SandboxInfo) -> AsyncIterator[None]:
    """Stands in for the IVR app: answers every call that enters Stasis(STAND_IN) and keeps it."""
    async with aiohttp.ClientSession(headers=sandbox.ari_headers, raise_for_status=True) as http:
        events = await http.ws_connect(f"{sandbox.ari_url}ari/events", params={"app": STAND_IN})

        async def answer_calls() -> None:
            async for message in events:
                event = message.json()
                if event["type"] == "StasisStart":
                    channel = event["channel"]["id"]
                    await _post(http, f"{sandbox.ari_url}ari/channels/{channel}/answer")

        answering = asyncio.create_task(answer_calls())
        async with CallLab(sandbox) as lab:
            await lab.wait_for_app(STAND_IN)
        yield
        await events.close()
        answering.cancel()
        with suppress(asyncio.CancelledError):
            await answering


@pytest.mark.real
@pytest.mark.usefixtures("answering_ivr")
async def test_caller_speaks_the_file_then_dtmf_and_is_routed(sandbox: SandboxInfo) -> None:
    media = synthesize("영업부 연결해 주세요", sandbox.sounds_dir)
    with wave.open(str(sandbox.sounds_dir.parent / f"{media}.wav")) as wav:
        duration = wav.getnframes() / wav.getframerate()
    async with CallLab(sandbox) as lab:
        call = await lab.call(
            speech=media,
            endpoint=f"Local/{STAND_IN}@ivr-app",
            variables={"FLOW": "demo-flow"},
            delay=0.3,
            dtmf="1#",
            hold=10,
        )
        start, end = await call.speech_start(), await call.speech_end()
        assert end - start == pytest.approx(duration, abs=0.1)  # measured: within 3 ms
        await lab.wait_for(
            lambda event: (
                event["type"] == "ChannelDtmfReceived"
                and event["channel"]["id"] == call.other_id
                and event["digit"] == "#"
            ),
            timeout=5,
        )
        # (StasisStart goes only to the app that owns the channel, not to the observer.)
        entered = [
            event
            for event in call.events
            if event["type"] == "ChannelDialplan" and event["dialplan_app"] == "Stasis"
        ]
        assert [event["dialplan_app_data"] for event in entered] == [f"{STAND_IN},demo-flow"]

        # What the IVR does once it knows: result variables, then continue to the destination.
        ari = f"{sandbox.ari_url}ari/channels/{call.other_id}"
        async with aiohttp.ClientSession(
            headers=sandbox.ari_headers, raise_for_status=True
        ) as http:
            for variable, value in {"IVR_INTENT": "sales", "IVR_FLOW": "demo-flow"}.items():
                await _post(http, f"{ari}/variable", variable=variable, value=value)
            destination = {"context": "ivr-dest", "extension": "sales", "priority": "1"}
            await _post(http, f"{ari}/continue", **destination)
        arrival = await call.arrival(timeout=5)
        await call.gone(timeout=5)
        assert await lab.wait_idle() == ([], [])
    assert (arrival.extension, arrival.variables["Intent"], arrival.variables["Flow"]) == (
        "sales",
        "sales",
        "demo-flow",
    )
    assert arrival.at > end


@pytest.mark.real
@pytest.mark.usefixtures("answering_ivr")
async def test_caller_can_hang_up_early(sandbox: SandboxInfo) -> None:
    async with CallLab(sandbox) as lab:
        call = await lab.call(endpoint=f"Local/{STAND_IN}@ivr-app", hangup_after=0.5)
        await call.gone(timeout=5)
        assert not any(event["type"] == "ChannelUserevent" for event in call.events)
        destroyed = [event for event in call.events if event["type"] == "ChannelDestroyed"]
        answered = next(
            event
            for event in call.events
            if event["type"] == "ChannelStateChange" and event["channel"]["state"] == "Up"
        )
        lifetime = parse_timestamp(destroyed[0]["timestamp"]) - parse_timestamp(
            answered["timestamp"]
        )
        assert 0.4 < lifetime < 1.5
        assert await lab.wait_idle() == ([], [])


@pytest.mark.real
async def test_hangup_and_timeout_message(sandbox: SandboxInfo) -> None:
    async with CallLab(sandbox) as lab:
        call = await lab.call(endpoint="Local/nobody-home@ivr-app")  # no such app: Stasis() fails
        with pytest.raises(TimeoutError, match=r"(?s)did not arrive.*Stasis\(nobody-home,\)"):
            await call.arrival(timeout=0.5)
        await call.hangup()  # already gone: no error
        await call.gone(timeout=5)


@pytest.mark.real
def test_up_is_idempotent(sandbox: SandboxInfo) -> None:
    assert Sandbox(sandbox.name).up() == sandbox
    assert Sandbox(sandbox.name).status() == sandbox


@pytest.mark.real
def test_taken_port_is_named(sandbox: SandboxInfo) -> None:
    with pytest.raises(SandboxError, match=f"port {sandbox.http_port} is taken"):
        Sandbox(f"{sandbox.name}-taken", http_port=sandbox.http_port).up()


@pytest.mark.real
def test_down_then_up_keeps_port_and_password(sandbox: SandboxInfo) -> None:
    instance = Sandbox(f"{sandbox.name}-cycle")
    try:
        first = instance.up()
        instance.down()
        assert instance.status() is None
        instance.down()  # not running: nothing to do
        second = instance.up()
        assert (second.http_port, second.ari_password) == (first.http_port, first.ari_password)
        assert second.pid != first.pid
    finally:
        instance.down(purge=True)
    assert instance.status() is None
    with pytest.raises(SandboxError, match="not running"):
        instance.cli("core show uptime")
