"""What the live monitor shows: the calls in progress, the recent calls and their tallies. No I/O.

The calls' sessions tell the board what happens (a call came in, its menu, the words heard so
far, a verdict, its record at the end), each with the time (epoch seconds); every change
returns the messages to push to the pages watching (``ivr.monitoring.live`` sends them as
server-sent events), and ``snapshot`` is all of it for a page that just opened; the tallies,
counted afresh from all the recent calls, are for the shell to send when it sees fit
(``tallies``: at most once a second, at rush hour). The recent
calls are the last ``RECENT_CALLS`` call records, in memory; the tallies are counted over
them: per intent, per route of each flow, decisions per minute by result, the latency from the
end of speech to the destination, and the admin's to-do list for the grammars: the
transcripts heard most often without a match (words that named no intent, or an intent the
menu has no route for), or rejected (an intent, but too doubtful to take).
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ivr.flow.graph import mermaid
from ivr.flow.model import Flow

RECENT_CALLS = 300
MINUTES = 30
"""Minutes of decisions per minute kept for the plot."""
TODO_ITEMS = 20
LATENCY_EDGES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
"""Upper bounds (seconds) of the latency histogram's bins; one more bin holds the rest."""

Message = dict[str, Any]


@dataclass
class _Active:
    call_id: str
    caller: str
    flow: str
    started: float
    menu: str | None = None
    partial: str = ""
    judgement: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CallBoard:
    """The monitor's state (see the module docstring); ``recording_url`` turns a recording's
    file name into the link the page shows (None: recordings are not served)."""

    flows: Callable[[], Mapping[str, Flow]] = dict
    """The flows loaded now, by name (they change with a reload)."""
    recording_url: Callable[[str], str] | None = None
    _active: dict[str, _Active] = field(default_factory=dict)
    _recent: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_CALLS)
    )

    # -- what the sessions report ------------------------------------------------------------

    def call_started(self, call_id: str, *, caller: str, flow: str, now: float) -> list[Message]:
        active = self._active[call_id] = _Active(call_id, caller, flow, now)
        return [{"type": "call", "call": active.as_json()}]

    def menu(self, call_id: str, menu: str) -> list[Message]:
        active = self._active.get(call_id)
        if active is None or active.menu == menu:
            return []
        active.menu, active.partial, active.judgement = menu, "", None
        return [{"type": "call", "call": active.as_json()}]

    def partial(self, call_id: str, words: str) -> list[Message]:
        """The words heard so far of the answer under way (a partial result)."""
        active = self._active.get(call_id)
        if active is None or active.partial == words:
            return []
        active.partial = words
        return [{"type": "call", "call": active.as_json()}]

    def judged(
        self, call_id: str, *, menu: str, transcript: str, verdict: str, intent: str | None, score: float
    ) -> list[Message]:
        active = self._active.get(call_id)
        if active is None:
            return []
        active.menu, active.partial = menu, transcript
        active.judgement = {"verdict": verdict, "intent": intent, "score": round(score, 1)}
        return [{"type": "call", "call": active.as_json()}]

    def call_ended(self, call_id: str, record: Mapping[str, Any], *, now: float) -> list[Message]:
        """The call's record (``ivr.runtime.call_record``) as it left."""
        self._active.pop(call_id, None)
        entry = {**record, "ended_at": now}
        if self.recording_url is not None:
            entry["links"] = {
                answer["recording"]: self.recording_url(answer["recording"])
                for answer in _answers(record)
                if answer.get("recording")
            }
        self._recent.append(entry)
        return [{"type": "ended", "call_id": call_id, "record": entry}]

    # -- what the pages read ---------------------------------------------------------------------

    def snapshot(self, now: float) -> Message:
        return {
            "type": "snapshot",
            "now": now,
            "active": [active.as_json() for active in self._active.values()],
            "recent": list(self._recent),
            "tallies": self.tallies(now),
        }

    def tallies_message(self, now: float) -> Message:
        return {"type": "tallies", "tallies": self.tallies(now)}

    def tallies(self, now: float) -> dict[str, Any]:
        return {
            "intents": self._intents(),
            "todo": self._todo(),
            "flows": self._flows(),
            "minutes": self._minutes(now),
            "latency": self._latency(),
        }

    def _intents(self) -> dict[str, dict[str, int]]:
        """Calls that left for each intent, per flow."""
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for record in self._recent:
            if record.get("intent"):
                counts[record.get("flow", "")][record["intent"]] += 1
        return {flow: dict(counter.most_common()) for flow, counter in sorted(counts.items())}

    def _todo(self) -> list[dict[str, Any]]:
        """The transcripts most often heard without a match or rejected, with the latest
        recording of each."""
        seen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        flows = self.flows()
        for record in self._recent:
            flow = flows.get(record.get("flow", ""))
            for answer in _answers(record):
                transcript = answer.get("transcript") or ""
                kind = _todo_kind(answer, flow)
                if kind is None or not transcript:
                    continue
                key = (record.get("flow", ""), answer.get("menu") or "", kind, transcript)
                item = seen.setdefault(
                    key,
                    {"flow": key[0], "menu": key[1], "kind": kind, "transcript": transcript, "count": 0, "recording": None},
                )
                item["count"] += 1
                link = (record.get("links") or {}).get(answer.get("recording"))
                if link is not None:
                    item["recording"] = link
        ranked = sorted(seen.values(), key=lambda item: -item["count"])
        return ranked[:TODO_ITEMS]

    def _flows(self) -> list[dict[str, Any]]:
        """Each loaded flow's graph, its routes labelled with how many calls took them."""
        counts: dict[str, collections.Counter[tuple[str, str]]] = collections.defaultdict(collections.Counter)
        for record in self._recent:
            flow = counts[record.get("flow", "")]
            for answer in _answers(record):
                if answer.get("verdict") == "accept" and answer.get("intent") and answer.get("menu"):
                    flow[answer["menu"], answer["intent"]] += 1
            if record.get("result") == "dtmf" and record.get("intent") and record.get("menu"):
                flow[record["menu"], record["intent"]] += 1
        return [
            {"name": name, "mermaid": mermaid(flow, counts.get(name, collections.Counter()))}
            for name, flow in sorted(self.flows().items())
        ]

    def _minutes(self, now: float) -> list[dict[str, Any]]:
        """Calls that left per minute by result, the last ``MINUTES`` minutes (oldest first)."""
        last = int(now // 60)
        minutes = {minute: collections.Counter[str]() for minute in range(last - MINUTES + 1, last + 1)}
        for record in self._recent:
            minute = minutes.get(int(record["ended_at"] // 60))
            if minute is not None:
                minute[record.get("result") or "none"] += 1
        return [{"minute": minute * 60, "results": dict(counter)} for minute, counter in minutes.items()]

    def _latency(self) -> dict[str, Any]:
        counts = [0] * (len(LATENCY_EDGES) + 1)
        for record in self._recent:
            latency = record.get("speech_end_to_destination")
            if latency is not None:
                counts[bisect.bisect_left(LATENCY_EDGES, latency)] += 1
        return {"edges": list(LATENCY_EDGES), "counts": counts}


def _answers(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [answer for turn in record.get("turns") or [] for answer in turn.get("answers") or []]


def _todo_kind(answer: Mapping[str, Any], flow: Flow | None) -> str | None:
    """``no-match``: words that named no intent, or one the menu has no route for;
    ``rejected``: an intent too doubtful to take; None: an answer taken (or not an answer)."""
    verdict, intent = answer.get("verdict"), answer.get("intent")
    if verdict == "reject":
        return "rejected" if (answer.get("match") or {}).get("intent") else "no-match"
    if verdict in ("accept", "confirm") and intent and flow is not None and not answer.get("confirming"):
        menu = flow.menus.get(answer.get("menu") or "")
        if menu is not None and intent not in menu.routes:
            return "no-match"
    return None
