"""bench/corpus.py: a tiny corpus built twice, its manifest, SNR and gain measured."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

import corpus  # noqa: E402

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(
        not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox"
    ),
]

FIELDS = {
    "id", "path", "text", "intent", "kind", "voice", "speed", "condition", "sample_rate",
    "speech_start", "speech_end", "duration", "grammar", "rendering", "noise", "noise_dbfs",
}


def tiny_plan() -> list[corpus.Item]:
    """One word in every condition, one out-of-grammar sentence clean, one silence."""
    word = corpus._speech("in-grammar", "ig", "sales", "영업부", "sales", "ko+f2", 130, 0)
    oog = corpus._speech("oog", "oog", "none", corpus.TUNE.oog_sentences[0], None, "ko+f4", 160, 1)
    silence = corpus._no_input(corpus.TUNE, [1.0], [])[0]
    return [word, dataclasses.replace(oog, conditions=("clean16",)), silence]


WORD = tiny_plan()[0].rendering


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = corpus.build(tmp_path_factory.mktemp("corpus-a"), items=tiny_plan())
    second = corpus.build(tmp_path_factory.mktemp("corpus-b"), items=tiny_plan(), workers=1)
    return first, second


def level(x: np.ndarray) -> float:
    """Power in dB re full scale of int16 samples."""
    y = x.astype(np.float64) / 32768
    return 10 * np.log10(np.mean(y * y))


def test_manifest_fields(built: tuple[Path, Path]) -> None:
    directory = built[0]
    rows = [json.loads(line) for line in (directory / "manifest.jsonl").read_text().splitlines()]
    # The word: 6 conditions at 16 kHz + 5 line conditions at 8 kHz; the sentence: 1;
    # the silence: clean16, tel8 and ulaw, the last two at both rates.
    assert len(rows) == 11 + 1 + 5
    for row in rows:
        assert set(row) == FIELDS
        samples, rate = corpus.read_wav(directory / row["path"])
        assert rate == row["sample_rate"] in (16000, 8000)
        assert row["duration"] == pytest.approx(len(samples) / rate, abs=1e-6)
    clips = corpus.load_manifest(directory)
    assert all(clip.path.is_absolute() and clip.path.exists() for clip in clips)
    word = [c for c in clips if c.kind == "in-grammar"]
    assert {(c.condition, c.sample_rate) for c in word} == {
        ("clean16", 16000), *((c, r) for c in corpus.LINE_CONDITIONS for r in (16000, 8000))
    }
    for clip in word:
        assert (clip.text, clip.intent, clip.voice, clip.speed) == ("영업부", "sales", "ko+f2", 130)
        assert clip.grammar == "switchboard-ko"
        # 300-700 ms of silence before and after the words.
        assert 0.3 <= clip.speech_start <= 0.7
        assert 0.3 <= clip.duration - clip.speech_end <= 0.7 + 1e-3
        assert clip.speech_end - clip.speech_start > 0.3
    clean = next(c for c in word if c.condition == "clean16").samples()
    start, end = (round(t * 16000) for t in (word[0].speech_start, word[0].speech_end))
    assert not clean[:start].any() and not clean[end:].any()
    assert level(clean[start:end]) == pytest.approx(corpus.SPEECH_DBFS, abs=0.1)
    (oog,) = [c for c in clips if c.kind == "oog"]
    assert oog.intent is None and oog.condition == "clean16"
    silences = [c for c in clips if c.kind == "silence"]
    assert {c.intent for c in silences} == {"<silence>"}
    assert all(c.speech_start is None and not c.samples().any() for c in silences)


def test_same_bytes_twice(built: tuple[Path, Path]) -> None:
    first, second = built
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize("condition", ["snr20", "snr10"])
def test_noisy_clips_have_their_snr(built: tuple[Path, Path], condition: str) -> None:
    clips = {c.id: c for c in corpus.load_manifest(built[0])}
    for rate, suffix in ((8000, ".8k"), (16000, "")):
        noisy = clips[f"{WORD}.{condition}{suffix}"]
        line = clips[f"{WORD}.tel8{suffix}"].samples().astype(np.int64)
        noise = noisy.samples().astype(np.int64) - line
        start, end = (round(t * rate) for t in (noisy.speech_start, noisy.speech_end))
        snr = level(line[start:end]) - level(noise)
        assert snr == pytest.approx(corpus.SNR_DB[condition], abs=1.0)
        # The noise goes on through the padding.
        assert level(noise[:start]) == pytest.approx(level(noise[start:end]), abs=3.0)


def test_lowgain_is_20_db_down(built: tuple[Path, Path]) -> None:
    clips = {c.id: c for c in corpus.load_manifest(built[0])}
    for suffix in (".8k", ""):
        low = clips[f"{WORD}.lowgain{suffix}"].samples()
        line = clips[f"{WORD}.tel8{suffix}"].samples()
        assert level(low) - level(line) == pytest.approx(-20.0, abs=0.1)


def test_out_of_grammar_sentences_hold_no_grammar_word() -> None:
    for plan in corpus.PLANS.values():
        assert 15 <= len(plan.oog_sentences) <= 30
        for sentence in plan.oog_sentences:
            assert corpus.grammar_words_in(sentence) == [], sentence


def test_the_report_corpus_shares_nothing_with_the_tune_corpus_but_the_grammar() -> None:
    tune, report = corpus.TUNE, corpus.REPORT
    assert not set(tune.voices) & set(report.voices)
    assert not set(tune.speeds) & set(report.speeds)
    assert not set(tune.carriers) & set(report.carriers)
    assert not set(tune.oog_sentences) & set(report.oog_sentences)
    tune_items = {(i.text, i.voice, i.speed) for i in corpus.plan_items(corpus=tune)}
    report_items = {(i.text, i.voice, i.speed) for i in corpus.plan_items(corpus=report) if i.voice}
    assert not tune_items & report_items
    assert 500 <= len(corpus.plan_items(corpus=report)) * 6 <= 650


def test_rebuild_skips_existing_files(built: tuple[Path, Path]) -> None:
    directory = built[0]
    before = {p: p.stat().st_mtime_ns for p in directory.rglob("*.wav")}
    corpus.build(directory, items=tiny_plan())
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*.wav")} == before
