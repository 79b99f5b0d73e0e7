"""The Wazo variant of the sandbox rootfs: Asterisk 22 plus Wazo's `res_ari_stream.so`.

Debian has no package for Wazo's stream-channel module, so it is built from its upstream source
(sboily/wazo-hackathon-asterisk-stream-module) in a rootfs of its own, next to the plain one:
mmdebstrap with `asterisk-dev` and `build-essential` as well, the upstream `make` in a chroot,
and the `.so` installed by hand into Debian's module directory (the upstream `make install`
writes to `/usr/lib/asterisk/modules`, which Debian does not use).

The source is not part of this project (GPL-3.0). `WAZO_STREAM_MODULE_SRC` says where it is; it
is not a `SPEECH_IVR_*` variable because the app's settings reject unknown ones. The rootfs
keeps a stamp, a hash of the recipe and of the source files: a source that changed is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ivr.cache import default_cache_dir

from .errors import SandboxError
from .rootfs import PACKAGES, Log, Variant, fresh_partial, mmdebstrap, require_root, tail

SOURCE_ENV = "WAZO_STREAM_MODULE_SRC"
DEFAULT_SOURCE = Path("/work/shared/wazo-stream-module")
"""Where this project's machines keep the source (a CI clone finds it there)."""
UPSTREAM = "https://github.com/sboily/wazo-hackathon-asterisk-stream-module"
UPSTREAM_COMMIT = "d11fb5ee56a3f4188d52af468eef8c99d0d0ca3c"
"""The commit tested (docs/wazo.md): it compiles unchanged against Debian's Asterisk 22 headers."""

ROOTFS_NAME = "asterisk-22-wazo"
MODULE = "res_ari_stream.so"
BUILD_PACKAGES = ("asterisk-dev", "build-essential")
SOURCE_IN_ROOTFS = PurePosixPath("/usr/local/src/res_ari_stream")
STAMP_IN_ROOTFS = PurePosixPath("/var/lib/speech-ivr/wazo-module.stamp")
REQUIRED_FILES = ("Makefile", "res_ari_stream.c")
BUILD_OUTPUTS = (".o", ".so")
"""Left out of the hash and the copy: what a `make` in the source directory leaves there."""
RECIPE = 1
"""Raise it when the build below changes: the stamp then no longer matches, and it reruns."""
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
"""The compiler's environment: nothing of the host's (a CFLAGS there would change the build)."""


def module_source(environ: Mapping[str, str] = os.environ) -> Path:
    """The module's source directory: `$WAZO_STREAM_MODULE_SRC`, else `DEFAULT_SOURCE`.

    Raises `SandboxError` with one line saying what is missing and how to provide it.
    """
    setting = environ.get(SOURCE_ENV)
    source = Path(setting) if setting else DEFAULT_SOURCE
    how = (
        f"set {SOURCE_ENV} to a checkout of {UPSTREAM} (commit {UPSTREAM_COMMIT[:12]})"
    )
    if not source.is_dir():
        where = f"{SOURCE_ENV}={setting}" if setting else f"{SOURCE_ENV} is unset and {source}"
        raise SandboxError(
            f"the source of Wazo's stream-channel module is missing ({where} does not exist): "
            f"{how}"
        )
    missing = [name for name in REQUIRED_FILES if not (source / name).is_file()]
    if missing:
        raise SandboxError(
            f"{source} is not the source of Wazo's stream-channel module (no "
            f"{' or '.join(missing)}): {how}"
        )
    return source


def source_files(source: Path) -> list[Path]:
    """The files of the source directory that the build copies, relative and sorted: hidden
    entries (`.git`) and build outputs left out."""
    files = []
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in BUILD_OUTPUTS:
            files.append(relative)
    return sorted(files)


