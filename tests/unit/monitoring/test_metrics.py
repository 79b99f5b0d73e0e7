"""Metrics from call records, and the monitoring server over real HTTP."""

from __future__ import annotations

import aiohttp

from ivr.monitoring.endpoints import MonitoringServer, Readiness
from ivr.monitoring.metrics import Metrics

RECORD = {
    "ended": "routed",
    "flow": "switchboard-ko",
    "result": "matched",
    "turns": [{"answers": [{"speech_end": 1.6, "decision": 2.2}]}],
    "speech_end_to_destination": 0.62,
    "problems": [],
}


def test_a_call_record_is_counted() -> None:
    metrics = Metrics()
    metrics.observe_call(RECORD, transport="websocket", decode_seconds=0.05, audio_seconds=1.0)
    metrics.observe_call(RECORD | {"result": "error", "problems": ["cannot hear the caller: x"]}, transport="rtp", decode_seconds=0, audio_seconds=0)
    metrics.observe_call(RECORD | {"ended": "hung up"}, transport="rtp", decode_seconds=0, audio_seconds=0)
    text = metrics.exposition().decode()
    assert 'ivr_calls_total{flow="switchboard-ko",result="matched"} 1.0' in text
    assert 'ivr_calls_total{flow="switchboard-ko",result="error"} 1.0' in text
    assert 'ivr_tap_failures_total{transport="rtp"} 1.0' in text
    assert 'ivr_calls_total{flow="switchboard-ko",result="hung-up"} 1.0' in text
    assert "ivr_decision_seconds_count 3.0" in text
    assert 'ivr_speech_end_to_destination_seconds_bucket{le="0.7"} 2.0' in text
    assert "ivr_recognizer_decode_seconds_total 0.05" in text


async def test_the_monitoring_server_serves_metrics_health_and_readiness() -> None:
    metrics = Metrics()
    metrics.observe_call(RECORD, transport="websocket", decode_seconds=0.0, audio_seconds=0.0)
    state = {"ready": Readiness(ari_connected=False, models_loaded=True, flows_valid=True)}
    server = MonitoringServer(metrics, lambda: state["ready"], "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}metrics") as response:
                assert response.status == 200
                assert 'ivr_calls_total{flow="switchboard-ko",result="matched"} 1.0' in await response.text()
            async with http.get(f"{server.url}healthz") as response:
                assert response.status == 200
            async with http.get(f"{server.url}readyz") as response:
                assert response.status == 503 and (await response.json())["ari_connected"] is False
            state["ready"] = Readiness(ari_connected=True, models_loaded=True, flows_valid=True)
            async with http.get(f"{server.url}readyz") as response:
                assert response.status == 200
    finally:
        await server.close()
