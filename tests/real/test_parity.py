"""``simulate --wav`` and a real call hear and decide alike, clip by clip.

Each clip is played by a test call through the sandbox Asterisk into the app, and given to
the simulator as a WAV file; both must end at the same destination with the same result,
intent and transcript. The clips are of every kind: phrases of the grammar, phrases inside
carrier sentences, sentences the grammar does not hold, noise, and words over a hum.

Should a call's audio not reach the app as it was played (``ivr.sandbox.damage``), the app
did not hear the clip: the simulator is then given what the app heard (its recording) instead,
and such calls must be rare.
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.audio import read_wav
from ivr.flow import load_flows
from ivr.flow.compiled import compile_flows
from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.damage import frames_damaged
from ivr.sandbox.prompts import Spoken
from ivr.sandbox.speech import SLN16, sound_file
from ivr.simulate import Simulator, Wav
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

FLOW = "ivr-test-doubt"  # the Korean main menu's grammar and thresholds, one try, confirmations
CALLS_AT_ONCE = 2

SPOKEN = {
    "in-grammar": [
        Spoken("영업부", "ko+f2", 130), Spoken("고객센터", "ko+f4", 130), Spoken("요금", "ko", 110),
        Spoken("기술지원", "ko+m1", 150), Spoken("상담원", "ko+f5", 130), Spoken("배송 문의", "ko+f3", 130),
        Spoken("청구서", "ko+m3", 130), Spoken("인터넷 장애", "ko+f1", 130),
    ],
    "carrier": [
        Spoken("영업부 부탁합니다", "ko+f2", 130), Spoken("환불 때문에 전화드렸는데요", "ko+f4", 130),
        Spoken("저기요 상담원 좀 바꿔 주세요", "ko+m1", 130), Spoken("요금 납부 하려고요", "ko+f3", 150),
        Spoken("오류가 나서 전화했어요", "ko+f5", 130),
    ],
    "out-of-grammar": [
        Spoken("오늘 날씨가 어때요", "ko+f2", 130), Spoken("버스를 놓쳐서 늦었어요", "ko+m3", 130),
        Spoken("여보세요", "ko+f4", 130), Spoken("우리 집 강아지가 아파요", "ko+f1", 150),
        Spoken("잠시만 기다려 주세요", "ko", 130),
    ],
}


@dataclass(frozen=True)
class Clip:
    name: str
    media: str
    """Under Asterisk's sounds (``.sln16``: what the test call plays)."""
    wav: Path
    """The same samples, for the simulator."""


def _clips(sandbox: SandboxInfo, scratch: Path) -> list[Clip]:
    sounds = sandbox.sounds_dir
    made: list[tuple[str, str]] = []
    for kind, spoken in SPOKEN.items():
        made += [(f"{kind}: {s.text} ({s.voice}, {s.speed})", s.render(sounds)) for s in spoken]
    target = sounds / "parity"
    target.mkdir(exist_ok=True)
    synth = {
        "white noise": ["synth", "2.5", "whitenoise", "vol", "0.02"],
        "pink noise": ["synth", "3", "pinknoise", "vol", "0.05"],
    }
    for name, effect in synth.items():
        path = target / f"{name.replace(' ', '-')}.sln16"
        subprocess.run(["sox", "-D", "-n", *SLN16, str(path), *effect], check=True)
        made.append((name, f"{sounds.name}/parity/{path.stem}"))
    words = sound_file(sounds, Spoken("환불", "ko+f2", 130).render(sounds))
    hum = target / "words-over-hum.sln16"
    subprocess.run(
        ["sox", "-D", "-m", "-v", "0.1", "|sox -D -n -r 16000 -c 1 -b 16 -p synth 5 sine 150",
         "|sox -D %s %s -p pad 1" % (" ".join(SLN16), words), *SLN16, str(hum), "trim", "0", "5"],
        check=True,
    )
    made.append(("words over a hum", f"{sounds.name}/parity/{hum.stem}"))
    clips = []
    for index, (name, media) in enumerate(made):
        wav = scratch / f"{index}.wav"
        subprocess.run(["sox", "-D", *SLN16, str(sound_file(sounds, media)), str(wav)], check=True)
        clips.append(Clip(name, media, wav))
    return clips


def _outcome(context: str | None, extension: str | None, variables: dict[str, str]) -> tuple[str, ...]:
    return (
        f"{context},{extension}",
        variables.get("Result", ""),
        variables.get("Intent", ""),
        variables.get("Transcript", ""),
    )


async def test_simulate_and_a_real_call_give_the_same_route_and_transcript(
    ivr_app: SpeechIvrApp,
    lab: CallLab,
    sandbox: SandboxInfo,
    models: ModelStore,
    flow_files: tuple[Path, Path],
    heard_dir: Path,
    tmp_path: Path,
) -> None:
    clips = await asyncio.to_thread(_clips, sandbox, tmp_path)
    assert len(clips) >= 20
    flow = compile_flows(load_flows(*flow_files))[FLOW]
    simulator = Simulator(flow, await asyncio.to_thread(models.get, flow.language))

    def simulate(wav: Path) -> tuple[str, ...]:
        outcome = simulator.run([Wav(wav)]).outcome
        assert outcome is not None and outcome.destination is not None
        return _outcome(
            outcome.destination.context,
            outcome.destination.extension,
            {"Result": outcome.result.value, "Intent": outcome.intent or "", "Transcript": outcome.transcript},
        )

    limit = asyncio.Semaphore(CALLS_AT_ONCE)

    async def call(clip: Clip) -> tuple[tuple[str, ...], Path]:
        async with limit:
            placed = await lab.call(speech=clip.media, flow=FLOW)
            arrival = await placed.arrival()
            await placed.hangup()
            await placed.gone()
            return _outcome(arrival.context, arrival.extension, arrival.variables), heard_dir / f"{placed.other_id}.wav"

    live = await asyncio.gather(*(call(clip) for clip in clips))
    await asyncio.wait_for(ivr_app.idle(), 15)  # every recording is written
    differ, damaged = [], []
    for clip, (got, recording) in zip(clips, live, strict=True):
        lost = frames_damaged(read_wav(clip.wav), read_wav(recording))
        heard = clip.wav if lost == 0 else recording
        if lost != 0:
            damaged.append(f"{clip.name}: {lost} frames")
        expected = await asyncio.to_thread(simulate, heard)
        if got != expected:
            differ.append(f"{clip.name}: live {got}, simulated {expected} (from {heard.name})")
    assert differ == [], "\n".join(differ)
    assert len(damaged) <= len(clips) // 4, damaged
    # The clips end in outcomes of every kind, not one route over and over.
    outcomes = [got for got, _ in live]
    results = {outcome[1] for outcome in outcomes}
    assert {"matched", "no-input"} <= results and len({o[:3] for o in outcomes}) >= 4, outcomes
