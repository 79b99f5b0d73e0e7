"""The per-call driver with a fake call and fake taps: whatever goes wrong, the caller leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from ivr.audio import TapError
from ivr.dialog.events import Event, PromptFinished
from ivr.flow.compiled import compile_flow
from ivr.flow.model import Destination, Flow, Menu, Route, Timeouts
from ivr.grammar.matcher import IntentMatcher
from ivr.telephony.session import CallSession

FALLBACK = Destination(context="ivr-fallback", extension="s")


class FakeCall:
    def __init__(self, inbox: asyncio.Queue[Event], *, prompt_seconds: float = 0.0, fail_play: bool = False) -> None:
        self.id = "call-1"
        self.name = "Local/test;2"
        self.gone = asyncio.Event()
        self.log: list[tuple] = []
        self._inbox = inbox
        self._prompt_seconds = prompt_seconds
        self._fail_play = fail_play

    async def ring(self) -> None:
        self.log.append(("ring",))

    async def answer(self) -> None:
        self.log.append(("answer",))

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        self.log.append(("play", ",".join(media)))
        if self._fail_play:
            raise RuntimeError("500 Internal Server Error")
        loop = asyncio.get_running_loop()
        loop.call_later(self._prompt_seconds, self._inbox.put_nowait, PromptFinished(playback_id))

    async def stop_prompt(self, playback_id: str) -> None:
        self.log.append(("stop", playback_id))

    async def stop_prompts(self) -> None:
        self.log.append(("stop-all",))

    async def resync(self) -> None:
        self.log.append(("resync",))

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        self.log.append(("set", dict(variables)))

    async def continue_in_dialplan(self, destination: Destination) -> None:
        self.log.append(("continue", destination))

    async def hangup(self, reason: str = "normal") -> None:
        self.log.append(("hangup", reason))

    def close(self) -> None:
        self.log.append(("close",))

    def result(self) -> str:
        return next(entry[1]["IVR_RESULT"] for entry in self.log if entry[0] == "set")


class SilentTap:
    """Zeros in 20 ms frames until closed; after ``dies_after`` seconds the stream breaks
    (``error``, a ``TapError`` unless given), or with ``stalls`` it just stops sending."""

    continuous = True

    def __init__(
        self, dies_after: float | None = None, *, stalls: bool = False, error: Exception | None = None
    ) -> None:
        self.closed = asyncio.Event()
        self._dies_after = dies_after
        self._stalls = stalls
        self._error = error or TapError("the stream ended")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        end = None if self._dies_after is None else loop.time() + self._dies_after
        while not self.closed.is_set():
            if end is not None and loop.time() >= end:
                if self._stalls:
                    await self.closed.wait()
                    return
                raise self._error
            yield bytes(640)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.closed.set()


def make_flow(no_input: float = 0.2) -> Flow:
    return Flow(
        name="test",
        language="ko",
        start="main",
        fallback=FALLBACK,
        menus={
            "main": Menu(
                prompt="sound:main",
                grammar="g",
                routes={"sales": Route(context="ivr-dest", extension="sales")},
                timeouts=Timeouts(no_input=no_input),
            )
        },
    )


class Watcher:
    """What the live monitor is told."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def call_started(self, call_id: str, *, caller: str, flow: str) -> None:
        self.log.append(("started", call_id, flow))

    def menu(self, call_id: str, menu: str) -> None:
        self.log.append(("menu", menu))

    def partial(self, call_id: str, words: str) -> None:
        self.log.append(("partial", words))

    def judged(self, call_id: str, **judgement: object) -> None:
        self.log.append(("judged", judgement))

    def call_ended(self, call_id: str, record: object) -> None:
        self.log.append(("ended", call_id, record))


