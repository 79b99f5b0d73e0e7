"""Speech quality through the sandbox Asterisk and the real Korean model: out-of-grammar
speech is not routed blindly, carrier sentences are, and early decisions come early."""

from __future__ import annotations

import subprocess

import pytest

from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS, Spoken, script
from ivr.sandbox.speech import SLN16, sound_file, sound_seconds
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

# Renderings checked offline at 20 lead-in offsets: the out-of-grammar sentence always scores
# under min_score after the doubt policy; the carrier sentence always 75 (confirmed) for support.
OUT_OF_GRAMMAR = Spoken("버스를 놓쳐서 늦었어요", "ko+f2", 130)
CARRIER = Spoken("환불 부탁합니다", "ko+f2", 130)


async def test_out_of_grammar_speech_is_never_routed_silently(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    call = await lab.call(speech=OUT_OF_GRAMMAR.render(sandbox.sounds_dir), flow="ivr-test-doubt")
    arrival = await call.arrival()
    assert arrival.context == "ivr-fallback"
    assert arrival.variables["Result"] in ("no-match", "no-input")


async def test_a_phrase_in_a_carrier_sentence_is_routed_right(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # Confirmed (or taken early); the caller says yes in case it is asked.
    said = script(sandbox.sounds_dir, CARRIER, 2.5, KO_CALLERS["yes"])
    arrival = await (await lab.call(speech=said, flow="ivr-test-doubt")).arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("support", "matched")


async def test_an_early_decision_routes_before_the_caller_has_finished(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # "영업부", a pause shorter than the menu's 1.5 s end-of-speech silence, then more words.
    said = script(sandbox.sounds_dir, SWITCHBOARD_KO_CALLERS["sales"], 1.0, SWITCHBOARD_KO_CALLERS["tech"])
    early = await lab.call(speech=said, flow="ivr-test-early")
    late = await lab.call(speech=said, flow="ivr-test-late")
    early_arrival, late_arrival = await early.arrival(), await late.arrival()
    assert early_arrival.extension == "sales"
    # The caller was still talking: its words end (and it would send CallerSpeechEnd) later.
    assert early_arrival.at < await early.speech_start() + _seconds(sandbox, said)
    assert late_arrival.at > await late.speech_end() + 1.0  # after the whole silence


async def test_a_quiet_caller_is_lifted_and_routed(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # 28 dB quieter than the other test callers. Lifted by the gain control, the answer is
    # heard with full confidence and routed at once; with the gain control off
    # (MAX_GAIN_DB 0) the simulator hears it with doubt, the menu asks to confirm and this
    # caller, who says nothing more, ends at the fallback.
    said = _quieter(sandbox, SWITCHBOARD_KO_CALLERS["support"].render(sandbox.sounds_dir), 28)
    arrival = await (await lab.call(speech=said, flow="ivr-test-doubt")).arrival()
    assert (arrival.extension, arrival.variables["Result"]) == ("support", "matched")


async def test_an_answer_over_a_humming_line_ends_when_the_words_do(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # A steady hum WebRTC's VAD takes for voice, for 12 s, with the caller's words 1 s in.
    # The VAD gate hears the words stand out of the hum and ends the answer after them;
    # without it (margin -1000 dB) the hum holds the answer open until max_speech (8 s).
    said = _over_hum(sandbox, SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir), 12.0, 1.0)
    call = await lab.call(speech=said, flow="switchboard-ko")
    arrival = await call.arrival()
    assert arrival.extension == "sales"
    words = _seconds(sandbox, SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir))
    assert arrival.at < await call.speech_start() + 1.0 + words + 3.0


def _over_hum(sandbox: SandboxInfo, media: str, seconds: float, words_at: float) -> str:
    """``media`` mixed ``words_at`` s into ``seconds`` of a 150 Hz hum about 20 dB under it."""
    source = sound_file(sandbox.sounds_dir, media)
    target = source.with_name(f"{source.stem}-over-hum.sln16")
    raw = " ".join(SLN16)
    subprocess.run(
        ["sox", "-D", "-m", "-v", "0.1", "|sox -D -n -r 16000 -c 1 -b 16 -p synth %g sine 150" % seconds,
         "|sox -D %s %s -p pad %g" % (raw, source, words_at), *SLN16, str(target), "trim", "0", "%g" % seconds],
        check=True,
    )
    return media + "-over-hum"


def _quieter(sandbox: SandboxInfo, media: str, db: float) -> str:
    """A copy of a sound ``db`` quieter, beside it."""
    source = sound_file(sandbox.sounds_dir, media)
    target = source.with_name(f"{source.stem}-minus{db:g}dB.sln16")
    subprocess.run(["sox", "-D", *SLN16, str(source), *SLN16, str(target), "gain", f"-{db:g}"], check=True)
    return media + f"-minus{db:g}dB"


def _seconds(sandbox: SandboxInfo, media: str) -> float:
    return sum(sound_seconds(sound_file(sandbox.sounds_dir, part)) for part in media.split("&"))
