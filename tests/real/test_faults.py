"""Faults that must strand nobody (marked `real`).

Each caller is a real SIP call (SIPp into the sandbox's PJSIP endpoint, G.711 and RFC 4733
DTMF, as production sees it: `ivr.sandbox.sip_caller`), and each test asserts from
Asterisk's side that every call ends at a destination, a fallback or a clean hangup, that
its call record (logger ``ivr.calls``) says why, and that nothing is left: no channel or
bridge in Asterisk, no tap the app still owns, no asyncio task and no file descriptor in
this process, where the app runs.

SIP calls enter ``Stasis(speech-ivr...)`` only (the sandbox's ``sip-in``), the name of the
session's app on the shared sandbox: a test that needs an app of its own (behind a proxy, or
an Asterisk it restarts) runs it as ``speech-ivr`` on a sandbox of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ivr.flow import load_flows
from ivr.sandbox import (
    CallLab,
    DtmfKeys,
    Pcm,
    PlacedCall,
    SandboxInfo,
    SipCaller,
    caller_pcap,
    parse_timestamp,
)
from ivr.sandbox.calls import Event
from ivr.sandbox.prompts import KO_CALLERS, SWITCHBOARD_KO_CALLERS
from ivr.speech.models import ModelStore
from ivr.speech.recognizer import GrammarRecognizer
from ivr.telephony.app import SpeechIvrApp, serving
from ivr.telephony.router import is_own_id
from tests.ari_proxy import ari_proxy
from tests.harness import ProcessUse, left_in_process, running_app, sandbox_of_its_own, sip_speech

pytestmark = pytest.mark.real

MAIN_PROMPT = "sound:speech-ivr/switchboard-ko/main"  # about 10 s
LONG_CONFIRMATION_FLOW = "ivr-test-long-confirm"


def _record(caplog: pytest.LogCaptureFixture, call_id: str) -> dict[str, Any]:
    (record,) = [r.call for r in caplog.records if r.name == "ivr.calls" and r.call["call_id"] == call_id]  # type: ignore[attr-defined]
    return record  # type: ignore[no-any-return]


def _playback_started(call: PlacedCall) -> Callable[[Event], bool]:
    return lambda event: (
        event.get("type") == "PlaybackStarted" and event["playback"].get("target_uri") == f"channel:{call.id}"
    )


async def _taps(lab: CallLab, count: int, timeout: float = 10.0) -> list[str]:
    """The ids of the app's tap channels, once there are ``count`` of them."""
    async with asyncio.timeout(timeout):
        while True:
            taps = [c["id"] for c in await lab.channels() if is_own_id(c["id"]) and "-tap-" in c["id"]]
            if len(taps) == count:
                return taps
            await asyncio.sleep(0.05)


async def _nothing_left(
    app: SpeechIvrApp, lab: CallLab, before: ProcessUse, now: Callable[[], ProcessUse] = ProcessUse.now
) -> None:
    """Every call over, the app idle and holding nothing, Asterisk empty, and this process
    back to what it held ``before`` the calls (as ``now`` measures it)."""
    await lab.end_calls()
    await asyncio.wait_for(app.idle(), 15)
    assert await lab.wait_idle() == ([], [])
    assert not app.router.owned()
    assert not await left_in_process(before, now=now)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


# --- the ARI connection and Asterisk itself -------------------------------------------------


