"""``speech-ivr demo``: a sandbox Asterisk, the app, and Korean callers, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from ivr.flow import load_flows
from ivr.sandbox import Arrival, CallLab, Sandbox, SandboxInfo
from ivr.sandbox.prompts import PROMPTS, SWITCHBOARD_KO_CALLERS, Spoken, install_prompts
from ivr.settings import Settings
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEMO_FLOW = "switchboard-ko"
SANDBOX_NAME = "demo"


@dataclass(frozen=True)
class DemoCall:
    said: Spoken | None
    expected: str


async def run_demo(*, keep: bool = False) -> int:
    console = Console()
    sandbox = Sandbox(SANDBOX_NAME)
    console.rule("speech-ivr demo")
    info = await asyncio.to_thread(sandbox.up, log=console.print)
    console.print(f"Asterisk sandbox {info.name!r} up on {info.ari_url}")
    try:
        await asyncio.to_thread(install_prompts, info.sounds_dir)
        console.print(f"prompts rendered with espeak-ng: {', '.join(PROMPTS)}")
        results = await _call_the_ivr(console, info)
    finally:
        if not keep:
            await asyncio.to_thread(sandbox.down)
    console.print(_table(results))
    failures = sum(1 for call, arrival, _ in results if not _as_expected(call, arrival))
    console.print(
        f"{len(results) - failures}/{len(results)} calls reached the expected destination"
        + ("" if keep else "; sandbox stopped")
    )
    return 1 if failures else 0


async def _call_the_ivr(
    console: Console, info: SandboxInfo
) -> list[tuple[DemoCall, Arrival | None, float | None]]:
    settings = Settings(
        ari_url=info.ari_url,
        ari_user=info.ari_user,
        ari_password=SecretStr(info.ari_password),
        flows_dir=PROJECT_DIR / "flows",
        grammars_dir=PROJECT_DIR / "grammars",
        default_flow=DEMO_FLOW,
    )
    flows = load_flows(settings.flows_dir, settings.grammars_dir)
    app = SpeechIvrApp(settings, flows, ModelStore(settings.models))
    serving = asyncio.create_task(app.run())
    try:
        with console.status("loading the Korean model and connecting to ARI"):
            await _until_ready(app, serving)
        calls = [DemoCall(spoken, intent) for intent, spoken in SWITCHBOARD_KO_CALLERS.items()]
        calls.append(DemoCall(None, "no-input"))
        async with CallLab(info) as lab:
            with console.status(f"placing {len(calls)} calls at once"):
                return list(await asyncio.gather(*(_place(lab, info, call) for call in calls)))
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def _until_ready(app: SpeechIvrApp, serving: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait([ready, serving], return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if serving.done():
        serving.result()  # the app failed: show why
    if not app.ready.is_set():
        ready.cancel()
        raise TimeoutError("the app did not register with Asterisk within 60 s")


async def _place(
    lab: CallLab, info: SandboxInfo, call: DemoCall
) -> tuple[DemoCall, Arrival | None, float | None]:
    speech = await asyncio.to_thread(call.said.render, info.sounds_dir) if call.said else None
    placed = await lab.call(speech=speech, flow=DEMO_FLOW, delay=1.0, hold=20)
    try:
        arrival = await placed.arrival(timeout=30)
    except TimeoutError:
        return call, None, None
    latency = arrival.at - await placed.speech_end() if call.said else None
    return call, arrival, latency


def _as_expected(call: DemoCall, arrival: Arrival | None) -> bool:
    if arrival is None:
        return False
    if call.said is None:
        return arrival.variables.get("Result") == "no-input"
    return arrival.extension == call.expected


def _table(results: list[tuple[DemoCall, Arrival | None, float | None]]) -> Table:
    table = Table(title=f"calls into flow {DEMO_FLOW}")
    for column in ("caller said", "transcript", "intent", "score", "reached (seen by Asterisk)", "result", "end of speech → arrival"):
        table.add_column(column)
    for call, arrival, latency in results:
        said = f"{call.said.text} ({call.said.voice})" if call.said else "(silence)"
        if arrival is None:
            table.add_row(said, "", "", "", "[red]nothing within 30 s[/red]", "", "")
            continue
        variables = arrival.variables
        ok = _as_expected(call, arrival)
        table.add_row(
            said,
            variables.get("Transcript", ""),
            variables.get("Intent", ""),
            variables.get("Confidence", ""),
            f"[{'green' if ok else 'red'}]{arrival.context},{arrival.extension}[/]",
            variables.get("Result", ""),
            f"{latency * 1000:.0f} ms" if latency is not None else "",
        )
    return table
