"""The record of one call: what it was asked, what was heard, how it was judged, where it went.

A :class:`CallRecorder` is fed the call's events and the engine's actions with the time (the
call's clock), as the session sees them; it does no I/O. :meth:`CallRecorder.finish` gives
the record as a JSON-ready dict, which the session logs as one JSON line (``ivr.calls``) and
the metrics count. Times are seconds since the call entered the app, to the millisecond.

A *turn* is one question: a prompt played, and the answers (spoken or keyed) given to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.dialog.actions import Action, ContinueInDialplan, Judged, Play, SetVariables, StopPrompt
from ivr.dialog.engine import Outcome
from ivr.dialog.events import Event, KeyPressed, SpeechStarted, TapFailed, Utterance


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


@dataclass
class Answer:
    """One spoken answer and its verdict."""

    words: list[tuple[str, float]]
    speech_started: float | None
    speech_ended: float | None
    heard: float
    early: bool
    audio: tuple[float, float] | None = None
    """Where the answer's audio is in the caller's stream (seconds), for its recording."""
    recording: str | None = None
    menu: str | None = None
    verdict: str | None = None
    intent: str | None = None
    score: float | None = None
    matched: str | None = None
    match_score: float | None = None
    runner_up: str | None = None
    runner_up_score: float | None = None
    confirming: bool = False
    decided: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "menu": self.menu,
            "words": [{"word": w, "confidence": round(c, 3)} for w, c in self.words],
            "transcript": " ".join(w for w, _ in self.words),
            "verdict": self.verdict,
            "intent": self.intent,
            "score": None if self.score is None else round(self.score, 1),
            "match": {
                "intent": self.matched,
                "score": None if self.match_score is None else round(self.match_score, 1),
                "runner_up": self.runner_up,
                "runner_up_score": None if self.runner_up_score is None else round(self.runner_up_score, 1),
            },
            "confirming": self.confirming,
            "early_decision": self.early,
            "recording": self.recording,
            "speech_start": _ms(self.speech_started),
            "speech_end": _ms(self.speech_ended),
            "heard": _ms(self.heard),
            "decision": _ms(self.decided),
        }


@dataclass
class Turn:
    prompt: tuple[str, ...]
    prompt_started: float
    prompt_stopped: float | None = None
    answers: list[Answer] = field(default_factory=list)
    dtmf: str = ""

    def as_json(self) -> dict[str, Any]:
        menus = [answer.menu for answer in self.answers if answer.menu]
        return {
            "menu": menus[-1] if menus else None,
            "prompt": list(self.prompt),
            "prompt_start": _ms(self.prompt_started),
            "prompt_stopped": _ms(self.prompt_stopped),
            "dtmf": self.dtmf,
            "answers": [answer.as_json() for answer in self.answers],
        }


class CallRecorder:
    """Builds one call's record from what the session sees (pure: times are given)."""

    def __init__(
        self, *, call_id: str, caller: str, flow: str, started: float, recording: str | None = None
    ) -> None:
        """``recording``: the stem of the call's recordings, when they are kept: each answer's
        audio is then ``<stem>-<n>.wav`` (``utterances``)."""
        self.call_id = call_id
        self._recording = recording
        self._answers = 0
        self.caller = caller
        self.flow = flow
        self._started = started
        self._turns: list[Turn] = []
        self._speech_started: float | None = None
        self._unjudged: Answer | None = None
        self._variables: dict[str, str] = {}
        self._destination: dict[str, Any] | None = None
        self._left_at: float | None = None
        self._problems: list[str] = []
        self._audio: dict[str, Any] | None = None

    def event(self, event: Event, now: float) -> None:
        at = now - self._started
        match event:
            case SpeechStarted():
                self._speech_started = at
            case Utterance(heard, speech_end_at):
                self._unjudged = Answer(
                    words=heard.scored_words,
                    speech_started=self._speech_started,
                    speech_ended=None if speech_end_at is None else speech_end_at - self._started,
                    heard=at,
                    early=heard.early,
                    audio=(heard.audio_start, heard.ended) if heard.ended > heard.audio_start else None,
                )
                if self._recording is not None and self._unjudged.audio is not None:
                    self._answers += 1
                    self._unjudged.recording = f"{self._recording}-{self._answers}.wav"
                self._speech_started = None
            case KeyPressed(digit):
                self._turn(at).dtmf += digit
            case TapFailed(reason):
                self._problems.append(f"cannot hear the caller: {reason}")

    def action(self, action: Action, now: float) -> None:
        at = now - self._started
        match action:
            case Play(_, media):
                self._turns.append(Turn(media, at))
            case StopPrompt():
                turn = self._turn(at)
                if turn.prompt_stopped is None:
                    turn.prompt_stopped = at
            case Judged(menu, heard, judgement, confirming):
                answer = self._unjudged or Answer(heard.scored_words, None, None, at, heard.early)
                self._unjudged = None
                answer.menu, answer.confirming, answer.decided = menu, confirming, at
                answer.verdict, answer.intent = judgement.verdict.value, judgement.intent
                answer.score, answer.matched = judgement.score, judgement.match.intent
                answer.match_score = judgement.match.score
                answer.runner_up = judgement.match.runner_up
                answer.runner_up_score = judgement.match.runner_up_score
                self._turn(at).answers.append(answer)
            case SetVariables():
                self._variables |= action.as_dict()
            case ContinueInDialplan(destination):
                self._destination = {
                    "context": destination.context,
                    "extension": destination.extension,
                    "priority": destination.priority,
                }
                self._left_at = at

    def utterances(self) -> list[tuple[str, float, float]]:
        """Each recorded answer's file name and where its audio is in the stream."""
        return [
            (answer.recording, *answer.audio)
            for turn in self._turns
            for answer in turn.answers
            if answer.recording is not None and answer.audio is not None
        ]

    def audio(
        self, *, received: float, lone_silences: int, worst_backlog: float, decoded: float, decode_cpu: float
    ) -> None:
        """What the tap delivered to hearing, once it has closed: seconds of audio received,
        lone frames of silence taken out (a snoop's late frames), the furthest behind the
        stream the recognizer ever was (seconds), the seconds of audio it decoded and the CPU
        seconds its threads spent on them (what a call costs in decoding, whatever the load)."""
        self._audio = {
            "received": _ms(received),
            "lone_silences": lone_silences,
            "worst_backlog": _ms(worst_backlog),
            "decoded": _ms(decoded),
            "decode_cpu": _ms(decode_cpu),
        }

    def note(self, problem: str) -> None:
        """Something that went wrong for this call (an error, a rescue, a shutdown)."""
        self._problems.append(problem)

    def finish(self, outcome: Outcome | None, now: float, *, ended: str) -> dict[str, Any]:
        """The record: ``ended`` says how the call left (``routed``, ``hung up``, ``error``)."""
        last_speech = next(
            (
                answer.speech_ended
                for turn in reversed(self._turns)
                for answer in reversed(turn.answers)
                if answer.speech_ended is not None
            ),
            None,
        )
        to_destination = (
            None if self._left_at is None or last_speech is None else self._left_at - last_speech
        )
        return {
            "call_id": self.call_id,
            "caller": self.caller,
            "flow": self.flow,
            "ended": ended,
            "result": outcome.result.value if outcome else self._variables.get("IVR_RESULT"),
            "intent": outcome.intent if outcome else None,
            "transcript": outcome.transcript if outcome else "",
            "menu": outcome.menu if outcome else self._variables.get("IVR_MENU"),
            "destination": self._destination,
            "variables": self._variables,
            "turns": [turn.as_json() for turn in self._turns],
            "speech_end_to_destination": _ms(to_destination),
            "left": _ms(self._left_at),
            "duration": _ms(now - self._started),
            "audio": self._audio,
            "problems": self._problems,
        }

    def _turn(self, at: float) -> Turn:
        """The current turn; answers before any prompt get one of their own."""
        if not self._turns:
            self._turns.append(Turn((), at))
        return self._turns[-1]