async def test_a_cut_ari_connection_mid_call_is_made_again_and_the_call_still_routes(
    models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The app's events websocket is cut (both ways) while a SIP caller hears the menu: the
    app connects again (a reconnect is counted), the caller's answer, given after the cut,
    still routes, and the app holds nothing more than before the call."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    before = ProcessUse.now()
    async with sandbox_of_its_own("faults-cut") as sandbox:
        info = sandbox.status()
        assert info is not None and info.sip_port is not None
        said = sip_speech(info, SWITCHBOARD_KO_CALLERS["sales"], 2.0, KO_CALLERS["yes"])  # 네 if asked
        media = caller_pcap(tmp_path / "sales.pcap", said, lead=2.5, tail=1.0)
        async with (
            ari_proxy(info.http_port) as proxy,
            running_app(info, models, *flow_files, ari_url=proxy.url, watch_flows=False) as app,
            CallLab(info) as lab,
        ):
            # The proxy relays the app's connections (its kept-alive ones too): its own.
            def measure() -> ProcessUse:
                return ProcessUse.now(own_tasks=proxy.tasks, own_fds=proxy.sockets)

            serving_before = measure()
            async with SipCaller(lab, info.sip_port, media.path, extension="switchboard-ko", hold=30) as caller:
                await lab.wait_for(_playback_started(caller.call), timeout=15)
                assert proxy.cut_events() == 2
                arrival = await caller.call.arrival(timeout=30)
                assert (arrival.context, arrival.extension) == ("ivr-dest", "sales")
            assert caller.result is not None and caller.result.ok, caller.result and caller.result.summary()
            await asyncio.wait_for(app.ready.wait(), 10)  # registered again
            assert app.metrics.reconnects._value.get() >= 1  # type: ignore[attr-defined]
            await _nothing_left(app, lab, serving_before, measure)
    assert not await left_in_process(before)
    assert _record(caplog, caller.call.id)["ended"] == "routed"


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_calls_cut_by_an_asterisk_restart_are_released_and_new_calls_are_served(
    models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture, tmp_path: Path, how: str
) -> None:
    """Asterisk stops (it hangs the callers up) or is killed (nobody tells the app) while two
    SIP callers are in the menu, and starts again: the app registers again and serves a new
    SIP call, and it has released the two cut calls (their records say they hung up; no
    task, tap or socket of theirs is left)."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    before = ProcessUse.now()
    async with sandbox_of_its_own("faults-restart") as sandbox:
        info = sandbox.status()
        assert info is not None and info.sip_port is not None
        silent = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
        key = caller_pcap(tmp_path / "key.pcap", Pcm.silence(0.5), dtmf=[DtmfKeys("3")], tail=1.0)
        async with running_app(info, models, *flow_files, watch_flows=False) as app:
            serving_before = ProcessUse.now()
            async with CallLab(info) as lab, contextlib.AsyncExitStack() as callers:
                cut = [
                    await callers.enter_async_context(
                        SipCaller(lab, info.sip_port, silent.path, extension="switchboard-ko", hold=8)
                    )
                    for _ in range(2)
                ]
                for caller in cut:
                    await lab.wait_for(_playback_started(caller.call), timeout=15)
                await _taps(lab, 2)  # both are heard: a tap each
                await asyncio.sleep(1.0)  # a second into the menu
                if how == "stopped":
                    await asyncio.to_thread(sandbox.down)
                    for caller in cut:  # Asterisk hung them up as it stopped: a BYE to each caller
                        await caller.call.gone(timeout=5)
                        result = await caller.ended()
                        assert result.exchanged(sent=False)[-1] == "BYE", result.summary()
                else:
                    os.kill(info.pid, signal.SIGKILL)  # a crash: no StasisEnd, no BYE
                await _until(lambda: not app.ready.is_set())
                restarted = await asyncio.to_thread(sandbox.up)
                assert (restarted.http_port, restarted.sip_port) == (info.http_port, info.sip_port)
                await _until(app.ready.is_set, timeout=15)
                await asyncio.wait_for(app.idle(), 10)  # the cut calls were released
                assert not app.router.owned()
            assert not await left_in_process(serving_before)
            async with CallLab(info) as lab:  # a new observer: the first one went with Asterisk
                lab_before = ProcessUse.now()
                async with SipCaller(lab, info.sip_port, key.path, extension="switchboard-ko", hold=20) as caller:
                    arrival = await caller.call.arrival(timeout=20)
                    assert (arrival.extension, arrival.variables["Result"]) == ("billing", "dtmf")
                await _nothing_left(app, lab, lab_before)
    assert not await left_in_process(before)
    for gone in cut:
        record = _record(caplog, gone.call.id)
        assert record["ended"] == "hung up", record
    assert _record(caplog, caller.call.id)["ended"] == "routed"


async def test_a_prompt_that_ended_while_ari_was_away_is_taken_as_ended_after_the_reconnect(
    sandbox: SandboxInfo, models: ModelStore, flow_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The events sent while the app was disconnected are lost (ARI does not replay them):
    after the reconnect, the app asks Asterisk what still plays, so a silent caller whose
    prompt ended meanwhile is asked again and reaches the fallback, not left waiting."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    async with ari_proxy(sandbox.http_port) as proxy:
        settings = sandbox.app_settings(
            ari_url=proxy.url, app="ivr-faults", flows_dir=flow_files[0], grammars_dir=flow_files[1],
            default_flow="ivr-test", watch_flows=False,
        )
        app = SpeechIvrApp(settings, load_flows(*flow_files), models)
        async with serving(app), CallLab(sandbox) as lab:
            call = await lab.call(endpoint="Local/ivr-faults@ivr-app", variables={"FLOW": "ivr-test"}, hold=60)
            await lab.wait_for(lambda e: e.get("type") == "PlaybackStarted", timeout=15)
            assert proxy.block_events(3.0) == 2  # the short prompt ends while the app is away
            arrival = await call.arrival(timeout=25)
            assert (arrival.context, arrival.variables["Result"]) == ("ivr-fallback", "no-input")
            await lab.end_calls()
            await asyncio.wait_for(app.idle(), 15)
            assert await lab.wait_idle() == ([], [])
            assert not app.router.owned()
    assert _record(caplog, call.other_id)["ended"] == "routed"


# --- the tap, the recognizer and the flows, on the session's app ----------------------------


async def test_a_killed_tap_leaves_a_menu_with_keys_working(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The caller's tap is hung up from outside (a crash, a network fault) a second into the
    main menu, which takes keys: the call goes on with keys, the caller's 3 (4 s in) routes
    it, and its record says the app could not hear the caller."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    media = caller_pcap(tmp_path / "key.pcap", Pcm.silence(1.0), dtmf=[DtmfKeys("3", at=4.0)], tail=1.0)
    before = ProcessUse.now()
    async with SipCaller(lab, sandbox.sip_port, media.path, extension="switchboard-ko", hold=20) as caller:
        (tap,) = await _taps(lab, 1)
        await asyncio.sleep(1.0)  # the caller is heard a while
        await lab.hangup(tap)
        arrival = await caller.call.arrival(timeout=20)
    assert (arrival.extension, arrival.variables["Result"]) == ("billing", "dtmf")
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert record["ended"] == "routed"
    assert any(problem.startswith("cannot hear the caller") for problem in record["problems"]), record


async def test_a_killed_tap_sends_a_speech_only_menu_to_the_fallback(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The same in a menu that takes speech only: nothing more can be heard, so the call goes
    to the fallback at once with IVR_RESULT=error, and its record says why."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    media = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    before = ProcessUse.now()
    async with SipCaller(lab, sandbox.sip_port, media.path, extension="ivr-test-speech", hold=20) as caller:
        (tap,) = await _taps(lab, 1)
        await asyncio.sleep(1.0)  # the caller is heard a while
        await lab.hangup(tap)
        arrival = await caller.call.arrival(timeout=10)
    assert (arrival.context, arrival.variables["Result"]) == ("ivr-fallback", "error")
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert (record["ended"], record["result"]) == ("routed", "error")
    assert any(problem.startswith("cannot hear the caller") for problem in record["problems"]), record


async def test_a_recognizer_failing_for_one_call_leaves_the_others_alone(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    """The recognizer raises for the caller who says 오류 (tech), not for the one who says
    영업 at the same time: the first goes to the fallback with IVR_RESULT=error and the fault
    in its record, the second is routed as usual."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    accept = GrammarRecognizer.accept

    def failing_on_tech(self: GrammarRecognizer, pcm: bytes) -> str:
        words = accept(self, pcm)
        if "오류" in words:
            raise RuntimeError("injected fault")
        return words

    monkeypatch.setattr(GrammarRecognizer, "accept", failing_on_tech)
    assert sandbox.sip_port is not None
    tech = caller_pcap(tmp_path / "tech.pcap", sip_speech(sandbox, SWITCHBOARD_KO_CALLERS["tech"]), lead=1.0, tail=2.0)
    # 네 in case the menu asks "did you say ...?" (a loaded machine can hear 영업 less surely)
    sales_yes = sip_speech(sandbox, SWITCHBOARD_KO_CALLERS["sales"], 2.0, KO_CALLERS["yes"])
    sales = caller_pcap(tmp_path / "sales.pcap", sales_yes, lead=1.0, tail=2.0)
    before = ProcessUse.now()
    async with (
        SipCaller(lab, sandbox.sip_port, tech.path, extension="ivr-test-speech", hold=20) as faulty,
        SipCaller(lab, sandbox.sip_port, sales.path, extension="ivr-test-speech", hold=20) as healthy,
    ):
        faulty_arrival, healthy_arrival = await asyncio.gather(faulty.call.arrival(), healthy.call.arrival())
    assert (faulty_arrival.context, faulty_arrival.variables["Result"]) == ("ivr-fallback", "error")
    assert (healthy_arrival.extension, healthy_arrival.variables["Result"]) == ("sales", "matched")
    await _nothing_left(ivr_app, lab, before)
    assert any("injected fault" in problem for problem in _record(caplog, faulty.call.id)["problems"])
    assert _record(caplog, healthy.call.id)["problems"] == []


async def test_a_bad_flow_file_saved_mid_call_changes_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, flow_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A flow file that does not parse is saved while a SIP caller hears the menu: the reload
    is refused, the caller's answer routes by the flows in use, and so does a later call."""
    assert sandbox.sip_port is not None
    said = sip_speech(sandbox, SWITCHBOARD_KO_CALLERS["sales"], 2.0, KO_CALLERS["yes"])  # 네 if asked
    media = caller_pcap(tmp_path / "sales.pcap", said, lead=3.0, tail=1.0)
    broken = flow_files[0] / "broken.yaml"
    before = ProcessUse.now()
    try:
        async with SipCaller(lab, sandbox.sip_port, media.path, extension="switchboard-ko", hold=30) as caller:
            await lab.wait_for(_playback_started(caller.call), timeout=15)
            reloads = ivr_app.reloads
            broken.write_text("name: broken\nlanguage: ko\nstart: [\n")
            assert await ivr_app.reload() is False  # the watcher would do the same; now, to be sure
            assert ivr_app.reloads == reloads
            assert (await caller.call.arrival()).extension == "sales"
        later_media = caller_pcap(tmp_path / "later.pcap", said, lead=0.5, tail=1.0)
        async with SipCaller(lab, sandbox.sip_port, later_media.path, extension="switchboard-ko", hold=30) as later:
            assert (await later.call.arrival()).extension == "sales"
    finally:
        broken.unlink()
    await _nothing_left(ivr_app, lab, before)


# --- a caller who hangs up ------------------------------------------------------------------


@pytest.fixture(scope="module")
async def long_confirmation(ivr_app: SpeechIvrApp, flow_files: tuple[Path, Path]) -> AsyncIterator[str]:
    """A flow of the session's app that asks "did you say ...?" of every spoken answer, with
    a 10 s question: a caller can hang up while it plays, whatever the decision's timing."""
    path = flow_files[0] / f"{LONG_CONFIRMATION_FLOW}.yaml"
    routes = "\n".join(
        f"      {intent}: {{context: ivr-dest, extension: {intent}, confirm: {MAIN_PROMPT}}}"
        for intent in ("sales", "support", "billing", "tech", "operator")
    )
    path.write_text(
        f"name: {LONG_CONFIRMATION_FLOW}\nlanguage: ko\nstart: main\n"
        "fallback: {context: ivr-fallback, extension: s}\n"
        "menus:\n  main:\n    prompt: sound:speech-ivr/ivr-test/ask\n    grammar: switchboard-ko\n"
        f"    confirm_below: 101\n    routes:\n{routes}\n"
    )
    try:
        assert await ivr_app.reload() is True
        yield LONG_CONFIRMATION_FLOW
    finally:
        path.unlink()
        await ivr_app.reload()


def _hangup_at(call: PlacedCall) -> float:
    """When the caller's hangup reached Asterisk (its ChannelHangupRequest, epoch seconds)."""
    return next(parse_timestamp(e["timestamp"]) for e in call.events if e["type"] == "ChannelHangupRequest")


def _prompts_at_hangup(call: PlacedCall) -> tuple[int, bool]:
    """How many prompts had started when the caller hung up, and whether the last of them
    was still playing then (by Asterisk's own timestamps)."""
    hangup = _hangup_at(call)
    ids = f"channel:{call.id}"
    events = [e for e in call.lab.events if e.data.get("playback", {}).get("target_uri") == ids]
    started = [e.data for e in events if e.data["type"] == "PlaybackStarted" and parse_timestamp(e.data["timestamp"]) < hangup]
    if not started:
        return 0, False
    last = started[-1]["playback"]["id"]
    finished = [
        parse_timestamp(e.data["timestamp"]) for e in events
        if e.data["type"] == "PlaybackFinished" and e.data["playback"]["id"] == last
    ]
    return len(started), not finished or finished[0] >= hangup


async def _hang_up_after(
    lab: CallLab, port: int, media: Path, flow: str, hold: float, *, first: bool = True
) -> SipCaller:
    """A SIP caller who hangs up ``hold`` s after the answer. The SIP dialog must end cleanly
    (a BYE answered 200), the caller's own BYE when ``first`` (Asterisk had not hung up);
    otherwise both BYEs may cross (both hung up at once: SIPp answers Asterisk's with 200,
    then gives up on its own and says so)."""
    async with SipCaller(lab, port, media, extension=flow, hold=hold) as caller:
        await caller.call.gone()
    result = caller.result
    assert result is not None
    crossed = not first and "unexpected BYE" in result.errors and "200" in result.exchanged(sent=True)
    assert result.ok or crossed, result.summary()
    if first:
        assert result.exchanged(sent=True)[-1] == "BYE", result.summary()
    return caller


async def test_a_caller_hanging_up_during_the_prompt_leaves_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The caller hangs up 1.5 s into the 10 s main prompt, having said nothing."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    media = caller_pcap(tmp_path / "silent.pcap", Pcm.silence(1.0))
    before = ProcessUse.now()
    caller = await _hang_up_after(lab, sandbox.sip_port, media.path, "switchboard-ko", hold=1.5)
    assert _prompts_at_hangup(caller.call) == (1, True)  # the main prompt, still playing
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert record["ended"] == "hung up", record
    assert [turn["answers"] for turn in record["turns"]] == [[]]


async def test_a_caller_hanging_up_while_speaking_leaves_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The caller starts a long answer (아니요 three times, about 3 s) 1 s into the prompt and
    hangs up in the middle of it: the app had heard the speech start (it stopped the prompt,
    barge-in), and no answer was ever judged."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    no = KO_CALLERS["no"]
    said = sip_speech(sandbox, no, 0.2, no, 0.2, no)
    assert said.seconds > 2.5
    media = caller_pcap(tmp_path / "long.pcap", said, lead=1.0)
    before = ProcessUse.now()
    caller = await _hang_up_after(lab, sandbox.sip_port, media.path, "ivr-test-speech", hold=2.5)
    assert _prompts_at_hangup(caller.call) == (1, False)  # stopped by the caller's voice
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert record["ended"] == "hung up", record
    (turn,) = record["turns"]
    assert turn["prompt_stopped"] is not None and turn["answers"] == [], record


async def test_a_caller_hanging_up_during_the_confirmation_leaves_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, long_confirmation: str,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    """The caller says 영업, is asked "did you say ...?" (a 10 s question here) and hangs up
    while it plays, 3 s after the end of the words."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    said = sip_speech(sandbox, SWITCHBOARD_KO_CALLERS["sales"])
    media = caller_pcap(tmp_path / "sales.pcap", said, lead=1.0)
    before = ProcessUse.now()
    caller = await _hang_up_after(lab, sandbox.sip_port, media.path, long_confirmation, hold=1.0 + said.seconds + 3.0)
    assert _prompts_at_hangup(caller.call) == (2, True)  # the question, still playing
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert record["ended"] == "hung up", record
    asked, confirming = record["turns"]
    assert [answer["verdict"] for answer in asked["answers"]] == ["confirm"], record
    assert confirming["prompt"] == [MAIN_PROMPT] and confirming["answers"] == [], record


async def test_a_caller_hanging_up_at_the_decision_leaves_nothing(
    ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A first caller says 영업 and is routed: its record says when the decision came. A
    second caller says the same and hangs up at that very moment. The decision may just beat
    the hangup (routed) or not (hung up); either way nothing is left."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    assert sandbox.sip_port is not None
    said = sip_speech(sandbox, SWITCHBOARD_KO_CALLERS["sales"])
    media = caller_pcap(tmp_path / "sales.pcap", said, lead=1.0, tail=3.0)
    async with SipCaller(lab, sandbox.sip_port, media.path, extension="ivr-test-speech", hold=20) as timing:
        assert (await timing.call.arrival()).extension == "sales"
    await asyncio.wait_for(ivr_app.idle(), 10)
    (decided,) = [a["decision"] for t in _record(caplog, timing.call.id)["turns"] for a in t["answers"]]
    before = ProcessUse.now()
    caller = await _hang_up_after(lab, sandbox.sip_port, media.path, "ivr-test-speech", hold=decided, first=False)
    await _nothing_left(ivr_app, lab, before)
    record = _record(caplog, caller.call.id)
    assert record["ended"] in ("hung up", "routed"), (decided, record)
