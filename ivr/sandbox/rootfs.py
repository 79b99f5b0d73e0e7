"""The Debian sid root filesystem with Asterisk 22: built once with mmdebstrap, then cached."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ivr.cache import default_cache_dir

from .errors import SandboxError

ROOTFS_NAME = "asterisk-22"
MIRROR = "http://deb.debian.org/debian"
# The mirror serves a fixed snapshot whose Release file is past its Valid-Until date.
MMDEBSTRAP_OPTIONS = [
    "--variant=apt",
    '--aptopt=Acquire::Check-Valid-Until "false"',
]
PACKAGES = ("asterisk", "asterisk-modules")
SUITE = "sid"  # the Debian suite that carries Asterisk 22
LOG_TAIL_LINES = 30

Log = Callable[[str], None]


class EnsureRootfs(Protocol):
    def __call__(self, cache_dir: Path | None = None, *, log: Log | None = None) -> Path: ...


@dataclass(frozen=True)
class Variant:
    """A kind of sandbox rootfs: where it is cached, what builds it (once), and the modules
    its instances load beyond the template `modules.conf` (which has `autoload = no`)."""

    name: str
    path: Callable[[Path | None], Path]
    ensure: EnsureRootfs
    modules: tuple[str, ...] = ()


def rootfs_path(cache_dir: Path | None = None) -> Path:
    """Where the rootfs is (or will be) cached."""
    return (cache_dir or default_cache_dir()) / ROOTFS_NAME


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise SandboxError(f"{what} needs root: run it as root, e.g. with sudo")


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, for error messages; empty when the file does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def ensure_rootfs(cache_dir: Path | None = None, *, log: Log | None = None) -> Path:
    """Return the cached rootfs, building it first when it does not exist (as root, about a minute).

    The build goes into `<name>.partial` and is renamed into place only when mmdebstrap succeeded,
    so an interrupted build never looks finished.
    """
    rootfs = rootfs_path(cache_dir)
    if rootfs.is_dir():
        return rootfs
    say = log or (lambda _message: None)
    require_root("building the Asterisk rootfs (mmdebstrap)")
    partial = fresh_partial(rootfs, say)
    build_log = rootfs.with_name(f"{rootfs.name}.build.log")
    say(f"building the Asterisk 22 rootfs in {rootfs} (about a minute, log: {build_log})")
    mmdebstrap(partial, PACKAGES, build_log, say)
    partial.rename(rootfs)
    say(f"rootfs ready: {rootfs}")
    return rootfs


def fresh_partial(rootfs: Path, say: Log) -> Path:
    """`<rootfs>.partial`, where a build goes before it is renamed into place: emptied of any
    unfinished build, its cache directory created."""
    partial = rootfs.with_name(f"{rootfs.name}.partial")
    if partial.exists():
        say(f"removing the unfinished build {partial}")
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial


def mmdebstrap(target: Path, packages: Sequence[str], build_log: Path, say: Log) -> None:
    """Build a Debian sid rootfs with `packages` in `target` (which must not exist yet)."""
    _ensure_mmdebstrap(say)
    include = f"--include={','.join(packages)}"
    with build_log.open("wb") as out:
        result = subprocess.run(
            ["mmdebstrap", *MMDEBSTRAP_OPTIONS, include, SUITE, str(target), MIRROR],
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise SandboxError(
            f"mmdebstrap failed (exit {result.returncode}); the end of {build_log}:\n"
            f"{tail(build_log)}"
        )


PLAIN = Variant("plain", rootfs_path, ensure_rootfs)
"""Debian's Asterisk 22 as packaged: what the demo and most tests run on."""


def _ensure_mmdebstrap(say: Log) -> None:
    if shutil.which("mmdebstrap"):
        return
    if not shutil.which("apt-get"):
        raise SandboxError(
            "mmdebstrap is missing and there is no apt-get to install it: install mmdebstrap"
        )
    say("installing mmdebstrap with apt-get")
    install = ["apt-get", "install", "-y", "mmdebstrap"]
    result = _run_quietly(install)
    if result.returncode != 0:  # on a fresh image the package lists are empty
        _run_quietly(["apt-get", "update"])
        result = _run_quietly(install)
    if result.returncode != 0:
        output = "\n".join(result.stdout.splitlines()[-LOG_TAIL_LINES:])
        raise SandboxError(f"`apt-get install -y mmdebstrap` failed:\n{output}")


def _run_quietly(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        check=False,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
