"""Shared pytest fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from ivr.flow import load_flows
from ivr.sandbox import CallLab, Sandbox, SandboxInfo
from ivr.sandbox.prompts import install_prompts
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp

PROJECT_DIR = Path(__file__).resolve().parent.parent


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
async def ivr_app(sandbox: SandboxInfo) -> AsyncIterator[SpeechIvrApp]:
    """The Stasis app, with the shipped flows and the real Korean model, serving the sandbox."""
    await asyncio.to_thread(install_prompts, sandbox.sounds_dir)
    settings = Settings(
        ari_url=sandbox.ari_url,
        ari_user=sandbox.ari_user,
        ari_password=SecretStr(sandbox.ari_password),
        flows_dir=PROJECT_DIR / "flows",
        grammars_dir=PROJECT_DIR / "grammars",
        default_flow="switchboard-ko",
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), ModelStore(settings.models))
    serving = asyncio.create_task(app.run())
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait([ready, serving], return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if serving.done():
        serving.result()
    assert app.ready.is_set(), "the app did not register with the sandbox Asterisk"
    yield app
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


@pytest.fixture
async def lab(sandbox: SandboxInfo) -> AsyncIterator[CallLab]:
    async with CallLab(sandbox) as lab:
        yield lab
