"""Korean callers routed through Wazo's real stream-channel module, by the app as it runs on Wazo.

The Wazo sandbox is Debian's Asterisk 22 with ``res_ari_stream.so`` built from its upstream
source (``ivr/sandbox/wazo_module.py``); the app runs with ``transport = "stream-channel"`` and
the default stream URL, ARI's own ``/ws``. The module logs each stream's life, and that is the
evidence that the app never closes a stream first (which would freeze the call): ``new call``
when a client connects, ``end call`` when the channel hangs up (the module's framehook goes with
it), and ``end sesssion`` (sic) only when a write fails because the client went away first.
The calls are routed to ``ivr-dest``, which hangs up at once, but for one routed to a
destination that keeps the call up: its stream stays open after the call left the app, until
the hangup (docs/wazo.md, section 6).

The module spins a core while a stream is open (measured 8 % to 36 % of one per stream), so
these calls run one or two at a time. The callers say renderings of
``SWITCHBOARD_KO_CALLERS`` that route over a mu-law line (billing's does not), since the module
sends nothing for a channel that is already slin16 and the calls are in ulaw like a phone.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.media.stream_channel import lingering_streams
from ivr.sandbox import CallLab, PlacedCall, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, confirming
from ivr.speech.models import ModelStore
from ivr.telephony.app import SpeechIvrApp
from tests.harness import running_app

pytestmark = pytest.mark.real

INTENTS = ["sales", "tech", "operator"]
"""Main-menu destinations whose renderings route over mu-law (hearing is deterministic)."""
STREAM_LINE = re.compile(
    r"^\[[^\]]+\] NOTICE\[\d+\] res_ari_stream\.c: channel (?P<channel>\S+) : "
    r"(?P<what>new call|end call|end sesssion)"
)
LOG_WAIT = 2.0
"""How long Asterisk's logger may take to write a line."""


class ModuleLog:
    """The module's lines that Asterisk logs from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size

    def lines(self) -> list[tuple[str, str]]:
        """(channel, what) of each line: ``new call``, ``end call`` or ``end sesssion``."""
        with self.path.open("rb") as log:
            log.seek(self.start)
            text = log.read().decode(errors="replace")
        found = (STREAM_LINE.match(line) for line in text.splitlines())
        return [(match["channel"], match["what"]) for match in found if match]

    async def streams(self, channels: set[str]) -> dict[str, list[str]]:
        """What the module logged for each channel, once each of them has a ``new call`` and
        an end (or after `LOG_WAIT`)."""
        deadline = time.monotonic() + LOG_WAIT
        while True:
            seen: dict[str, list[str]] = {}
            for channel, what in self.lines():
                seen.setdefault(channel, []).append(what)
            ended = all(len(seen.get(channel, [])) >= 2 for channel in channels)
            if ended or time.monotonic() >= deadline:
                return seen
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def wazo_app(
    wazo_sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path]
) -> AsyncIterator[SpeechIvrApp]:
    """The app on the Wazo sandbox, hearing callers through the module at ARI's ``/ws``."""
    async with running_app(
        wazo_sandbox, models, *flow_files, transport="stream-channel", watch_flows=False
    ) as app:
        yield app


@pytest.fixture
async def wazo_lab(wazo_sandbox: SandboxInfo, wazo_app: SpeechIvrApp) -> AsyncIterator[CallLab]:
    async with CallLab(wazo_sandbox) as lab:
        await lab.wait_for_app()
        yield lab


async def call_saying(lab: CallLab, info: SandboxInfo, intent: str) -> PlacedCall:
    """A caller in ulaw (the module sends nothing for slin16) who says the intent, and 네 if
    the menu asks "did you say ...?"."""
    speech = confirming(info.sounds_dir, SWITCHBOARD_KO_CALLERS[intent])
    return await lab.call(speech=speech, formats="ulaw")


async def assert_nothing_left(app: SpeechIvrApp, lab: CallLab) -> None:
    await asyncio.wait_for(app.idle(), 10)
    assert not app.router.owned()
    assert await lab.wait_idle() == ([], [])


@pytest.mark.parametrize("intent", INTENTS)
async def test_a_korean_caller_is_routed_through_the_real_module(
    intent: str, wazo_sandbox: SandboxInfo, wazo_app: SpeechIvrApp, wazo_lab: CallLab
) -> None:
    log = ModuleLog(wazo_sandbox.log_file)
    call = await call_saying(wazo_lab, wazo_sandbox, intent)
    arrival = await call.arrival()
    assert (arrival.context, arrival.extension, arrival.variables["Result"]) == (
        "ivr-dest", intent, "matched"
    )
    await call.gone()
    await assert_nothing_left(wazo_app, wazo_lab)
    # One stream, on the IVR leg, that the module ended with the call (ivr-dest hangs up).
    assert await log.streams({call.other_id}) == {call.other_id: ["new call", "end call"]}


async def test_two_callers_at_once_each_get_their_own_stream(
    wazo_sandbox: SandboxInfo, wazo_app: SpeechIvrApp, wazo_lab: CallLab
) -> None:
    log = ModuleLog(wazo_sandbox.log_file)
    calls = {
        intent: await call_saying(wazo_lab, wazo_sandbox, intent) for intent in ("sales", "tech")
    }
    arrivals = await asyncio.gather(*(call.arrival() for call in calls.values()))
    assert [(a.extension, a.variables["Result"]) for a in arrivals] == [
        ("sales", "matched"), ("tech", "matched")
    ]
    for call in calls.values():
        await call.gone()
    await assert_nothing_left(wazo_app, wazo_lab)
    legs = {call.other_id for call in calls.values()}
    assert await log.streams(legs) == {leg: ["new call", "end call"] for leg in legs}


async def test_a_call_routed_to_a_destination_that_keeps_it_keeps_its_stream_until_it_hangs_up(
    wazo_sandbox: SandboxInfo, wazo_app: SpeechIvrApp, wazo_lab: CallLab
) -> None:
    """The module ends a stream only at the hangup: the app must not close it when the call
    leaves (that freezes the call in the module), only stop using it, for as long as the
    destination keeps the call (longer than the 10 s after which the app used to drop it)."""
    log = ModuleLog(wazo_sandbox.log_file)
    speech = SWITCHBOARD_KO_CALLERS["sales"].render(wazo_sandbox.sounds_dir)
    call = await wazo_lab.call(speech=speech, formats="ulaw", flow="ivr-test-hold", hold=60)
    await wazo_lab.wait_for(
        lambda e: e.get("type") == "ChannelDialplan"
        and e["channel"]["id"] == call.other_id
        and e["channel"]["dialplan"]["context"] == "caller",
        timeout=30,
    )
    await asyncio.wait_for(wazo_app.idle(), 10)  # the call's session is over; its stream is not
    assert lingering_streams() == 1
    await asyncio.sleep(11)
    assert lingering_streams() == 1 and (await log.streams({call.other_id}))[call.other_id] == ["new call"]
    await wazo_lab.end_calls()
    await _until(lambda: lingering_streams() == 0)
    await assert_nothing_left(wazo_app, wazo_lab)
    assert await log.streams({call.other_id}) == {call.other_id: ["new call", "end call"]}


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
