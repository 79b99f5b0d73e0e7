"""The call record: built from what the session sees, ready for one JSON line."""

from __future__ import annotations

import json

from ivr.dialog.actions import ContinueInDialplan, Judged, Play, SetVariables, StopPrompt
from ivr.dialog.engine import Outcome, Result
from ivr.dialog.events import KeyPressed, SpeechStarted, TapFailed, Utterance
from ivr.flow.model import Destination
from ivr.grammar.matcher import Match
from ivr.grammar.verdict import Judgement, Verdict
from ivr.hearing.heard import Heard, Word
from ivr.runtime.call_record import CallRecorder

SALES = Destination(context="ivr-dest", extension="sales")


def _heard(*words: tuple[str, float]) -> Heard:
    return Heard(tuple(Word(w, c) for w, c in words), 0.2, 0.4, 1.1, 1.7, 0.7)


def test_a_spoken_answer_is_recorded_with_its_words_verdict_and_timings() -> None:
    record = CallRecorder(call_id="c1", caller="1001", flow="switchboard-ko", started=100.0)
    record.action(Play("p1", ("sound:main",)), 100.1)
    record.event(SpeechStarted(), 101.0)
    record.action(StopPrompt("p1"), 101.05)
    heard = _heard(("영업부", 0.93))
    record.event(Utterance(heard, speech_end_at=101.6), 102.2)
    judgement = Judgement(Verdict.ACCEPT, "sales", 96.0, Match("sales", 100.0, "영업부", "support", 40.0), "영업부")
    record.action(Judged("main", heard, judgement, False), 102.2)
    record.action(SetVariables((("IVR_RESULT", "matched"), ("IVR_INTENT", "sales"))), 102.21)
    record.action(ContinueInDialplan(SALES), 102.22)
    outcome = Outcome(Result.MATCHED, SALES, "main", "sales", "영업부", 96.0)
    done = record.finish(outcome, 102.5, ended="routed")

    assert json.loads(json.dumps(done, ensure_ascii=False)) == done  # one JSON line's worth
    assert done["call_id"] == "c1" and done["caller"] == "1001" and done["flow"] == "switchboard-ko"
    assert (done["result"], done["intent"], done["ended"]) == ("matched", "sales", "routed")
    assert done["destination"] == {"context": "ivr-dest", "extension": "sales", "priority": 1}
    (turn,) = done["turns"]
    assert turn["menu"] == "main" and turn["prompt"] == ["sound:main"]
    assert (turn["prompt_start"], turn["prompt_stopped"]) == (0.1, 1.05)
    (answer,) = turn["answers"]
    assert answer["words"] == [{"word": "영업부", "confidence": 0.93}]
    assert (answer["verdict"], answer["intent"], answer["score"]) == ("accept", "sales", 96.0)
    assert answer["match"] == {"intent": "sales", "score": 100.0, "runner_up": "support", "runner_up_score": 40.0}
    assert (answer["speech_start"], answer["speech_end"], answer["decision"]) == (1.0, 1.6, 2.2)
    assert done["speech_end_to_destination"] == 0.62
    assert done["duration"] == 2.5 and done["problems"] == []
    assert done["audio"] is None  # no tap: nothing said about its audio


def test_what_the_tap_delivered_is_in_the_record() -> None:
    record = CallRecorder(call_id="c3", caller="", flow="f", started=0.0)
    record.audio(received=4.2, lone_silences=2, worst_backlog=0.1, decoded=1.6, decode_cpu=0.09)
    done = record.finish(None, 5.0, ended="hung up")
    assert done["audio"] == {
        "received": 4.2, "lone_silences": 2, "worst_backlog": 0.1, "decoded": 1.6, "decode_cpu": 0.09
    }


def test_keys_and_a_failed_tap_are_recorded_in_their_turn() -> None:
    record = CallRecorder(call_id="c2", caller="", flow="f", started=0.0)
    record.action(Play("p1", ("sound:main",)), 0.0)
    record.event(TapFailed("no audio for 3.0 s"), 1.0)
    record.event(KeyPressed("3"), 2.0)
    done = record.finish(None, 3.0, ended="hung up")
    assert done["turns"][0]["dtmf"] == "3"
    assert done["problems"] == ["cannot hear the caller: no audio for 3.0 s"]
    assert done["result"] is None and done["destination"] is None and done["ended"] == "hung up"


def test_each_prompt_starts_a_turn() -> None:
    record = CallRecorder(call_id="c3", caller="", flow="f", started=0.0)
    record.action(Play("p1", ("sound:main",)), 0.0)
    record.action(Play("p2", ("sound:no-input",)), 5.0)
    assert [t["prompt"] for t in record.finish(None, 6.0, ended="hung up")["turns"]] == [["sound:main"], ["sound:no-input"]]


def test_with_recordings_kept_each_answer_names_its_own_file() -> None:
    record = CallRecorder(call_id="c4", caller="", flow="f", started=0.0, recording="c4")
    record.action(Play("p1", ("sound:main",)), 0.0)
    heard = _heard(("영업부", 0.9))
    record.event(Utterance(heard, speech_end_at=1.7), 2.0)
    judgement = Judgement(Verdict.ACCEPT, "sales", 96.0, Match("sales", 100.0, "영업부", None, 0.0), "영업부")
    record.action(Judged("main", heard, judgement, False), 2.0)
    assert record.utterances() == [("c4-1.wav", 0.2, 1.7)]
    assert record.finish(None, 3.0, ended="routed")["turns"][0]["answers"][0]["recording"] == "c4-1.wav"
