"""Running the app against a sandbox Asterisk, for the real tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr

from ivr.flow import load_flows
from ivr.sandbox import SandboxInfo
from ivr.sandbox.prompts import install_prompts
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp

PROJECT_DIR = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def running_app(info: SandboxInfo, models: ModelStore) -> AsyncIterator[SpeechIvrApp]:
    """The Stasis app with the shipped flows, serving a sandbox until the block ends."""
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    settings = Settings(
        ari_url=info.ari_url,
        ari_user=info.ari_user,
        ari_password=SecretStr(info.ari_password),
        flows_dir=PROJECT_DIR / "flows",
        grammars_dir=PROJECT_DIR / "grammars",
        default_flow="switchboard-ko",
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    serving = asyncio.create_task(app.run())
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait([ready, serving], return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if serving.done():
        serving.result()
    assert app.ready.is_set(), "the app did not register with the sandbox Asterisk"
    try:
        yield app
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
