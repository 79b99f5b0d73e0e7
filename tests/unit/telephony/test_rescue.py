"""What is done about the calls and taps of a worker that died."""

from __future__ import annotations

from ivr.telephony.rescue import rescue_plan
from ivr.telephony.router import new_id


def test_a_dead_workers_callers_are_continued_and_its_own_taps_and_bridges_deleted() -> None:
    dead, alive = "speech-ivr-1", "speech-ivr-2"
    dead_snoop, dead_tap, dead_bridge = new_id("snoop", dead), new_id("tap", dead), new_id("bridge", dead)
    alive_tap, alive_bridge = new_id("tap", alive), new_id("bridge", alive)
    plan = rescue_plan(
        dead,
        in_app=["1795558086.153", dead_snoop, dead_tap],
        channels=["1795558086.153", "1795558086.160", dead_snoop, dead_tap, alive_tap],
        bridges=[dead_bridge, alive_bridge],
    )
    assert plan.callers == ("1795558086.153",)  # the other worker's caller is not touched
    assert plan.channels == (dead_snoop, dead_tap) and plan.bridges == (dead_bridge,)
    assert str(plan) == "1 calls sent to their fallback, 2 taps and 1 bridges deleted"
