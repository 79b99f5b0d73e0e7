"""Shared pytest fixtures."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ivr.sandbox import CallLab, Sandbox, SandboxError, SandboxInfo
from ivr.sandbox.wazo_module import MODULE, module_source
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from tests.harness import flow_dirs, running_app
from tests.stream_channel_double import stream_channel_double  # noqa: F401  (a fixture)

# Captured logs keep the app's own DEBUG lines (what was heard and decided); the libraries'
# request-by-request chatter would bury them.
for _library in ("aioari", "aiohttp", "websockets", "watchfiles", "asyncio"):
    logging.getLogger(_library).setLevel(logging.INFO)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxInfo]:
    """A real Asterisk 22 of its own for this test session (the rootfs is built once and cached)."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox Asterisk needs root (it runs under chroot)")
    instance = Sandbox(f"pytest-{os.getpid()}")
    info = instance.up()
    yield info
    instance.down(purge=True)


@pytest.fixture(scope="session")
def wazo_sandbox() -> Iterator[SandboxInfo]:
    """A real Asterisk 22 with Wazo's stream-channel module loaded (`res_ari_stream.so`, built
    once from its source into a rootfs of its own, then cached). Without the source the tests
    that need it fail with one line saying how to provide it: they are not skipped."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox Asterisk needs root (it runs under chroot)")
    try:
        module_source()
        missing = ""
    except SandboxError as error:
        missing = str(error)
    if missing:  # failed outside the except: one line, no chained traceback
        pytest.fail(missing, pytrace=False)
    instance = Sandbox(f"pytest-wazo-{os.getpid()}", variant="wazo")
    info = instance.up()
    try:
        if "Running" not in instance.cli(f"module show like {MODULE}"):
            pytest.fail(f"{MODULE} is not running in {info.log_file}", pytrace=False)
        yield info
    finally:
        instance.down(purge=True)


@pytest.fixture(scope="session")
def models() -> ModelStore:
    """The real models, loaded once for the whole session (about 2 s and 500 MB for Korean)."""
    return ModelStore(Settings().models)


@pytest.fixture(scope="session")
def flow_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Directories with the shipped flows and the test flows, which tests may edit."""
    return flow_dirs(tmp_path_factory.mktemp("flows"))


@pytest.fixture(scope="session")
def heard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the shared app keeps what each call heard (``<IVR leg id>.wav``)."""
    return tmp_path_factory.mktemp("heard")


@pytest.fixture(scope="session")
async def ivr_app(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], heard_dir: Path
) -> AsyncIterator[SpeechIvrApp]:
    async with running_app(sandbox, models, *flow_files, record_dir=heard_dir) as app:
        yield app


@pytest.fixture
async def lab(sandbox: SandboxInfo) -> AsyncIterator[CallLab]:
    async with CallLab(sandbox) as lab:
        yield lab


STUCK_AFTER = 120.0
"""A test still running after this long has its asyncio tasks' stacks printed (to stderr):
CI then shows where it waits, not just that it timed out."""


def _print_tasks(name: str) -> None:
    print(f"\n--- {name} has run {STUCK_AFTER:.0f} s; its asyncio tasks:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)


@pytest.fixture(autouse=True)
async def _stuck_tests_say_where(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    watchdog = asyncio.get_running_loop().call_later(STUCK_AFTER, _print_tasks, request.node.nodeid)
    yield
    watchdog.cancel()


@pytest.fixture(autouse=True)
async def _calls_end_with_their_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that ran calls through the shared app (its lab has hung up what was
    left), wait until the app has released them: no call, tap or bridge outlives its test."""
    yield
    if "ivr_app" in request.fixturenames:
        app: SpeechIvrApp = request.getfixturevalue("ivr_app")
        await asyncio.wait_for(app.idle(), 15)
        assert not app.router.owned(), f"taps left after the test: {sorted(app.router.owned())}"
