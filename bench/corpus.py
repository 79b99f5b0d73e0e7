"""Labelled Korean speech corpora for the accuracy benchmark, rendered with espeak-ng.

    python bench/corpus.py [--corpus tune|report] [--out DIR] [--quick] [--workers 2]

Builds (or completes) a corpus and prints what it holds. There are two, with nothing in
common but the grammar: ``tune`` is the one thresholds, penalties and timings are fitted on;
``report`` has other voices, speeds, carrier sentences, out-of-grammar sentences and noise,
and is the one the README's figures come from (figures fitted on the corpus they are scored
on are no evidence). What they say comes from the Korean flow (grammars/switchboard-ko.yaml,
the main menu of flows/switchboard-ko.yaml):

- ``in-grammar``: every phrase of the switchboard grammar, labelled with its intent;
- ``carrier``: those phrases inside everyday carrier sentences ("{phrase} 부탁합니다"),
  labelled with the phrase's intent;
- ``oog``: everyday sentences that name no department and contain no word of the Korean
  grammars (intent ``None``);
- ``silence`` and ``noise``: no words at all (intent ``"<silence>"`` / ``"<noise>"``): digital
  silence, and white, pink or babble noise at telephone-like levels (-60 to -35 dBFS), in
  ``clean16``, ``tel8`` and ``ulaw`` only.

The tune corpus is 285 renderings (in voices ko, ko+f2, ko+f4, ko+m3, ko+f5 and speeds
110/130/160, rotated over the items), 1683 clips and about 73 minutes at 16 kHz; the report
corpus is 97 renderings (voices ko+f1, ko+f3, ko+m1, ko+m2, ko+m5, speeds 120/145/175),
about 560 clips; ``--quick`` is 12 renderings (66 clips, 3 minutes) for smoke runs.

Each rendering (text, espeak-ng voice, speed) is stored in several telephone conditions:

- ``clean16``: full band, resampled to 16 kHz;
- ``tel8``: through an 8 kHz line (sox to 8 kHz), back up to 16 kHz for the recognizer;
- ``ulaw``: ``tel8`` through a G.711 mu-law round trip;
- ``snr20`` / ``snr10``: ``tel8`` plus white or babble noise (the ``noise`` field) at 20/10
  dB SNR, added at 8 kHz over the whole file (so it is heard in the padding too);
- ``lowgain``: ``tel8`` 20 dB quieter (speech at about -44 dBFS).

Every 8 kHz condition is stored twice: the 8 kHz line signal (``sample_rate`` 8000, file
``*.8k.wav``) and that same signal upsampled by sox to 16 kHz (``sample_rate`` 16000). The
manifest has one line per file, so pick a ``sample_rate`` before decoding. Speech is
normalized to an active level of -24 dBFS and padded with 300-700 ms of silence before and
after (in noisy conditions the noise goes on through the padding). SNR is the speech power
over ``[speech_start, speech_end]`` over the noise power.

Deterministic: espeak-ng renders the same samples every time, sox runs without dither
(``-D``) and noise comes from seeds derived from the clip's name, so the same plan gives the
same bytes. Files are written atomically and kept: a second build only adds what is missing.
The default directory, ``~/.cache/speech-ivr/corpus/<version>``, is named by a hash of the
plan, this file and the tools' versions, so changing any of them builds a new corpus.

Importable (``sys.path`` holding ``bench/``, as for a script in it)::

    from corpus import build, load_manifest
    clips = [c for c in load_manifest(build()) if c.sample_rate == 16000]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ivr.project import EXAMPLES_DIR

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

FORMAT = 1
"""Bump when the meaning of the manifest changes."""
GRAMMAR = "switchboard-ko"
OTHER_GRAMMARS = ("support-ko", "order-ko")
"""Sub-menu grammars of the flow: out-of-grammar sentences avoid their words too."""

RATE = 16000
LINE_RATE = 8000
CONDITIONS = ("clean16", "tel8", "ulaw", "snr20", "snr10", "lowgain")
LINE_CONDITIONS = frozenset({"tel8", "ulaw", "snr20", "snr10", "lowgain"})
"""The conditions of an 8 kHz line, stored at 8 kHz as well."""
NO_INPUT_CONDITIONS = ("clean16", "tel8", "ulaw")
SNR_DB = {"snr20": 20.0, "snr10": 10.0}
LOW_GAIN_DB = -20.0
SPEECH_DBFS = -24.0
"""Active speech level of every rendering (RMS over its words, re full scale)."""
PEAK_DBFS = -1.0
PAD_SECONDS = (0.3, 0.7)
SPEECH_FLOOR_DB = 40.0
"""Speech is where 10 ms frames are within this many dB of the loudest frame."""


@dataclass(frozen=True)
class Plan:
    """What a corpus says and how: the two corpora share nothing but the grammar."""

    name: str
    voices: tuple[str, ...]
    speeds: tuple[int, int, int]
    """A slow, the usual and a fast speed."""
    carriers: tuple[str, ...]
    """Carrier sentences. "연결" and "문의" are grammar words themselves (of 직원 연결, 구매 문의,
    배송 문의): a template is not used with a phrase that already holds its grammar word."""
    oog_sentences: tuple[str, ...]
    """Out-of-grammar sentences: no department and no word of any Korean grammar (checked)."""
    noise_items: tuple[tuple[str, float], ...]
    """The noise-only clips: type and level (dBFS RMS, full band)."""
    silence_seconds: tuple[float, ...]
    noise_seconds: tuple[float, ...]
    in_grammar_voices: int
    """Renderings of each phrase at the usual speed, in this many voices (rotating)."""
    extra_speeds: int
    """And this many more: slow then fast (2), or one of them, alternating from phrase to phrase (1)."""
    carriers_per_phrase: int
    oog_renderings: int
    """Renderings of each out-of-grammar sentence."""


TUNE = Plan(
    name="tune",
    voices=("ko", "ko+f2", "ko+f4", "ko+m3", "ko+f5"),
    speeds=(110, 130, 160),
    carriers=(
        "{phrase} 부탁합니다",
        "{phrase} 연결해 주세요",
        "저기요 {phrase} 좀 바꿔 주세요",
        "{phrase} 문의하려고 전화했어요",
        "{phrase} 때문에 전화드렸는데요",
    ),
    oog_sentences=(
        "오늘 날씨가 어때요",
        "제 이름은 김민수입니다",
        "잠깐만요",
        "여보세요",
        "음 어 그",
        "아 네 네 잠시만요",
        "공일공 일이삼사 오육칠팔",
        "칠 월 십오 일이요",
        "천 이백 오십 원이요",
        "박지영 씨 계세요",
        "네 알겠습니다",
        "아니요 괜찮아요",
        "지금 몇 시예요",
        "다시 한 번 말씀해 주시겠어요",
        "잘 안 들려요",
        "감사합니다",
        "죄송합니다 잘못 걸었어요",
        "점심 먹었어요",
        "내일 다시 전화할게요",
        "이게 무슨 소리예요",
        "우리 집 강아지가 아파요",
        "커피 한 잔 주세요",
        "글쎄요 잘 모르겠어요",
        "음 그러니까 그게요",
        "버스를 놓쳐서 늦었어요",
        "토요일에 만나요",
    ),
    noise_items=(("white", -60.0), ("white", -45.0), ("pink", -55.0), ("pink", -40.0),
                 ("babble", -50.0), ("babble", -35.0)),
    silence_seconds=(1.5, 3.0, 5.0),
    noise_seconds=(2.0, 3.0, 4.0),
    in_grammar_voices=5,
    extra_speeds=2,
    carriers_per_phrase=2,
    oog_renderings=3,
)

REPORT = Plan(
    name="report",
    voices=("ko+f1", "ko+f3", "ko+m1", "ko+m2", "ko+m5"),
    speeds=(120, 145, 175),
    carriers=(
        "{phrase} 좀 부탁드려요",
        "{phrase} 담당자 계신가요",
        "안녕하세요 {phrase} 알아보려고요",
        "{phrase} 쪽으로 돌려 주세요",
    ),
    oog_sentences=(
        "택시를 불러 주세요",
        "우리 아이가 학교에 갔어요",
        "엄마한테 전화해야 돼요",
        "이거 어떻게 하는 거예요",
        "여기가 어디예요",
        "어제 비가 많이 왔어요",
        "누구세요",
        "저녁에 뭐 먹을까요",
        "아 그렇군요",
        "잠시만 기다려 주세요",
        "삼 번 출구로 나오세요",
        "생일 축하해요",
        "너무 시끄러워요",
        "제가 나중에 다시 걸게요",
        "영화 보러 갈래요",
        "뭐라고 하셨어요",
        "이천 이십 육 년이요",
        "친구를 만나러 왔어요",
        "그건 잘 모르겠는데요",
        "안녕히 계세요",
    ),
    noise_items=(("white", -55.0), ("pink", -45.0), ("babble", -40.0)),
    silence_seconds=(2.0, 4.0),
    noise_seconds=(2.5, 3.5),
    in_grammar_voices=1,
    extra_speeds=1,
    carriers_per_phrase=1,
    oog_renderings=1,
)
PLANS = {plan.name: plan for plan in (TUNE, REPORT)}


BABBLE_TALKERS = (("ko", 130), ("ko+f2", 150), ("ko+f4", 120), ("ko+m3", 160),
                  ("ko+f5", 140), ("ko+m1", 110))
BABBLE_SECONDS = 20.0
BABBLE_FILE = "noise/babble.{rate}.wav"


@dataclass(frozen=True)
class Item:
    """One rendering to make: a text in one voice and speed (or a no-input clip), in conditions."""

    rendering: str
    """Its name, shared by all its files; ``<kind>/<rendering>.<condition>[.8k].wav``."""
    kind: str
    text: str
    intent: str | None
    voice: str | None = None
    speed: int | None = None
    conditions: tuple[str, ...] = CONDITIONS
    noise: tuple[str, ...] = ()
    """For speech: the noise of each snr condition, in order; for the noise kind: its type."""
    level_dbfs: float | None = None
    """For the noise kind: its level."""
    seconds: float | None = None
    """For silence and noise: the duration."""
    grammar: str = GRAMMAR


@dataclass(frozen=True)
class Clip:
    """One audio file of the corpus and what it holds (a line of ``manifest.jsonl``)."""

    id: str
    path: Path
    text: str
    intent: str | None
    """The main-menu intent, None for out-of-grammar speech, "<silence>" or "<noise>"."""
    kind: str
    """in-grammar, carrier, oog, silence or noise."""
    voice: str | None
    speed: int | None
    condition: str
    sample_rate: int
    speech_start: float | None
    """Seconds into the file where the words start (None without words)."""
    speech_end: float | None
    duration: float
    grammar: str
    """The grammar the clip is meant for (its intent is one of that grammar's)."""
    rendering: str
    """Shared by every condition and rate of one rendering: pair clips with it."""
    noise: str | None
    """white, pink or babble: the noise added (snr conditions) or heard (noise kind)."""
    noise_dbfs: float | None
    """The level of that noise in this file."""

    @property
    def is_speech(self) -> bool:
        return self.kind in ("in-grammar", "carrier", "oog")

    def samples(self) -> np.ndarray:
        """The file's 16-bit samples."""
        return read_wav(self.path)[0]

    def pcm(self) -> bytes:
        """The file's audio as raw 16-bit little-endian PCM, ready for a recognizer."""
        with wave.open(str(self.path)) as wav:
            return wav.readframes(wav.getnframes())


# ---------------------------------------------------------------------------------------------
# The plan


def grammar_phrases(name: str = GRAMMAR) -> dict[str, tuple[str, ...]]:
    """Intent -> phrases of a grammar of grammars/."""
    return dict(_grammar(name))


@functools.cache
def _grammar(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from ivr.flow.loader import load_grammar

    return tuple(load_grammar(EXAMPLES_DIR / "grammars" / f"{name}.yaml").intents.items())


@functools.cache
def grammar_words() -> frozenset[str]:
    """Every word of every phrase of the Korean grammars."""
    words: set[str] = set()
    for name in (GRAMMAR, *OTHER_GRAMMARS):
        for phrases in grammar_phrases(name).values():
            for phrase in phrases:
                words.update(phrase.split())
    return frozenset(words)


def grammar_words_in(text: str, words: Iterable[str] | None = None) -> list[str]:
    """The grammar words ``text`` contains anywhere (spacing ignored)."""
    squeezed = "".join(text.split())
    return sorted(w for w in (grammar_words() if words is None else words) if w in squeezed)


def _tag(voice: str) -> str:
    return voice.replace("+", "-")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def _speech(kind: str, short: str, label: str, text: str, intent: str | None, voice: str,
            speed: int, index: int) -> Item:
    # Alternate the noise of the two snr conditions from one rendering to the next.
    noise = ("white", "babble") if index % 2 == 0 else ("babble", "white")
    return Item(
        rendering=f"{short}-{label}-{_digest(text)}-{_tag(voice)}-{speed}",
        kind=kind, text=text, intent=intent, voice=voice, speed=speed, noise=noise,
    )


def _carrier_texts(plan: Plan, phrase: str, index: int) -> list[str]:
    """The phrase's carriers, rotating through the templates, skipping a template whose
    grammar word the phrase already has (직원 연결 연결해 주세요)."""
    texts: list[str] = []
    for step in range(len(plan.carriers)):
        template = plan.carriers[(2 * index + step) % len(plan.carriers)]
        carrier_words = set(grammar_words_in(template.format(phrase="")))
        if carrier_words & set(phrase.split()):
            continue
        texts.append(template.format(phrase=phrase))
        if len(texts) == plan.carriers_per_phrase:
            break
    return texts


def plan_items(quick: bool = False, corpus: Plan = TUNE) -> list[Item]:
    """Every rendering of a corpus (or of its quick subset), in manifest order."""
    problems = {s: grammar_words_in(s) for s in corpus.oog_sentences if grammar_words_in(s)}
    if problems:
        raise ValueError(f"out-of-grammar sentences with grammar words: {problems}")
    voices, (slow, usual, fast) = corpus.voices, corpus.speeds
    # n -> (n mod 5, n mod 3) visits all 15 pairs, consecutive ones differing in both.
    combos = [(voices[n % len(voices)], corpus.speeds[n % 3]) for n in range(15)]
    phrases = [(intent, p) for intent, ps in grammar_phrases().items() for p in ps]
    items: list[Item] = []

    def add(kind: str, short: str, label: str, text: str, intent: str | None,
            voice: str, speed: int) -> None:
        items.append(_speech(kind, short, label, text, intent, voice, speed, len(items)))

    if quick:
        firsts = {}
        for intent, phrase in phrases:
            firsts.setdefault(intent, phrase)
        for intent, phrase in firsts.items():
            add("in-grammar", "ig", intent, phrase, intent, voices[1], usual)
        for index, (intent, phrase) in enumerate(phrases[:2]):
            add("carrier", "car", intent, _carrier_texts(corpus, phrase, index)[0], intent, voices[2], usual)
        for sentence in corpus.oog_sentences[:3]:
            add("oog", "oog", "none", sentence, None, voices[1], usual)
        items += _no_input(corpus, corpus.silence_seconds[1:2], corpus.noise_items[1:2])
        return items

    # In grammar: each phrase at the usual speed, and slower and faster (voices rotating).
    for p_index, (intent, phrase) in enumerate(phrases):
        for v in range(corpus.in_grammar_voices):
            add("in-grammar", "ig", intent, phrase, intent, voices[(p_index + v) % len(voices)], usual)
        extra = (slow, fast) if corpus.extra_speeds == 2 else ((slow, fast)[p_index % 2],)
        for step, speed in enumerate(extra):
            voice = voices[(2 * p_index + step + 1) % len(voices)]
            add("in-grammar", "ig", intent, phrase, intent, voice, speed)
    # Carriers: each phrase in its carriers, each in one voice/speed pair (rotating).
    n = 0
    for p_index, (intent, phrase) in enumerate(phrases):
        for text in _carrier_texts(corpus, phrase, p_index):
            voice, speed = combos[n % len(combos)]
            add("carrier", "car", intent, text, intent, voice, speed)
            n += 1
    # Out of grammar: each sentence in voice/speed pairs (rotating).
    n = 0
    for sentence in corpus.oog_sentences:
        for _ in range(corpus.oog_renderings):
            voice, speed = combos[n % len(combos)]
            add("oog", "oog", "none", sentence, None, voice, speed)
            n += 1
    items += _no_input(corpus, corpus.silence_seconds, corpus.noise_items)
    return items


def _no_input(corpus: Plan, silences: Sequence[float], noises: Sequence[tuple[str, float]]) -> list[Item]:
    items = [
        Item(rendering=f"sil-{round(s * 1000)}ms", kind="silence", text="", intent="<silence>",
             conditions=NO_INPUT_CONDITIONS, seconds=s)
        for s in silences
    ]
    for index, (noise, level) in enumerate(noises):
        seconds = corpus.noise_seconds[index % len(corpus.noise_seconds)]
        items.append(Item(
            rendering=f"noise-{noise}-m{round(-level)}dB-{round(seconds * 1000)}ms",
            kind="noise", text="", intent="<noise>", conditions=NO_INPUT_CONDITIONS,
            noise=(noise,), level_dbfs=level, seconds=seconds,
        ))
    return items


def _tool_versions() -> str:
    out = []
    for command in (["espeak-ng", "--version"], ["sox", "--version"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        out.append(result.stdout.strip())
    return "\n".join(out)


def version(items: Sequence[Item], quick: bool = False, corpus: Plan = TUNE) -> str:
    """The corpus's name: a hash of its plan, of this file and of the tools' versions."""
    digest = hashlib.sha1()
    digest.update(f"{FORMAT}\n{_tool_versions()}\n".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(json.dumps([asdict(i) for i in items], ensure_ascii=False).encode())
    return f"v{FORMAT}-{corpus.name}-{'quick-' if quick else ''}{digest.hexdigest()[:10]}"


def default_dir(quick: bool = False, corpus: Plan = TUNE) -> Path:
    """Where the corpus is cached: ``~/.cache/speech-ivr/corpus/<version>``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return cache / "speech-ivr" / "corpus" / version(plan_items(quick, corpus), quick, corpus)


# ---------------------------------------------------------------------------------------------
# Audio


def dbfs(x: np.ndarray) -> float:
    """RMS level of samples (int16 or float in -1..1) in dB re full scale (-inf for zeros)."""
    y = _float(x)
    power = float(np.mean(y * y)) if y.size else 0.0
    return 10 * np.log10(power) if power > 0 else float("-inf")


def _float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """The int16 samples and sample rate of a mono 16-bit WAV file."""
    with wave.open(str(path)) as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: not mono 16-bit")
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").copy(), wav.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono 16-bit samples atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    os.replace(partial, path)


def _run(command: list[str], data: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=data, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def _raw(rate: int, encoding: str = "signed-integer", bits: int = 16) -> list[str]:
    return ["-t", "raw", "-r", str(rate), "-e", encoding, "-b", str(bits), "-c", "1", "-L"]


def resample(x: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """int16 samples at another rate, by sox without dither."""
    out = _run(["sox", "-D", *_raw(rate), "-", *_raw(new_rate), "-"], x.astype("<i2").tobytes())
    return np.frombuffer(out, "<i2").copy()


def ulaw_round_trip(x: np.ndarray) -> np.ndarray:
    """8 kHz int16 samples through G.711 mu-law and back (sox)."""
    coded = _run(["sox", "-D", *_raw(LINE_RATE), "-", *_raw(LINE_RATE, "u-law", 8), "-"],
                 x.astype("<i2").tobytes())
    out = _run(["sox", "-D", *_raw(LINE_RATE, "u-law", 8), "-", *_raw(LINE_RATE), "-"], coded)
    return np.frombuffer(out, "<i2").copy()


def speak(text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as 16 kHz float samples (full band)."""
    wav = _run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text])
    out = _run(["sox", "-D", "-t", "wav", "-", *_raw(RATE), "-"], wav)
    return _float(np.frombuffer(out, "<i2"))


def speech_bounds(x: np.ndarray, rate: int = RATE) -> tuple[int, int]:
    """First and last sample (exclusive) of the 10 ms frames within SPEECH_FLOOR_DB of the
    loudest one."""
    frame = rate // 100
    n = len(x) // frame
    if n == 0:
        raise ValueError("no audio")
    power = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    loud = np.nonzero(power > power.max() * 10 ** (-SPEECH_FLOOR_DB / 10))[0]
    if power.max() <= 0 or loud.size == 0:
        raise ValueError("no speech")
    return int(loud[0]) * frame, min(len(x), (int(loud[-1]) + 1) * frame)


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.standard_normal(n))


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise: white noise shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = np.inf  # no DC
    return _unit(np.fft.irfft(spectrum / np.sqrt(f), n))


def _unit(x: np.ndarray) -> np.ndarray:
    """Scaled to an RMS of 1."""
    rms = np.sqrt(np.mean(x * x))
    return x / rms if rms > 0 else x


def _seed(*parts: object) -> np.random.Generator:
    key = "\0".join(str(p) for p in parts).encode()
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))