def make_session(
    call: FakeCall, inbox: asyncio.Queue[Event], open_tap, flow: Flow | None = None, watcher: Watcher | None = None
) -> CallSession:
    async def no_model() -> None:
        return None

    matchers = {"g": IntentMatcher({"sales": ["영업부"]})}
    return CallSession(
        call,
        inbox,
        compile_flow(flow or make_flow(), matchers),
        load_model=no_model,
        open_tap=open_tap,
        watcher=watcher,
    )


async def test_silence_goes_to_the_fallback_and_the_tap_is_closed() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call, tap = FakeCall(inbox, prompt_seconds=0.05), SilentTap()

    async def open_tap() -> SilentTap:
        return tap

    outcome = await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert outcome is not None and outcome.result.value == "no-input"
    assert call.log[-2:] == [("continue", FALLBACK), ("close",)]
    assert tap.closed.is_set()


async def test_the_call_rings_until_its_tap_is_up_and_is_answered_before_its_prompt() -> None:
    # A caller cannot speak before the answer: a tap slow to come up loses no word.
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call, tap = FakeCall(inbox, prompt_seconds=0.05), SilentTap()

    async def open_tap() -> SilentTap:
        call.log.append(("tap",))
        return tap

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert call.log[:4] == [("ring",), ("tap",), ("answer",), ("play", "sound:main")]


async def test_the_live_monitor_sees_the_call_from_its_start_to_its_record() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call, tap, watcher = FakeCall(inbox, prompt_seconds=0.05), SilentTap(), Watcher()

    async def open_tap() -> SilentTap:
        return tap

    session = make_session(call, inbox, open_tap, watcher=watcher)
    await asyncio.wait_for(session.run(), 5)
    assert watcher.log[0] == ("started", "call-1", "test")
    assert ("menu", "main") in watcher.log
    assert watcher.log[-1] == ("ended", "call-1", session.record)


async def test_a_tap_that_cannot_be_opened_sends_the_call_to_the_fallback() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call = FakeCall(inbox, prompt_seconds=10)

    async def open_tap() -> SilentTap:
        raise OSError("connection refused")

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert call.result() == "error"
    assert ("continue", FALLBACK) in call.log


async def test_a_tap_that_dies_mid_call_sends_the_call_to_the_fallback() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call = FakeCall(inbox, prompt_seconds=10)

    async def open_tap() -> SilentTap:
        return SilentTap(dies_after=0.1)

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert call.result() == "error"
    assert ("continue", FALLBACK) in call.log


async def test_hearing_that_fails_unexpectedly_closes_the_tap_and_sends_the_call_on() -> None:
    # Nobody would read the tap any more: Asterisk's writes into it would block the call.
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call, tap = FakeCall(inbox, prompt_seconds=10), SilentTap(dies_after=0.1, error=ValueError("a bug"))

    async def open_tap() -> SilentTap:
        return tap

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert call.result() == "error"
    assert ("continue", FALLBACK) in call.log and tap.closed.is_set()


async def test_a_tap_that_stops_sending_is_taken_for_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.telephony.session.STALL_TIMEOUT", 0.3)
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call = FakeCall(inbox, prompt_seconds=10)

    async def open_tap() -> SilentTap:
        return SilentTap(dies_after=0.1, stalls=True)

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert call.result() == "error"


async def test_an_unexpected_error_still_sends_the_caller_to_the_fallback() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call = FakeCall(inbox, fail_play=True)

    async def open_tap() -> SilentTap:
        return SilentTap()

    await asyncio.wait_for(make_session(call, inbox, open_tap).run(), 5)
    assert ("stop-all",) in call.log
    assert call.result() == "error"
    assert call.log[-2:] == [("continue", FALLBACK), ("close",)]


async def test_a_session_cancelled_at_shutdown_sends_its_caller_to_the_fallback() -> None:
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call, tap = FakeCall(inbox, prompt_seconds=10), SilentTap()

    async def open_tap() -> SilentTap:
        return tap

    task = asyncio.create_task(make_session(call, inbox, open_tap).run())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert call.result() == "error"
    assert ("continue", FALLBACK) in call.log and tap.closed.is_set()
