"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ivr.sandbox import CallLab, Sandbox, SandboxInfo
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from tests.harness import flow_dirs, running_app
from tests.stream_channel_double import stream_channel_double  # noqa: F401  (a fixture)


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
def models() -> ModelStore:
    """The real models, loaded once for the whole session (about 2 s and 500 MB for Korean)."""
    return ModelStore(Settings().models)


@pytest.fixture(scope="session")
def flow_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Directories with the shipped flows and the test flows, which tests may edit."""
    return flow_dirs(tmp_path_factory.mktemp("flows"))


@pytest.fixture(scope="session")
async def ivr_app(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path]
) -> AsyncIterator[SpeechIvrApp]:
    async with running_app(sandbox, models, *flow_files) as app:
        yield app


@pytest.fixture
async def lab(sandbox: SandboxInfo) -> AsyncIterator[CallLab]:
    async with CallLab(sandbox) as lab:
        yield lab