_BABBLE: dict[Path, np.ndarray] = {}


def make_babble(out_dir: Path, corpus: Plan = TUNE) -> None:
    """Babble: six espeak-ng talkers saying the out-of-grammar sentences at once (so it holds
    no grammar word), BABBLE_SECONDS long, at 16 and 8 kHz. Kept once made."""
    paths = [out_dir / BABBLE_FILE.format(rate=r) for r in (RATE, LINE_RATE)]
    if all(p.exists() for p in paths):
        return
    n = round(BABBLE_SECONDS * RATE)
    mix = np.zeros(n)
    for t, (voice, speed) in enumerate(BABBLE_TALKERS):
        order = corpus.oog_sentences[3 * t:] + corpus.oog_sentences[: 3 * t]
        x = speak(", ".join(order), voice, speed)
        start, end = speech_bounds(x)
        mix += _unit(np.resize(x[start:end], n))
    babble16 = _int16(_unit(mix) * 10 ** (-20 / 20))
    write_wav(paths[1], resample(babble16, RATE, LINE_RATE), LINE_RATE)
    write_wav(paths[0], babble16, RATE)


def _babble(out_dir: Path, rate: int, n: int, rng: np.random.Generator) -> np.ndarray:
    path = out_dir / BABBLE_FILE.format(rate=rate)
    if path not in _BABBLE:
        _BABBLE[path] = _float(read_wav(path)[0])
    bed = _BABBLE[path]
    offset = int(rng.integers(len(bed)))
    return _unit(np.take(bed, np.arange(offset, offset + n), mode="wrap"))


