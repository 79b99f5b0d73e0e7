"""Running the app against a sandbox Asterisk, for the real tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ivr.flow import load_flows
from ivr.sandbox import SandboxInfo
from ivr.sandbox.prompts import install_prompts
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving

PROJECT_DIR = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def running_app(info: SandboxInfo, models: ModelStore) -> AsyncIterator[SpeechIvrApp]:
    """The Stasis app with the shipped flows, serving a sandbox until the block ends."""
    await asyncio.to_thread(install_prompts, info.sounds_dir)
    settings = info.app_settings(
        flows_dir=PROJECT_DIR / "flows",
        grammars_dir=PROJECT_DIR / "grammars",
        default_flow="switchboard-ko",
    )
    app = SpeechIvrApp(settings, load_flows(settings.flows_dir, settings.grammars_dir), models)
    async with serving(app) as app:
        yield app
