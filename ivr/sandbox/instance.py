"""Start, find and stop sandbox Asterisk instances.

An instance is an `asterisk -f` running in the rootfs under `chroot`, detached from the Python
process that started it (a `sandbox up` outlives the CLI). What a later process needs to find it
again (port, ARI credentials, pid) is in the instance's `state.json`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ivr.settings import Settings

from .config import ARI_USER, InstanceLayout, write_configs, write_private
from .errors import SandboxError
from .ports import free_port, port_is_free
from .rootfs import PLAIN, Log, Variant, require_root, tail
from .wazo_module import WAZO

ASTERISK = "/usr/sbin/asterisk"
READY_TIMEOUT = 30.0
VARIANTS: dict[str, Variant] = {variant.name: variant for variant in (PLAIN, WAZO)}
"""The rootfs an instance runs on: Debian's Asterisk, or with Wazo's stream-channel module."""
READY_POLL_INTERVAL = 0.02
STOP_GRACE = 10.0  # for `core stop now`, then again for SIGTERM
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Asterisk processes started by this Python process, polled so that they are reaped on exit
# (an unreaped child stays a zombie that `kill(pid, 0)` still finds).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class SandboxInfo:
    """A running instance: where it is and how to reach its ARI."""

    name: str
    rootfs: Path
    http_port: int
    ari_user: str
    ari_password: SecretStr
    pid: int
    sip_port: int | None = None
    """Asterisk's SIP (UDP) port on 127.0.0.1, for `ivr.sandbox.sip_caller`; None only for an
    instance started by a version without SIP callers."""

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    @property
    def ari_headers(self) -> dict[str, str]:
        """The HTTP basic `Authorization` header for ARI requests and the events websocket."""
        credentials = f"{self.ari_user}:{self.ari_password.get_secret_value()}"
        credentials = b64encode(credentials.encode()).decode()
        return {"Authorization": f"Basic {credentials}"}

    def app_settings(self, **overrides: Any) -> Settings:
        """Settings that point the app at this instance's ARI (its metrics on a free port,
        so that apps of several sandboxes can run side by side)."""
        given = {
            "ari_url": self.ari_url,
            "ari_user": self.ari_user,
            "ari_password": self.ari_password,
            "monitor_listen": "127.0.0.1:0",
        }
        return Settings(**(given | overrides))

    @property
    def sounds_dir(self) -> Path:
        """Host path of the shared `sound:speech-ivr/...` directory."""
        return self._layout.sounds_dir

    @property
    def log_file(self) -> Path:
        """Asterisk's log (notices, warnings, errors and the dialplan steps)."""
        return self._layout.log_file

    @property
    def _layout(self) -> InstanceLayout:
        return InstanceLayout(self.rootfs, self.name)


@dataclass(frozen=True)
class _State:
    """The contents of `state.json`; kept after `down` so the password (and port) stay the same."""

    http_port: int
    ari_user: str
    ari_password: str = field(repr=False)
    pid: int | None
    sip_port: int | None = None  # absent from the state of older versions

    @classmethod
    def load(cls, path: Path) -> _State | None:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2) + "\n")


