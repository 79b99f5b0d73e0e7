"""ivr.speech.dither: a model's mfcc.conf with dithering off, in a derived directory."""

from __future__ import annotations

from pathlib import Path

from ivr.speech.dither import dither_off, is_undithered, undithered_model


def test_an_existing_dither_setting_is_replaced() -> None:
    assert dither_off("--use-energy=false\n--dither=1\n--sample-frequency=16000\n") == (
        "--use-energy=false\n--sample-frequency=16000\n--dither=0\n"
    )


def test_dither_off_is_added_when_absent() -> None:
    assert dither_off("--use-energy=false\n") == "--use-energy=false\n--dither=0\n"


def fake_model(root: Path, mfcc: str = "--use-energy=false\n") -> Path:
    model = root / "vosk-model-test"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"acoustic model")
    (model / "conf").mkdir()
    (model / "conf" / "mfcc.conf").write_text(mfcc)
    (model / "conf" / "model.conf").write_text("--beam=13\n")
    (model / "graph").mkdir()
    return model


def test_a_dithering_model_gets_a_derived_copy(tmp_path: Path) -> None:
    model = fake_model(tmp_path)
    derived = undithered_model(model, cache_dir=tmp_path / "cache")
    assert derived != model.resolve() and derived.is_relative_to(tmp_path / "cache")
    mfcc = derived / "conf" / "mfcc.conf"
    assert not mfcc.is_symlink()
    assert mfcc.read_text().splitlines()[-1] == "--dither=0"
    assert is_undithered(derived)
    for entry in ("am", "graph", "conf/model.conf"):
        assert (derived / entry).is_symlink(), entry
        assert (derived / entry).resolve() == (model / entry).resolve(), entry
    assert (model / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n"  # untouched


def test_the_derived_copy_is_reused(tmp_path: Path) -> None:
    model = fake_model(tmp_path)
    first = undithered_model(model, cache_dir=tmp_path / "cache")
    built = (first / "conf" / "mfcc.conf").stat().st_mtime_ns
    second = undithered_model(model, cache_dir=tmp_path / "cache")
    assert second == first
    assert (second / "conf" / "mfcc.conf").stat().st_mtime_ns == built
    assert len(list((tmp_path / "cache" / "models-undithered").iterdir())) == 1


def test_a_model_without_dither_is_used_as_is(tmp_path: Path) -> None:
    model = fake_model(tmp_path, mfcc="--use-energy=false\n--dither=0\n")
    assert undithered_model(model, cache_dir=tmp_path / "cache") == model.resolve()
    assert not (tmp_path / "cache").exists()
