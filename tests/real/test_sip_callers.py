"""Real SIP callers through the sandbox Asterisk and the real Korean model: SIPp calls the
PJSIP endpoint `caller` with G.711 mu-law RTP and RFC 4733 DTMF, as a phone or a trunk does.
The PJSIP channel itself is the call in Stasis (no Local pair); it is found in the observer's
events by the caller id the scenario sends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from ivr.espeak import sound_seconds
from ivr.sandbox import CallLab, DtmfKeys, Pcm, SandboxInfo, SipCaller, caller_pcap, parse_timestamp
from ivr.sandbox.calls import Event
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS, Spoken
from ivr.sandbox.speech import synthesize
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

FLOW = "switchboard-ko"


def spoken_8k(sandbox: SandboxInfo, spoken: Spoken) -> Pcm:
    """What a caller says, rendered at 8 kHz (the telephone band a SIP caller sends)."""
    media = synthesize(spoken.text, sandbox.sounds_dir, voice=spoken.voice, speed=spoken.speed)
    # The .wav (8 kHz) by name: a wide rendering of the same words (.sln16) sits beside it.
    return Pcm.read(sandbox.sounds_dir.parent / f"{media}.wav")


def answered_at(call_events: list[Event]) -> float:
    """When Asterisk answered the call (its ChannelStateChange to Up), epoch seconds."""
    for event in call_events:
        if event["type"] == "ChannelStateChange" and event["channel"]["state"] == "Up":
            return parse_timestamp(event["timestamp"])
    raise AssertionError("the call was never answered")


async def test_a_sip_caller_saying_an_intent_reaches_its_destination(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, tmp_path: Path, heard_dir: Path
) -> None:
    # 영업 a second after the answer, and 네 in case the menu asks "did you say ...?".
    sales = spoken_8k(sandbox, SWITCHBOARD_KO_CALLERS["sales"])
    said = sales + Pcm.silence(2.0) + spoken_8k(sandbox, KO_CALLERS["yes"])
    media = caller_pcap(tmp_path / "sales.pcap", said, lead=1.0, tail=1.0)
    assert sandbox.sip_port is not None
    async with SipCaller(lab, sandbox.sip_port, media.path, extension=FLOW, hold=40) as caller:
        # The call in Stasis is the endpoint's own channel, not a Local pair.
        assert caller.call.events[0]["channel"]["name"].startswith("PJSIP/caller-")
        arrival = await caller.call.arrival(timeout=30)
        assert (arrival.context, arrival.extension) == ("ivr-dest", "sales")
        assert arrival.variables["Intent"] == "sales"
        assert arrival.variables["Result"] == "matched"
        assert arrival.variables["Flow"] == FLOW
        assert arrival.variables["Transcript"]
        result = await caller.ended()
    # The dialplan hung up after the arrival: Asterisk's BYE ended the SIPp call cleanly.
    assert result.ok, result.summary()
    assert result.exchanged(sent=True) == ["INVITE", "ACK", "200"], result.summary()
    assert result.exchanged(sent=False)[-1] == "BYE", result.summary()
    await caller.call.gone()
    assert await lab.wait_idle() == ([], [])
    # The tap heard the caller's words as sent, through mu-law and Asterisk's 8 -> 16 kHz.
    await asyncio.wait_for(ivr_app.idle(), 15)  # the recording is written as the call ends
    heard = Pcm.read(heard_dir / f"{caller.call.id}.wav").narrowband().samples.astype(float)
    sent = sales.samples.astype(float)
    lag = int(np.argmax(np.correlate(heard, sent, mode="valid")))
    assert np.corrcoef(heard[lag : lag + len(sent)], sent)[0, 1] > 0.99
    assert 0.98 <= lag / 8000 < 1.3  # all of the second before it: the tap was up before the answer


async def test_a_sip_caller_pressing_a_key_reaches_its_destination(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    # Key 3 as RFC 4733 events in the caller's RTP stream, half a second after the answer.
    media = caller_pcap(tmp_path / "key.pcap", Pcm.silence(0.5), dtmf=[DtmfKeys("3")], tail=1.0)
    assert sandbox.sip_port is not None
    async with SipCaller(lab, sandbox.sip_port, media.path, extension=FLOW, hold=30) as caller:
        arrival = await caller.call.arrival(timeout=20)
        result = await caller.ended()
    assert (arrival.context, arrival.extension) == ("ivr-dest", "billing")
    assert arrival.variables["Result"] == "dtmf"
    assert arrival.variables["Transcript"] == "3"
    digits = [e["digit"] for e in caller.call.events if e["type"] == "ChannelDtmfReceived"]
    assert digits == ["3"]  # one key press, however many event packets carried it
    assert result.ok, result.summary()
    await caller.call.gone()
    assert await lab.wait_idle() == ([], [])


async def test_a_sip_caller_speaking_over_the_prompt_is_routed(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    # The caller speaks the moment the call is answered, over the main prompt (about 10 s).
    said = spoken_8k(sandbox, SWITCHBOARD_KO_CALLERS["sales"])
    media = caller_pcap(tmp_path / "barge-in.pcap", said, lead=0.0, tail=1.5)
    assert sandbox.sip_port is not None
    async with SipCaller(lab, sandbox.sip_port, media.path, extension=FLOW, hold=30) as caller:
        arrival = await caller.call.arrival(timeout=30)
        result = await caller.ended()
    assert (arrival.context, arrival.extension) == ("ivr-dest", "sales")
    assert arrival.variables["Result"] == "matched"
    prompt = sound_seconds(sandbox.sounds_dir / "switchboard-ko" / "main.wav")
    assert arrival.at - answered_at(caller.call.events) < prompt / 2  # it did not wait for it
    assert result.ok, result.summary()
    await caller.call.gone()
    assert await lab.wait_idle() == ([], [])


async def test_the_default_flow_over_sip_and_a_caller_who_hangs_up(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    # sip:ivr@ runs the default flow; the caller says nothing and hangs up after 2 s.
    media = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    assert sandbox.sip_port is not None
    async with SipCaller(lab, sandbox.sip_port, media.path, hold=2.0) as caller:
        result = await caller.ended()
    assert result.ok, result.summary()
    assert result.exchanged(sent=True) == ["INVITE", "ACK", "BYE"], result.summary()
    assert result.exchanged(sent=False)[-1] == "200", result.summary()
    stasis = [
        e["dialplan_app_data"]
        for e in caller.call.events
        if e["type"] == "ChannelDialplan" and e["dialplan_app"] == "Stasis"
    ]
    assert stasis == ["speech-ivr"]  # no flow argument: the default flow
    await caller.call.gone()
    assert await lab.wait_idle() == ([], [])