def build_stamp(source: Path) -> str:
    """A hash of the recipe and of every source file (name and contents)."""
    digest = hashlib.sha256(f"recipe {RECIPE} {' '.join(PACKAGES + BUILD_PACKAGES)}\n".encode())
    for relative in source_files(source):
        content = (source / relative).read_bytes()
        digest.update(f"{relative.as_posix()} {len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def wazo_rootfs_path(cache_dir: Path | None = None) -> Path:
    """Where the Wazo rootfs is (or will be) cached, beside the plain one."""
    return (cache_dir or default_cache_dir()) / ROOTFS_NAME


def module_dir(asterisk_conf: str) -> PurePosixPath:
    """`astmoddir` of an `asterisk.conf` (Debian: `/usr/lib/x86_64-linux-gnu/asterisk/modules`)."""
    found = re.search(r"^\s*astmoddir\s*=>?\s*(\S+)", asterisk_conf, re.MULTILINE)
    if found is None:
        raise SandboxError("asterisk.conf names no astmoddir: cannot tell where modules go")
    return PurePosixPath(found.group(1))


def ensure_wazo_rootfs(
    cache_dir: Path | None = None, *, log: Log | None = None, source: Path | None = None
) -> Path:
    """Return the Wazo rootfs, (re)building it first when it is missing or its stamp does not
    match the source (as root, a minute or two).

    Like the plain rootfs, the build goes into `<name>.partial` and is renamed into place only
    once the module is installed. A stale rootfs is replaced whole, with the instances inside it
    (stop them first: an Asterisk still running there would go on in the deleted tree).
    """
    source = source or module_source()
    stamp = build_stamp(source)
    rootfs = wazo_rootfs_path(cache_dir)
    if _stamp_of(rootfs) == stamp:
        return rootfs
    say = log or (lambda _message: None)
    require_root("building the Wazo rootfs (mmdebstrap, chroot)")
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(rootfs.with_name(f"{rootfs.name}.lock")):
        if _stamp_of(rootfs) == stamp:  # another process built it while this one waited
            return rootfs
        partial = fresh_partial(rootfs, say)
        build_log = rootfs.with_name(f"{rootfs.name}.build.log")
        say(
            f"building the Asterisk 22 rootfs with Wazo's {MODULE} in {rootfs} "
            f"(a minute or two, log: {build_log})"
        )
        mmdebstrap(partial, PACKAGES + BUILD_PACKAGES, build_log, say)
        _build_module(partial, source, build_log)
        stamp_file = partial / STAMP_IN_ROOTFS.relative_to("/")
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp + "\n")
        _replace(rootfs, partial)
    say(f"Wazo rootfs ready: {rootfs}")
    return rootfs


def _build_module(rootfs: Path, source: Path, build_log: Path) -> None:
    """Copy the source into the rootfs, run the upstream `make` in a chroot, install the `.so`."""
    build_dir = rootfs / SOURCE_IN_ROOTFS.relative_to("/")
    for relative in source_files(source):
        (build_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, build_dir / relative)
    with build_log.open("ab") as out:
        out.write(f"\n--- make -C {SOURCE_IN_ROOTFS} (in the chroot)\n".encode())
        out.flush()
        result = subprocess.run(
            ["chroot", str(rootfs), "make", "-C", str(SOURCE_IN_ROOTFS)],
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=CHROOT_ENV,
        )
    if result.returncode != 0:
        raise SandboxError(
            f"building {MODULE} failed (make exit {result.returncode}); the end of {build_log}:\n"
            f"{tail(build_log)}"
        )
    modules = module_dir((rootfs / "etc/asterisk/asterisk.conf").read_text())
    installed = rootfs / modules.relative_to("/") / MODULE
    shutil.copyfile(build_dir / MODULE, installed)
    installed.chmod(0o644)


def _stamp_of(rootfs: Path) -> str | None:
    try:
        return (rootfs / STAMP_IN_ROOTFS.relative_to("/")).read_text().strip()
    except FileNotFoundError:
        return None


def _replace(rootfs: Path, partial: Path) -> None:
    """Put the finished build in place of the rootfs, stale or missing."""
    if rootfs.exists():
        stale = rootfs.with_name(f"{rootfs.name}.stale")
        if stale.exists():
            shutil.rmtree(stale)
        rootfs.rename(stale)
        partial.rename(rootfs)
        shutil.rmtree(stale)
    else:
        partial.rename(rootfs)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One build at a time: a second process waits here, then finds the rootfs built."""
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


WAZO = Variant("wazo", wazo_rootfs_path, ensure_wazo_rootfs, modules=(MODULE,))
"""Asterisk 22 with Wazo's stream-channel module loaded: `Sandbox(name, variant="wazo")`."""
