"""LateEars: what the dialog asked of the ears before the tap was up reaches them when it is."""

from __future__ import annotations

from ivr.hearing.endpointer import EndpointSettings
from ivr.hearing.heard import Listening
from ivr.runtime.conversation import LateEars

MAIN = Listening("main", ("영업부",), EndpointSettings())
YES_NO = Listening("yes-no", ("네",), EndpointSettings())


class Ears:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def listen(self, listening: Listening) -> None:
        self.calls.append(f"listen {listening.grammar}")

    def stop(self) -> None:
        self.calls.append("stop")


def test_the_last_listen_before_the_tap_is_handed_on() -> None:
    late, ears = LateEars(), Ears()
    late.listen(MAIN)
    late.stop()
    late.listen(YES_NO)
    late.attach(ears)
    assert ears.calls == ["listen yes-no"]
    late.stop()
    assert ears.calls == ["listen yes-no", "stop"]


def test_nothing_is_handed_on_after_a_stop() -> None:
    late, ears = LateEars(), Ears()
    late.listen(MAIN)
    late.stop()
    late.attach(ears)
    assert ears.calls == []
