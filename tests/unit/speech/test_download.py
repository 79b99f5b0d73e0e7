"""Getting a model into the cache: MD5 sums (the catalogue's, or the published list's), an
unreachable server, and installing from a zip or directory with no network at all."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from ivr.speech.download import (
    BadModelSource,
    ChecksumMismatch,
    ModelServerUnavailable,
    download_model,
    install_model,
)
from ivr.speech.model_catalog import CATALOG, ModelEntry, find_entry
from tests.unit.speech.model_files import (
    FAKE_NAME,
    ModelServer,
    digest,
    fake_model,
    make_zip,
    models_in,
    write_tree,
)


@pytest.fixture
def fake_zip(tmp_path: Path) -> Path:
    return make_zip(tmp_path / "zips" / f"{FAKE_NAME}.zip", fake_model())


def recording_console() -> Console:
    return Console(file=io.StringIO(), width=1000)


def printed(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


def entry_at(url: str, md5: str | None = None) -> ModelEntry:
    return ModelEntry(FAKE_NAME, "xx", "a fake model", url=url, md5=md5)


def test_the_catalogue_carries_the_published_md5_sums() -> None:
    for entry in CATALOG:
        if not entry.is_package:
            assert entry.md5 is not None and re.fullmatch(r"[0-9a-f]{32}", entry.md5), entry.name
    english = find_entry("vosk-model-small-en-us-0.15")
    assert english is not None and english.md5 == "09ab50ccd62b674cbaa231b825f9c1cb"


async def test_a_catalogue_model_is_checked_against_its_md5(
    model_server: ModelServer, fake_zip: Path, tmp_path: Path
) -> None:
    url = model_server.serve(fake_zip)
    good = entry_at(url, md5=digest(fake_zip, "md5"))
    model_dir = await download_model(good, tmp_path / "good", model_list_url=None)
    assert (model_dir / "am" / "final.mdl").is_file()

    wrong = entry_at(url, md5="0" * 32)
    with pytest.raises(ChecksumMismatch) as raised:
        await download_model(wrong, tmp_path / "bad", model_list_url=None)
    message = str(raised.value)
    assert f"MD5 mismatch: expected {'0' * 32}, got {digest(fake_zip, 'md5')}" in message
    assert "The file is deleted" in message
    assert models_in(tmp_path / "bad") == []


async def test_without_a_known_md5_the_published_model_list_gives_it(
    model_server: ModelServer, fake_zip: Path, tmp_path: Path
) -> None:
    url = model_server.serve(fake_zip)
    listing = [
        {"name": "vosk-model-other", "md5": "1" * 32, "url": f"{model_server.url}/other.zip"},
        {"name": FAKE_NAME, "md5": digest(fake_zip, "md5").upper(), "url": url},
    ]
    list_url = model_server.serve_json("model-list.json", listing)
    console = recording_console()
    model_dir = await download_model(
        entry_at(url), tmp_path / "good", model_list_url=list_url, console=console
    )
    assert model_dir.is_dir() and "/model-list.json" in model_server.requests
    assert "not checked" not in printed(console)

    listing[1]["md5"] = "2" * 32
    with pytest.raises(ChecksumMismatch, match=f"expected {'2' * 32}"):
        await download_model(entry_at(url), tmp_path / "bad", model_list_url=list_url)
    assert models_in(tmp_path / "bad") == []


async def test_a_model_the_list_does_not_give_is_unchecked_and_the_output_says_so(
    model_server: ModelServer, fake_zip: Path, tmp_path: Path, dead_port: int
) -> None:
    url = model_server.serve(fake_zip)
    unlisted = model_server.serve_json("model-list.json", [{"name": "other", "md5": "1" * 32}])
    console = recording_console()
    await download_model(entry_at(url), tmp_path / "a", model_list_url=unlisted, console=console)
    assert f"{FAKE_NAME}.zip is not checked: no MD5 or SHA-256 is known" in printed(console)

    console = recording_console()
    unreachable = f"http://127.0.0.1:{dead_port}/model-list.json"
    model_dir = await download_model(
        entry_at(url), tmp_path / "b", model_list_url=unreachable, console=console
    )
    assert (model_dir / "conf" / "model.conf").is_file()  # a missing list is not fatal
    output = printed(console)
    assert f"could not get the published MD5 sums from {unreachable} (Connection refused)" in output
    assert "is not checked" in output


async def test_a_given_sum_is_checked_and_keeps_the_model_list_out(
    model_server: ModelServer, fake_zip: Path, tmp_path: Path
) -> None:
    url = model_server.serve(fake_zip)
    md5 = digest(fake_zip, "md5")
    await download_model(entry_at(url), tmp_path / "a", md5=md5, model_list_url="http://unused/")
    assert model_server.requests == [f"/{FAKE_NAME}.zip"]
    with pytest.raises(ChecksumMismatch) as raised:
        await download_model(url, tmp_path / "b", md5=md5.upper(), sha256="f" * 64)
    assert "SHA-256 mismatch" in str(raised.value) and "MD5 mismatch" not in str(raised.value)
    with pytest.raises(ValueError, match="not an MD5 .32 hex digits.: 'xyz'"):
        await download_model(url, tmp_path / "c", md5="xyz")


async def test_a_refused_connection_says_to_download_elsewhere_and_install(
    tmp_path: Path, dead_port: int
) -> None:
    url = f"http://127.0.0.1:{dead_port}/{FAKE_NAME}.zip"
    with pytest.raises(ModelServerUnavailable) as raised:
        await download_model(url, tmp_path)
    assert str(raised.value) == (
        f"cannot reach 127.0.0.1:{dead_port} (Connection refused): this machine may have no "
        f"internet access; download {url} on another machine and install it with "
        f"`speech-ivr models install {FAKE_NAME}.zip`"
    )
    assert models_in(tmp_path) == []


async def test_a_host_that_does_not_resolve_is_unreachable(tmp_path: Path) -> None:
    url = f"https://nonexistent.invalid/{FAKE_NAME}.zip"
    with pytest.raises(
        ModelServerUnavailable, match=r"^cannot reach nonexistent\.invalid \("
    ) as raised:
        await download_model(url, tmp_path)
    assert "resume" not in str(raised.value) and "models install" in str(raised.value)


async def test_a_transfer_that_breaks_off_says_to_resume(
    model_server: ModelServer, fake_zip: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        ModelServerUnavailable, match="broke off after .* run the same command again to resume"
    ):
        await download_model(model_server.serve_broken(fake_zip), tmp_path)
    assert models_in(tmp_path) == [f"{FAKE_NAME}.zip.partial"]  # kept, to resume from


def test_a_zip_installs_with_no_server_anywhere(fake_zip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    model_dir = install_model(fake_zip, cache)
    assert model_dir == cache / "models" / FAKE_NAME
    assert (model_dir / "graph" / "words.txt").read_bytes() == b"<eps> 0\nhello 1\n"
    assert models_in(cache) == [FAKE_NAME]  # no scratch directory left
    assert fake_zip.is_file()  # the user's file is kept

    console = recording_console()
    assert install_model(fake_zip, cache, console=console) == model_dir
    assert f"{FAKE_NAME} is already installed" in printed(console)


def test_a_zip_with_the_model_at_its_top_installs_under_the_name_given(tmp_path: Path) -> None:
    flat = make_zip(tmp_path / "download.zip", fake_model(top=""))
    model_dir = install_model(flat, tmp_path / "cache", name="vosk-model-mine-1.0")
    assert model_dir.name == "vosk-model-mine-1.0" and (model_dir / "am" / "final.mdl").is_file()
    with pytest.raises(ValueError, match="give --name"):
        install_model(flat, tmp_path / "cache", name="../escape")


def test_install_checks_the_catalogue_md5_of_the_name_and_keeps_the_file(tmp_path: Path) -> None:
    catalogued = make_zip(tmp_path / "vosk-model-small-fr-0.22.zip", fake_model("x"))
    with pytest.raises(ChecksumMismatch) as raised:
        install_model(catalogued, tmp_path / "cache")
    assert "MD5 mismatch: expected 8873b1234503f6edd55f54bfff31cf3e" in str(raised.value)
    assert str(raised.value).endswith("the one published for vosk-model-small-fr-0.22)")
    assert catalogued.is_file() and models_in(tmp_path / "cache") == []

    given = install_model(catalogued, tmp_path / "cache", md5=digest(catalogued, "md5"))
    assert given.name == "vosk-model-small-fr-0.22"  # a given sum replaces the catalogue's


def test_install_checks_given_sums(fake_zip: Path, tmp_path: Path) -> None:
    with pytest.raises(ChecksumMismatch, match="SHA-256 mismatch"):
        install_model(fake_zip, tmp_path / "a", sha256="0" * 64)
    console = recording_console()
    install_model(fake_zip, tmp_path / "b", sha256=digest(fake_zip, "sha256"), console=console)
    assert models_in(tmp_path / "b") == [FAKE_NAME] and "not checked" not in printed(console)
    console = recording_console()
    install_model(fake_zip, tmp_path / "c", console=console)
    assert f"{fake_zip} is not checked" in printed(console)


def test_install_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    text = tmp_path / "notes.zip"
    text.write_text("not a zip\n")
    empty_dir = tmp_path / "vosk-model-empty"
    empty_dir.mkdir()
    cases = {
        tmp_path / "missing.zip": "no such file or directory",
        text: "not a zip file",
        make_zip(tmp_path / "docs.zip", {"docs/readme.txt": b"no model"}): "does not hold one Vosk",
        empty_dir: "not a Vosk model directory",
    }
    for source, problem in cases.items():
        with pytest.raises(BadModelSource, match=problem):
            install_model(source, cache)
    assert models_in(cache) == []


def test_install_refuses_a_zip_slip(tmp_path: Path) -> None:
    evil = make_zip(tmp_path / "zips" / f"{FAKE_NAME}.zip", fake_model() | {"../../escaped": b"x"})
    with pytest.raises(BadModelSource, match="'../../escaped' points outside the model"):
        install_model(evil, tmp_path / "cache")
    assert models_in(tmp_path / "cache") == []
    assert not list(tmp_path.rglob("escaped"))


def test_a_directory_is_copied_into_place(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "unpacked" / "vosk-model-small-yy-0.2", fake_model(top=""))
    cache = tmp_path / "cache"
    model_dir = install_model(source, cache)
    assert model_dir == cache / "models" / "vosk-model-small-yy-0.2"
    assert (model_dir / "README").read_bytes() == b"a fake model\n"
    assert models_in(cache) == ["vosk-model-small-yy-0.2"]
    shutil.rmtree(source)
    assert (model_dir / "am" / "final.mdl").is_file()  # a copy, not a link

    with pytest.raises(ValueError, match="is a directory: --md5 and --sha256 check a zip"):
        install_model(model_dir, tmp_path / "other", md5="0" * 32)
