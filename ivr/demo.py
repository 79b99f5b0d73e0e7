"""``speech-ivr demo``: a sandbox Asterisk, the app, and Korean callers, end to end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.table import Table

from ivr.flow import load_flows
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import Arrival, CallLab, Sandbox, SandboxInfo
from ivr.sandbox.prompts import (
    KO_CALLERS,
    PROMPTS,
    SWITCHBOARD_KO_CALLERS,
    Spoken,
    install_prompts,
    script,
)
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp, serving

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEMO_FLOW = "switchboard-ko"
SANDBOX_NAME = "demo"


@dataclass(frozen=True)
class DemoCall:
    said: str
    """What the caller says, for the table."""
    speech: str | None
    """The caller's media: words and pauses (see prompts.script)."""
    keys: str | None
    expected: str
    """The extension the call should reach."""


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
    settings = info.app_settings(
        flows_dir=EXAMPLES_DIR / "flows",
        grammars_dir=EXAMPLES_DIR / "grammars",
        default_flow=DEMO_FLOW,
    )
    flows = load_flows(settings.flows_dir, settings.grammars_dir)
    app = SpeechIvrApp(settings, flows, ModelStore(settings.models))
    sounds = info.sounds_dir
    # Billing is shown by its key: its spoken caller is sometimes asked to confirm.
    calls = [
        DemoCall(spoken.text, spoken.render(sounds), None, intent)
        for intent, spoken in SWITCHBOARD_KO_CALLERS.items()
        if intent not in ("support", "billing")
    ]
    steps = (SWITCHBOARD_KO_CALLERS["support"], 2.0, KO_CALLERS["support/exchange"], 2.0, KO_CALLERS["order/change"])
    calls.append(DemoCall(" / ".join(s.text for s in steps if isinstance(s, Spoken)), script(sounds, *steps), None, "order-change"))
    calls.append(DemoCall("(presses 3)", None, "3", "billing"))
    console.print("loading the Korean model and connecting the app to ARI")
    async with serving(app), CallLab(info) as lab:
        assert app.monitoring is not None and app.monitoring.url is not None
        console.print(f"the app's metrics: curl {app.monitoring.url}metrics", markup=False)
        with console.status(f"placing {len(calls)} calls at once"):
            results = list(await asyncio.gather(*(_place(lab, info, call) for call in calls)))
        await asyncio.wait_for(app.idle(), 15)
        async with aiohttp.ClientSession() as http, http.get(f"{app.monitoring.url}metrics") as response:
            counted = [line for line in (await response.text()).splitlines() if line.startswith("ivr_calls_total")]
        console.print("/metrics after the calls:\n  " + "\n  ".join(counted), markup=False, highlight=False)
        return results


async def _place(
    lab: CallLab, info: SandboxInfo, call: DemoCall
) -> tuple[DemoCall, Arrival | None, float | None]:
    placed = await lab.call(speech=call.speech, dtmf=call.keys, flow=DEMO_FLOW, delay=1.0, hold=20)
    try:
        arrival = await placed.arrival(timeout=30)
    except TimeoutError:
        return call, None, None
    return call, arrival, arrival.at - await placed.speech_end()


def _as_expected(call: DemoCall, arrival: Arrival | None) -> bool:
    return arrival is not None and arrival.extension == call.expected


def _table(results: list[tuple[DemoCall, Arrival | None, float | None]]) -> Table:
    table = Table(
        title=f"calls into flow {DEMO_FLOW}",
        caption="reached: the destination as Asterisk saw it; latency: end of speech to arrival",
    )
    for column in ("caller said", "heard", "intent", "confidence", "reached", "result", "latency"):
        table.add_column(column)
    for call, arrival, latency in results:
        said = call.said
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
