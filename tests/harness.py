"""Running the app against a sandbox Asterisk, for the real tests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ivr.flow import load_flows
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import SandboxInfo
from ivr.sandbox.prompts import PROMPTS, Spoken, install_prompts
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