def _noise(kind: str, n: int, rate: int, rng: np.random.Generator, out_dir: Path) -> np.ndarray:
    if kind == "white":
        return white(n, rng)
    if kind == "pink":
        return pink(n, rng)
    if kind == "babble":
        return _babble(out_dir, rate, n, rng)
    raise ValueError(f"unknown noise {kind!r}")


# ---------------------------------------------------------------------------------------------
# Building


def _render(item: Item, out_dir: Path) -> list[dict[str, Any]]:
    """Make every file of one rendering; return its manifest lines."""
    rng = _seed(item.rendering, "pad")
    speech_start = speech_end = None
    if item.kind == "silence":
        full = np.zeros(round(item.seconds * RATE))
    elif item.kind == "noise":
        n = round(item.seconds * RATE)
        full = _noise(item.noise[0], n, RATE, _seed(item.rendering), out_dir)
        full *= 10 ** (item.level_dbfs / 20)
    else:
        x = speak(item.text, item.voice, item.speed)
        start, end = speech_bounds(x)
        words = x[start:end]
        gain = 10 ** ((SPEECH_DBFS - dbfs(words)) / 20)
        gain = min(gain, 10 ** (PEAK_DBFS / 20) / np.abs(words).max())
        lead, trail = (round(rng.uniform(*PAD_SECONDS) * RATE) for _ in range(2))
        full = np.concatenate([np.zeros(lead), words * gain, np.zeros(trail)])
        speech_start, speech_end = lead / RATE, (lead + len(words)) / RATE

    clean = _int16(full)
    line = resample(clean, RATE, LINE_RATE) if LINE_CONDITIONS & set(item.conditions) else None
    rows: list[dict[str, Any]] = []

    def emit(condition: str, samples: np.ndarray, rate: int, noise: str | None = None,
             noise_dbfs: float | None = None) -> None:
        suffix = ".8k" if rate == LINE_RATE else ""
        rel = f"{item.kind}/{item.rendering}.{condition}{suffix}.wav"
        write_wav(out_dir / rel, samples, rate)
        if item.kind == "noise":
            noise, noise_dbfs = item.noise[0], round(dbfs(samples), 2)
        rows.append({
            "id": f"{item.rendering}.{condition}{suffix}",
            "path": rel,
            "text": item.text,
            "intent": item.intent,
            "kind": item.kind,
            "voice": item.voice,
            "speed": item.speed,
            "condition": condition,
            "sample_rate": rate,
            "speech_start": speech_start,
            "speech_end": speech_end,
            "duration": round(len(samples) / rate, 6),
            "grammar": item.grammar,
            "rendering": item.rendering,
            "noise": noise,
            "noise_dbfs": noise_dbfs,
        })

    def emit_line(condition: str, samples: np.ndarray, **noise: Any) -> None:
        emit(condition, resample(samples, LINE_RATE, RATE), RATE, **noise)
        emit(condition, samples, LINE_RATE, **noise)

    snr_noises = dict(zip(SNR_DB, item.noise, strict=False))
    for condition in item.conditions:
        if condition == "clean16":
            emit(condition, clean, RATE)
        elif condition == "tel8":
            emit_line(condition, line)
        elif condition == "ulaw":
            emit_line(condition, ulaw_round_trip(line))
        elif condition in SNR_DB:
            signal = _float(line)
            lo, hi = round(speech_start * LINE_RATE), round(speech_end * LINE_RATE)
            level = dbfs(signal[lo:hi]) - SNR_DB[condition]
            kind = snr_noises[condition]
            noise = _noise(kind, len(signal), LINE_RATE, _seed(item.rendering, condition), out_dir)
            noisy = _int16(signal + noise * 10 ** (level / 20))
            emit_line(condition, noisy, noise=kind, noise_dbfs=round(level, 2))
        elif condition == "lowgain":
            emit_line(condition, _int16(_float(line) * 10 ** (LOW_GAIN_DB / 20)))
        else:
            raise ValueError(f"unknown condition {condition!r}")
    return rows


