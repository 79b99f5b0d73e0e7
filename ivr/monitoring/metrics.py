"""The app's Prometheus metrics (prometheus-client), fed from call records and the app's state.

Each app has its own registry, so that several apps in one process (the tests) do not share
counts. The real-time factor of the recognizer is the ratio of two counters:
``rate(ivr_recognizer_decode_seconds_total[5m]) / rate(ivr_recognizer_audio_seconds_total[5m])``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
BACKLOG_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.calls = Counter("ivr_calls", "Calls that left the app, by flow and result (IVR_RESULT; hung-up or error when the call did not reach its destination)", ["flow", "result"], registry=registry)
        self.turned_away = Counter("ivr_calls_turned_away", "Calls sent on without a dialog: unknown flow, shutting down", ["reason"], registry=registry)
        self.active = Gauge("ivr_active_calls", "Calls in the app now", registry=registry)
        self.decision = Histogram("ivr_decision_seconds", "From the end of the caller's speech to the verdict on it", buckets=LATENCY_BUCKETS, registry=registry)
        self.to_destination = Histogram("ivr_speech_end_to_destination_seconds", "From the end of the caller's last speech to the call leaving for its destination", buckets=LATENCY_BUCKETS, registry=registry)
        self.decode_seconds = Counter("ivr_recognizer_decode_seconds", "Time the recognizer spent decoding", registry=registry)
        self.audio_seconds = Counter("ivr_recognizer_audio_seconds", "Seconds of audio the recognizer decoded", registry=registry)
        self.backlog = Gauge("ivr_decode_backlog_seconds", "Audio received but not yet decoded, for the call furthest behind", registry=registry)
        self.worst_backlog = Histogram("ivr_call_worst_backlog_seconds", "The longest the recognizer was behind a call's audio, per call heard", buckets=BACKLOG_BUCKETS, registry=registry)
        self.tap_failures = Counter("ivr_tap_failures", "Calls whose audio could not be heard, by transport", ["transport"], registry=registry)
        self.claims = Counter("ivr_broadcast_claims", "Calls StasisBroadcast offered, by outcome: won (claimed), lost (another app was first, or the call was gone), declined (no room, or shutting down)", ["outcome"], registry=registry)
        self.reconnects = Counter("ivr_ari_reconnects", "Connections to ARI made again after one was lost or failed", registry=registry)
        self.tasks = Gauge("ivr_asyncio_tasks", "asyncio tasks of the app's event loop (a leak grows it)", registry=registry)
        self.tasks.set_function(_task_count)

    def watch_backlog(self, backlogs: Callable[[], list[float]]) -> None:
        """Read the calls' decoder backlogs whenever the metrics are scraped."""
        self.backlog.set_function(lambda: max(backlogs(), default=0.0))

    def observe_call(self, record: Mapping[str, Any], *, transport: str, decode_seconds: float, audio_seconds: float) -> None:
        """Count a finished call from its record (``ivr.runtime.call_record``)."""
        # A call that did not reach its destination counts by how it ended (hung-up, error),
        # even when the dialog had decided where to send it.
        routed = record["ended"] == "routed"
        result = (record["result"] or "none") if routed else record["ended"].replace(" ", "-")
        self.calls.labels(flow=record["flow"], result=result).inc()
        for turn in record["turns"]:
            for answer in turn["answers"]:
                if answer["speech_end"] is not None and answer["decision"] is not None:
                    self.decision.observe(max(0.0, answer["decision"] - answer["speech_end"]))
        if routed and record["speech_end_to_destination"] is not None:
            self.to_destination.observe(max(0.0, record["speech_end_to_destination"]))
        if record.get("audio") is not None:
            self.worst_backlog.observe(record["audio"]["worst_backlog"])
        if any(problem.startswith("cannot hear the caller") for problem in record["problems"]):
            self.tap_failures.labels(transport=transport).inc()
        self.decode_seconds.inc(decode_seconds)
        self.audio_seconds.inc(audio_seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def _task_count() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # scraped from outside the loop (a test's direct call)
        return 0
