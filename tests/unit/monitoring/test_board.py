"""The live monitor's board: calls in progress, recent calls and the tallies over them."""

from __future__ import annotations

from typing import Any

from ivr.flow.model import Destination, Flow, Menu, Route
from ivr.monitoring.board import LATENCY_EDGES, RECENT_CALLS, CallBoard

NOW = 1_800_000_000.0


def answer(transcript: str, verdict: str, intent: str | None, *, matched: str | None = None, recording: str | None = None) -> dict[str, Any]:
    return {
        "menu": "main", "transcript": transcript, "verdict": verdict, "intent": intent, "score": 80.0,
        "match": {"intent": matched if matched is not None else intent}, "recording": recording,
    }  # fmt: skip


def record(call_id: str, *answers: dict[str, Any], result: str = "matched", intent: str | None = "sales",
           latency: float | None = 0.4, flow: str = "switchboard") -> dict[str, Any]:
    return {
        "call_id": call_id, "flow": flow, "result": result, "intent": intent, "menu": "main",
        "speech_end_to_destination": latency, "turns": [{"menu": "main", "answers": list(answers)}],
    }  # fmt: skip


def flows() -> dict[str, Flow]:
    main = Menu(prompt="sound:main", grammar="g", routes={"sales": Route(context="ivr-dest", extension="sales")})
    flow = Flow(name="switchboard", language="ko", start="main",
                fallback=Destination(context="ivr-fallback", extension="s"), menus={"main": main})  # fmt: skip
    return {"switchboard": flow}


def test_a_call_is_shown_from_its_start_with_its_words_as_they_come_then_its_verdict() -> None:
    board = CallBoard()
    [started] = board.call_started("c1", caller="1001", flow="switchboard", now=NOW)
    assert started["call"]["partial"] == "" and started["call"]["started"] == NOW
    assert board.menu("c1", "main")[0]["call"]["menu"] == "main"
    assert board.partial("c1", "영업")[0]["call"]["partial"] == "영업"
    assert board.partial("c1", "영업") == []  # nothing new: nothing to push
    [judged] = board.judged("c1", menu="main", transcript="영업 부", verdict="accept", intent="sales", score=91.24)
    assert judged["call"]["judgement"] == {"verdict": "accept", "intent": "sales", "score": 91.2}
    assert [call["call_id"] for call in board.snapshot(NOW)["active"]] == ["c1"]
    [ended] = board.call_ended("c1", record("c1", answer("영업 부", "accept", "sales")), now=NOW + 5)
    assert ended["type"] == "ended" and ended["record"]["ended_at"] == NOW + 5
    snapshot = board.snapshot(NOW + 5)
    assert snapshot["active"] == [] and [r["call_id"] for r in snapshot["recent"]] == ["c1"]


def test_reports_about_calls_it_does_not_show_change_nothing() -> None:
    board = CallBoard()
    assert board.partial("gone", "영업") == [] and board.menu("gone", "main") == []


def test_the_to_do_list_ranks_what_was_heard_without_a_match_or_rejected() -> None:
    board = CallBoard(flows=flows, recording_url=lambda name: f"recordings/{name}")
    calls = [
        record("a", answer("날씨", "reject", None, recording="a-1.wav"), result="no-match", intent=None),
        record("b", answer("날씨", "reject", None, recording="b-1.wav"), result="no-match", intent=None),
        record("c", answer("요금 환불", "reject", None, matched="billing")),
        record("d", answer("영업", "accept", "sales")),
        # An intent of the grammar that this menu has no route for: no match either.
        record("e", answer("환불", "accept", "support"), result="no-match", intent=None),
    ]
    for call in calls:
        board.call_ended(call["call_id"], call, now=NOW)
    todo = board.tallies(NOW)["todo"]
    assert [(item["transcript"], item["kind"], item["count"]) for item in todo] == [
        ("날씨", "no-match", 2), ("요금 환불", "rejected", 1), ("환불", "no-match", 1),
    ]  # fmt: skip
    assert todo[0]["recording"] == "recordings/b-1.wav"  # the latest one
    assert todo[1]["recording"] is None


def test_tallies_count_intents_routes_minutes_and_latencies() -> None:
    board = CallBoard(flows=flows)
    board.call_ended("a", record("a", answer("영업", "accept", "sales"), latency=0.3), now=NOW - 120)
    board.call_ended("b", record("b", answer("영업", "accept", "sales"), latency=9.0), now=NOW)
    board.call_ended("c", record("c", result="no-input", intent=None, latency=None), now=NOW)
    tallies = board.tallies(NOW)
    assert tallies["intents"] == {"switchboard": {"sales": 2}}
    [graph] = tallies["flows"]
    assert graph["name"] == "switchboard" and '|"sales · 2"|' in graph["mermaid"]
    minutes = tallies["minutes"]
    assert minutes[-1] == {"minute": int(NOW // 60) * 60, "results": {"matched": 1, "no-input": 1}}
    assert minutes[-3]["results"] == {"matched": 1}
    assert tallies["latency"]["counts"][1] == 1 and tallies["latency"]["counts"][len(LATENCY_EDGES)] == 1


def test_only_the_last_few_hundred_calls_are_kept() -> None:
    board = CallBoard()
    for n in range(RECENT_CALLS + 5):
        board.call_ended(str(n), record(str(n)), now=NOW)
    recent = board.snapshot(NOW)["recent"]
    assert len(recent) == RECENT_CALLS and recent[0]["call_id"] == "5"
