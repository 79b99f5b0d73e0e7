"""The app against a real Asterisk that restarts, and leftovers of a crashed run."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from ivr.sandbox import CallLab, Sandbox, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, confirming
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from ivr.telephony.router import new_id
from tests.harness import running_app

pytestmark = pytest.mark.real


async def test_leftovers_of_a_previous_run_are_deleted(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    leftover = new_id("bridge", ivr_app.settings.app)
    async with aiohttp.ClientSession(headers=sandbox.ari_headers) as http:
        async with http.post(f"{sandbox.ari_url}ari/bridges", params={"type": "mixing", "bridgeId": leftover}) as response:
            assert response.status == 200
    assert [b["id"] for b in await lab.bridges()] == [leftover]
    await ivr_app.reconcile()
    assert await lab.wait_idle() == ([], [])  # Asterisk dissolves a bridge asynchronously


async def test_the_app_serves_calls_again_after_asterisk_restarts(
    models: ModelStore, flow_files: tuple[Path, Path]
) -> None:
    sandbox = Sandbox(f"pytest-restart-{os.getpid()}")
    info = await asyncio.to_thread(sandbox.up)
    try:
        async with running_app(info, models, *flow_files) as app:
            await asyncio.to_thread(sandbox.down)
            await _until(lambda: not app.ready.is_set())
            info = await asyncio.to_thread(sandbox.up)
            await _until(app.ready.is_set, timeout=15)
            async with CallLab(info) as lab:
                said = confirming(info.sounds_dir, SWITCHBOARD_KO_CALLERS["sales"])
                call = await lab.call(speech=said, flow="switchboard-ko")
                arrival = await call.arrival()
                assert (arrival.context, arrival.extension) == ("ivr-dest", "sales")
    finally:
        await asyncio.to_thread(sandbox.down, purge=True)


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
