"""Running the app against a sandbox Asterisk, for the real tests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ivr.flow import load_flows
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import Pcm, Sandbox, SandboxInfo
from ivr.sandbox.prompts import PROMPTS, Spoken, install_prompts
from ivr.sandbox.speech import synthesize
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_FLOWS = Path(__file__).resolve().parent / "data" / "flows"

TEST_PROMPTS = {
    "ivr-test/ask": Spoken("말씀하세요.", "ko+f2", 160),
    "ivr-test/again": Spoken("다시 말씀하세요.", "ko+f2", 160),
    "ivr-test/sorry": Spoken("죄송합니다.", "ko+f2", 160),
    "ivr-test/confirm": Spoken("맞습니까?", "ko+f2", 160),
}


def flow_dirs(root: Path) -> tuple[Path, Path]:
    """The shipped flows and grammars plus the test flows, copied under ``root`` (so a test
    may edit them)."""
    flows, grammars = root / "flows", root / "grammars"
    shutil.copytree(EXAMPLES_DIR / "flows", flows)
    shutil.copytree(EXAMPLES_DIR / "grammars", grammars)
    for flow in TEST_FLOWS.glob("*.yaml"):
        shutil.copy(flow, flows)
    return flows, grammars


@contextlib.asynccontextmanager
async def running_app(
    info: SandboxInfo,
    models: ModelStore,
    flows_dir: Path,
    grammars_dir: Path,
    record_dir: Path | None = None,
    **overrides: Any,
) -> AsyncIterator[SpeechIvrApp]:
    """The Stasis app serving a sandbox until the block ends (keeping what each call heard
    in ``record_dir``, as ``<IVR leg id>.wav``); ``overrides`` are further settings."""
    await asyncio.to_thread(install_prompts, info.sounds_dir, {**PROMPTS, **TEST_PROMPTS})
    settings = info.app_settings(
        flows_dir=flows_dir, grammars_dir=grammars_dir, default_flow="switchboard-ko",
        record_dir=record_dir, **overrides,
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    async with serving(app) as app:
        yield app


# --- SIP callers, and what a test leaves in its own process -----------------------------


def sip_speech(info: SandboxInfo, *steps: Spoken | float) -> Pcm:
    """What a SIP caller says: each ``Spoken`` rendered at 8 kHz (the telephone band a SIP
    caller sends), each number a pause of that many seconds, one after the other."""
    said = Pcm.silence(0.0)
    for step in steps:
        if isinstance(step, Spoken):
            media = synthesize(step.text, info.sounds_dir, voice=step.voice, speed=step.speed)
            # The .wav (8 kHz) by name: a wide rendering of the same words (.sln16) sits beside it.
            said = said + Pcm.read(info.sounds_dir.parent / f"{media}.wav")
        else:
            said = said + Pcm.silence(step)
    return said


def open_fds() -> dict[int, str]:
    """This process's open file descriptors and what each one is (``socket:[...]``, a path)."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed meanwhile
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


def idle_keepalive_connections() -> int:
    """Connections idle in the keep-alive pools of this process's aiohttp connectors (the
    app's ARI client, a CallLab's): each keeps a socket open up to 15 s after its last
    request, which is no leak. (aiohttp has no public count of them: ``_conns``.)"""
    return sum(
        len(pooled)
        for connector in gc.get_objects()
        # A weakref proxy whose object is gone raises ReferenceError on isinstance().
        if not isinstance(connector, _PROXIES) and isinstance(connector, aiohttp.BaseConnector) and not connector.closed
        for pooled in getattr(connector, "_conns", {}).values()
    )


_PROXIES = (weakref.ProxyType, weakref.CallableProxyType)


@dataclass(frozen=True)
class ProcessUse:
    """The asyncio tasks and file descriptors of this process at one moment, less what is
    no leak: idle keep-alive connections, and the tasks and sockets a test says are its own
    (a proxy's, say)."""

    tasks: frozenset[asyncio.Task[Any]]
    fds: dict[int, str]
    excused_fds: int

    @classmethod
    def now(cls, *, own_tasks: Iterable[asyncio.Task[Any]] = (), own_fds: int = 0) -> ProcessUse:
        tasks = frozenset(asyncio.all_tasks()) - frozenset(own_tasks)
        return cls(tasks, open_fds(), idle_keepalive_connections() + own_fds)

    def left_since(self, before: ProcessUse) -> list[str]:
        """What this process holds now that it did not hold ``before``: tasks started since
        that have not ended, and file descriptors beyond ``before``'s count (the excused
        ones aside, on both sides)."""
        left = [f"task {task.get_name()}: {task.get_coro()!r}" for task in self.tasks - before.tasks]
        extra = (len(self.fds) - self.excused_fds) - (len(before.fds) - before.excused_fds)
        if extra > 0:
            new = sorted(f"fd {fd} -> {what}" for fd, what in self.fds.items() if before.fds.get(fd) != what)
            left.append(
                f"{extra} file descriptors more ({self.excused_fds} idle or the test's own now, "
                f"{before.excused_fds} before): {', '.join(new)}"
            )
        return left


async def left_in_process(
    before: ProcessUse, timeout: float = 5.0, *, now: Callable[[], ProcessUse] = ProcessUse.now
) -> list[str]:
    """Wait up to ``timeout`` s until this process holds no task and no file descriptor more
    than ``before`` (the tasks and sockets of a call that just ended take a moment to go);
    what is still left then (empty: nothing). ``now`` takes the measure (``ProcessUse.now``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = now().left_since(before)
        if not left or asyncio.get_running_loop().time() >= deadline:
            return left
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def sandbox_of_its_own(name: str) -> AsyncIterator[Sandbox]:
    """A sandbox Asterisk for one test (about 1.5 s to start and stop): for an app of the
    test's own that SIP callers reach, since the sandbox's ``sip-in`` enters
    ``Stasis(speech-ivr...)`` only and the session's app has that name on the shared sandbox;
    or for a test that stops Asterisk. Deleted at the end."""
    sandbox = Sandbox(f"pytest-{name}-{os.getpid()}")
    await asyncio.to_thread(sandbox.up)
    try:
        yield sandbox
    finally:
        await asyncio.to_thread(sandbox.down, purge=True)
