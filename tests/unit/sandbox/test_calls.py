"""ivr.sandbox.calls: ARI timestamps and the arrival a destination reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.sandbox import Arrival, parse_timestamp


def test_parse_timestamp_gives_epoch_seconds() -> None:
    expected = datetime(2026, 11, 24, 22, 8, 6, 537000, tzinfo=UTC).timestamp()
    assert parse_timestamp("2026-11-24T22:08:06.537+0000") == pytest.approx(expected)
    assert parse_timestamp("2026-11-24T23:08:06.537+0100") == pytest.approx(expected)


def test_arrival_from_a_real_userevent() -> None:
    event = {
        "type": "ChannelUserevent",
        "timestamp": "2026-11-26T12:02:08.131+0000",
        "eventname": "IvrArrived",
        "userevent": {
            "eventname": "IvrArrived",
            "Context": "ivr-dest",
            "Exten": "sales-team",
            "Intent": "sales",
            "Confidence": "0.93",
            "Transcript": "영업 부서",
            "Flow": "",
            "Result": "matched",
        },
        "channel": {"id": "lab-89b4808b9874-ivr"},
    }
    assert Arrival.from_event(event) == Arrival(
        context="ivr-dest",
        extension="sales-team",
        variables={
            "Intent": "sales",
            "Confidence": "0.93",
            "Transcript": "영업 부서",
            "Flow": "",
            "Result": "matched",
        },
        at=parse_timestamp("2026-11-26T12:02:08.131+0000"),
    )