class Sandbox:
    """One named Asterisk instance on the shared cached rootfs.

    The methods block (they start processes and poll HTTP); they are meant for the CLI and for
    session-scoped test fixtures, not for an event loop.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        cache_dir: Path | None = None,
        http_port: int | None = None,
        sip_port: int | None = None,
        variant: str = PLAIN.name,
    ) -> None:
        if not NAME_PATTERN.fullmatch(name):
            raise SandboxError(f"bad sandbox name {name!r}: use letters, digits, '-', '_' and '.'")
        self.name = name
        self.cache_dir = cache_dir
        self.http_port = http_port
        self.sip_port = sip_port
        if variant not in VARIANTS:
            raise SandboxError(f"unknown sandbox variant {variant!r}: one of {sorted(VARIANTS)}")
        self.variant = VARIANTS[variant]
        self._layout = InstanceLayout(self.variant.path(cache_dir), name)

    def up(self, *, log: Log | None = None) -> SandboxInfo:
        """Start the instance (building the rootfs first if needed) and wait until ARI answers.

        An instance that already runs is returned as it is.
        """
        require_root("the sandbox Asterisk (it runs under chroot)")
        say = log or (lambda _message: None)
        running = self.status()
        if running:
            if self.http_port not in (None, running.http_port):
                raise SandboxError(
                    f"sandbox {self.name!r} already runs on port {running.http_port}, not "
                    f"{self.http_port}: run `down` first to move it"
                )
            return running

        layout = self._layout
        self.variant.ensure(self.cache_dir, log=say)
        previous = _State.load(layout.state_file)
        sip_port = self._choose_sip_port(previous)
        state = _State(
            http_port=self._choose_port(previous),
            ari_user=ARI_USER,
            ari_password=previous.ari_password if previous else secrets.token_urlsafe(18),
            pid=None,
            sip_port=sip_port,
        )
        write_configs(
            layout,
            http_port=state.http_port,
            ari_user=state.ari_user,
            ari_password=state.ari_password,
            sip_port=sip_port,
            extra_modules=self.variant.modules,
        )
        layout.sounds_dir.mkdir(parents=True, exist_ok=True)

        say(f"starting Asterisk {self.name!r} on 127.0.0.1:{state.http_port}")
        state = replace(state, pid=_start_asterisk(layout))
        state.save(layout.state_file)
        info = _info(layout, state)
        try:
            _wait_until_ready(info, layout)
        except BaseException:
            _stop_asterisk(layout, info.pid)
            raise
        say(
            f"Asterisk {self.name!r} is up: ARI {info.ari_url}, SIP udp:127.0.0.1:{info.sip_port} "
            f"(log: {info.log_file})"
        )
        return info

    def down(self, *, purge: bool = False) -> None:
        """Stop the instance; nothing happens when it does not run.

        With `purge`, also delete its directory (configuration, logs, state).
        """
        info = self.status()
        if info is not None:
            require_root("stopping the sandbox Asterisk")
            _stop_asterisk(self._layout, info.pid)
            state = _State.load(self._layout.state_file)
            if state is not None:
                replace(state, pid=None).save(self._layout.state_file)
        if purge and self._layout.host_dir.exists():
            shutil.rmtree(self._layout.host_dir)

    def status(self) -> SandboxInfo | None:
        """The running instance, or None (also when the state file names a process that is gone)."""
        state = _State.load(self._layout.state_file)
        if state is None or state.pid is None or not _is_our_asterisk(state.pid, self._layout):
            return None
        return _info(self._layout, state)

    def cli(self, command: str) -> str:
        """Run an Asterisk CLI command in the instance (`asterisk -rx`) and return its output."""
        if self.status() is None:
            raise SandboxError(f"sandbox {self.name!r} is not running: run `up` first")
        result = subprocess.run(
            _asterisk_command(self._layout, "-rx", command),
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise SandboxError(
                f"`asterisk -rx {command!r}` failed: {result.stderr or result.stdout}"
            )
        return result.stdout

    def _choose_port(self, previous: _State | None) -> int:
        """The requested port, else the previous one if free (a stable URL), else any free one."""
        if self.http_port is not None:
            if not port_is_free(self.http_port):
                raise SandboxError(
                    f"port {self.http_port} is taken on 127.0.0.1: stop what listens there "
                    "or choose another port"
                )
            return self.http_port
        if previous and port_is_free(previous.http_port):
            return previous.http_port
        return free_port()

    def _choose_sip_port(self, previous: _State | None) -> int:
        """Like `_choose_port`, for the SIP port (UDP)."""
        if self.sip_port is not None:
            if not port_is_free(self.sip_port, udp=True):
                raise SandboxError(
                    f"UDP port {self.sip_port} is taken on 127.0.0.1: stop what listens there "
                    "or choose another SIP port"
                )
            return self.sip_port
        if previous and previous.sip_port is not None and port_is_free(previous.sip_port, udp=True):
            return previous.sip_port
        return free_port(udp=True)


def _info(layout: InstanceLayout, state: _State) -> SandboxInfo:
    assert state.pid is not None
    return SandboxInfo(
        name=layout.name,
        rootfs=layout.rootfs,
        http_port=state.http_port,
        ari_user=state.ari_user,
        ari_password=SecretStr(state.ari_password),
        pid=state.pid,
        sip_port=state.sip_port,
    )


def _asterisk_command(layout: InstanceLayout, *args: str) -> list[str]:
    return ["chroot", str(layout.rootfs), ASTERISK, "-C", str(layout.asterisk_conf), *args]


def _start_asterisk(layout: InstanceLayout) -> int:
    with layout.output_file.open("wb") as output:
        process = subprocess.Popen(
            _asterisk_command(layout, "-f"),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal that ran `up` must not reach it
        )
    _children[process.pid] = process
    return process.pid


def _wait_until_ready(info: SandboxInfo, layout: InstanceLayout) -> None:
    """Poll `GET /ari/asterisk/info` with the instance's credentials until it answers 200.

    The credentials make a 200 proof that it is our Asterisk, not another server on the port.
    """
    request = urllib.request.Request(f"{info.ari_url}ari/asterisk/info", headers=info.ari_headers)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not _is_running(info.pid):
            code = _children[info.pid].returncode
            raise SandboxError(
                f"Asterisk {info.name!r} exited (code {code}) while starting.\n{_logs(layout)}"
            )
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet (or a 401 from someone else's server on the port)
        time.sleep(READY_POLL_INTERVAL)
    raise SandboxError(
        f"Asterisk {info.name!r} did not answer on {info.ari_url}ari/asterisk/info within "
        f"{READY_TIMEOUT:.0f} s.\n{_logs(layout)}"
    )


def _logs(layout: InstanceLayout) -> str:
    parts = []
    for path in (layout.output_file, layout.log_file):
        text = tail(path)
        parts.append(f"--- end of {path} ---\n{text}" if text else f"--- {path}: empty ---")
    return "\n".join(parts)


def _stop_asterisk(layout: InstanceLayout, pid: int) -> None:
    """`core stop now`, then SIGTERM, then SIGKILL, each after the previous one had its time."""
    try:
        subprocess.run(
            _asterisk_command(layout, "-rx", "core stop now"),
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=STOP_GRACE,
        )
    except subprocess.TimeoutExpired:
        pass
    if not _wait_for_exit(pid, STOP_GRACE):
        _send_signal(pid, signal.SIGTERM)
        if not _wait_for_exit(pid, STOP_GRACE):
            _send_signal(pid, signal.SIGKILL)
            _wait_for_exit(pid, STOP_GRACE)
    _children.pop(pid, None)


def _send_signal(pid: int, stop_signal: signal.Signals) -> None:
    try:
        os.kill(pid, stop_signal)
    except ProcessLookupError:
        pass


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _is_running(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it just is not ours to signal (status() as non-root)
        pass
    return True


def _is_our_asterisk(pid: int, layout: InstanceLayout) -> bool:
    """Whether `pid` runs and is this instance's Asterisk (pids get reused after a reboot)."""
    if not _is_running(pid):
        return False
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(layout.asterisk_conf).encode() in command_line