def _make(job: tuple[Item, Path]) -> list[dict[str, Any]]:
    """A rendering's manifest lines, from its record if all its files exist, else made anew."""
    item, out_dir = job
    record = out_dir / item.kind / f"{item.rendering}.json"
    if record.exists():
        saved = json.loads(record.read_text())
        if saved.get("item") == json.loads(json.dumps(asdict(item))) and all(
            (out_dir / row["path"]).exists() for row in saved["rows"]
        ):
            return saved["rows"]
    rows = _render(item, out_dir)
    partial = record.with_name(f".{record.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({"item": asdict(item), "rows": rows}, ensure_ascii=False))
    os.replace(partial, record)
    return rows


def build(
    out_dir: Path | str | None = None,
    quick: bool = False,
    *,
    corpus: Plan = TUNE,
    items: Sequence[Item] | None = None,
    workers: int = 2,
    progress: bool = False,
) -> Path:
    """Build the corpus (only what is missing) into ``out_dir`` (default: :func:`default_dir`)
    and write its ``manifest.jsonl``; return the directory. ``items`` replaces the plan."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: apt-get install espeak-ng sox")
    items = list(plan_items(quick, corpus) if items is None else items)
    out = Path(out_dir).expanduser() if out_dir is not None else default_dir(quick, corpus)
    out.mkdir(parents=True, exist_ok=True)
    if any("babble" in item.noise for item in items):
        make_babble(out, corpus)
    jobs = [(item, out) for item in items]
    rows: list[dict[str, Any]] = []
    if workers <= 1:
        results: Iterable[list[dict[str, Any]]] = map(_make, jobs)
        rows = _collect(results, len(jobs), progress)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = _collect(pool.map(_make, jobs, chunksize=1), len(jobs), progress)
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    manifest = out / "manifest.jsonl"
    if not manifest.exists() or manifest.read_text() != lines:
        partial = out / ".manifest.jsonl.partial"
        partial.write_text(lines)
        os.replace(partial, manifest)
    return out


def _collect(results: Iterable[list[dict[str, Any]]], total: int, progress: bool
             ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not progress:
        for result in results:
            rows += result
        return rows
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("rendering", total=total)
        for result in results:
            rows += result
            bar.advance(task)
    return rows


def load_manifest(directory: Path | str) -> list[Clip]:
    """The clips of a built corpus, in manifest order (paths made absolute)."""
    directory = Path(directory).expanduser()
    clips = []
    for line in (directory / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            row["path"] = directory / row["path"]
            clips.append(Clip(**row))
    return clips


# ---------------------------------------------------------------------------------------------
# The command line


def describe(directory: Path, seconds: float | None = None) -> None:
    """Print counts per kind and condition, minutes of audio and bytes of a built corpus."""
    from rich.console import Console
    from rich.table import Table

    clips = load_manifest(directory)
    kinds = ["in-grammar", "carrier", "oog", "silence", "noise"]
    main = [c for c in clips if c.sample_rate == RATE]
    table = Table(title=f"corpus {directory.name}: 16 kHz clips per kind x condition")
    table.add_column("kind", no_wrap=True)
    for condition in CONDITIONS:
        table.add_column(condition, justify="right")
    table.add_column("clips", justify="right")
    table.add_column("minutes", justify="right")
    for kind in [*kinds, "all"]:
        subset = [c for c in main if kind in ("all", c.kind)]
        counts = [sum(c.condition == cond for c in subset) for cond in CONDITIONS]
        table.add_row(kind, *map(str, counts), str(len(subset)),
                      f"{sum(c.duration for c in subset) / 60:.1f}",
                      end_section=kind == kinds[-1])
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 100))
    console.print(table)
    line = [c for c in clips if c.sample_rate == LINE_RATE]
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    renderings = len({c.rendering for c in clips})
    console.print(
        f"{len(main)} clips at 16 kHz ({sum(c.duration for c in main) / 60:.1f} min) and "
        f"{len(line)} at 8 kHz ({sum(c.duration for c in line) / 60:.1f} min) from "
        f"{renderings} renderings; {size / 1e6:.1f} MB in {directory}"
        + (f"; built in {seconds:.1f} s" if seconds is not None else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="corpus directory (default: the cache)")
    parser.add_argument("--corpus", choices=sorted(PLANS), default="tune", help="which corpus (tune)")
    parser.add_argument("--quick", action="store_true", help="a small subset for smoke runs")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (2)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    directory = build(args.out, args.quick, corpus=PLANS[args.corpus], workers=args.workers, progress=True)
    describe(directory, time.monotonic() - began)
    return 0


if __name__ == "__main__":
    sys.exit(main())
