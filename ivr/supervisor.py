"""``speech-ivr run --workers N``: N worker processes on this machine behind StasisBroadcast.

Worker k (1 to N) is ``speech-ivr run`` with the same flags, as the ARI app ``APP-k``
(``speech-ivr-1``, ...), in broadcast mode, with its metrics on the monitor port plus k - 1
(``127.0.0.1:9464`` gives 9464, 9465, ...; port 0 gives each any free port; none stays
none): all three through its environment (``SPEECH_IVR_APP``, ``SPEECH_IVR_BROADCAST``,
``SPEECH_IVR_MONITOR_LISTEN``), which comes before the TOML file and after flags.

The supervisor forwards SIGTERM, SIGINT and SIGHUP to every worker (each runs in a session
of its own, so a terminal's Ctrl-C reaches it once, through here), and when a worker dies it
sends that worker's calls to their fallback at once (``rescue``) and starts it again after
``restart_delay``. A worker that exits with 2 (bad settings, flows) or 3 (Asterisk refuses
it) stops them all, and the supervisor exits with that status: starting again would not help.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from ivr.exits import Exit
from ivr.settings import ENV_PREFIX

log = logging.getLogger(__name__)

RESTART_FIRST = 1.0
RESTART_CAP = 30.0
STABLE_AFTER = 60.0
"""A worker that ran this long before it died is started again after RESTART_FIRST; one that
keeps dying sooner waits twice as long each time, up to RESTART_CAP."""
FATAL = frozenset({Exit.USAGE, Exit.UNAVAILABLE})
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class WorkersError(ValueError):
    """Workers that cannot be planned (one line)."""


@dataclass(frozen=True)
class Worker:
    number: int
    app: str
    monitor_listen: str | None


def plan_workers(count: int, app: str, monitor_listen: str | None) -> list[Worker]:
    """The workers of ``run --workers count`` for the settings' ``app`` and ``monitor_listen``."""
    if count < 1:
        raise WorkersError(f"--workers {count}: give 1 or more")
    host, port = (None, 0) if monitor_listen is None else _split(monitor_listen)
    if port and port + count - 1 > 65535:
        raise WorkersError(f"--workers {count}: monitor_listen port {port} leaves no port for worker {count} (ports {port} to {port + count - 1})")
    return [
        Worker(k, f"{app}-{k}", None if host is None else f"{host}:{port + k - 1 if port else 0}")
        for k in range(1, count + 1)
    ]


def worker_environment(environ: Mapping[str, str], worker: Worker) -> dict[str, str]:
    """The environment worker ``worker`` runs in: ours, with its app name, broadcast mode and
    monitor address."""
    return {
        **environ,
        f"{ENV_PREFIX}APP": worker.app,
        f"{ENV_PREFIX}BROADCAST": "true",
        f"{ENV_PREFIX}MONITOR_LISTEN": worker.monitor_listen or "",
    }


def worker_command(arguments: Sequence[str]) -> list[str]:
    """The command line of a worker running ``speech-ivr ARGUMENTS`` (``run ...``)."""
    return [sys.executable, "-m", "ivr", *arguments]


def restart_delay(failures: int) -> float:
    """Seconds before starting a worker again that died ``failures`` times in a row before,
    each within STABLE_AFTER seconds of its start."""
    return min(RESTART_CAP, RESTART_FIRST * 2 ** min(failures, 16))


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def _die_with_the_supervisor() -> None:
    """In the child before exec: SIGTERM it when the supervisor dies (even by SIGKILL), so that
    no worker outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(
        self,
        workers: Sequence[Worker],
        command: Sequence[str],
        rescue: Callable[[str], Awaitable[object]],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        """``command``: what each worker runs (``worker_command``), in its own environment
        (``worker_environment``); ``rescue(app)``: send the calls of a worker that died to
        their fallback."""
        self.workers = list(workers)
        self.command = list(command)
        self._rescue = rescue
        self._environ = environ
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        """The running worker processes, by worker number."""
        self._stopping = asyncio.Event()
        self._fatal: int | None = None
        self._unclean: list[str] = []

    async def run(self) -> int:
        """Run the workers until a signal stops them (then the status is 0 when every worker
        exited 0) or one of them exits with a status restarting will not cure."""
        loop = asyncio.get_running_loop()
        for sig in FORWARDED:
            loop.add_signal_handler(sig, self.signal, sig)
        try:
            await asyncio.gather(*(self._keep(worker) for worker in self.workers))
        finally:
            for sig in FORWARDED:
                loop.remove_signal_handler(sig)
        if self._fatal is not None:
            return self._fatal
        if self._unclean:
            log.error("workers that did not stop cleanly: %s", ", ".join(self._unclean))
            return Exit.PROBLEMS
        return Exit.OK

    def signal(self, sig: signal.Signals) -> None:
        """Pass a signal on to every worker; SIGTERM and SIGINT also stop the supervisor."""
        if sig != signal.SIGHUP:
            self._stopping.set()
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)

    async def _keep(self, worker: Worker) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping.is_set():
            started = loop.time()
            process = await asyncio.create_subprocess_exec(
                *self.command,
                env=worker_environment(self._environ, worker),
                start_new_session=True,
                preexec_fn=_die_with_the_supervisor,
            )
            self.processes[worker.number] = process
            if self._stopping.is_set():  # stopped while it was starting
                process.send_signal(signal.SIGTERM)
            log.info("worker %s started (pid %d)", worker.app, process.pid)
            code = await process.wait()
            del self.processes[worker.number]
            if self._stopping.is_set():
                if code != 0:
                    self._unclean.append(f"{worker.app} ({_status(code)})")
                return
            log.error("worker %s (pid %d) ended (%s): sending its calls to their fallback", worker.app, process.pid, _status(code))
            await self._rescue_calls(worker)
            if code in FATAL:
                self._fatal = code
                self.signal(signal.SIGTERM)
                return
            failures = 0 if loop.time() - started >= STABLE_AFTER else failures
            delay = restart_delay(failures)
            failures += 1
            log.info("starting worker %s again in %.0f s", worker.app, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _rescue_calls(self, worker: Worker) -> None:
        try:
            rescued = await self._rescue(worker.app)
        except Exception as exc:  # noqa: BLE001 - the restarted worker's reconcile takes them back
            log.error("the calls of worker %s could not be sent on (%r): it takes them again when it is back", worker.app, exc)
        else:
            log.info("worker %s: %s", worker.app, rescued)


def _status(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
