"""Speech quality through the sandbox Asterisk and the real Korean model: out-of-grammar
speech is not routed blindly, carrier sentences are, and early decisions come early."""

from __future__ import annotations

import wave

import pytest

from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS, Spoken, script
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


def _seconds(sandbox: SandboxInfo, media: str) -> float:
    total = 0.0
    for part in media.split("&"):
        with wave.open(str(sandbox.sounds_dir.parent / f"{part}.wav")) as audio:
            total += audio.getnframes() / audio.getframerate()
    return total
