"""The live monitor's web side: its token, its event stream, its recordings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.monitoring.board import CallBoard
from ivr.monitoring.live import LiveMonitor, monitor_routes

TOKEN = "s3cret-t0ken"


async def client_for(monitor: LiveMonitor, token: str | None, record_dir: Path | None) -> TestClient:
    app = web.Application()
    monitor_routes(app, monitor, token=token, record_dir=record_dir)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[TestClient]:
    (tmp_path / "c1-1.wav").write_bytes(b"RIFF")
    client = await client_for(LiveMonitor(CallBoard()), TOKEN, tmp_path)
    yield client
    await client.close()


@pytest.mark.parametrize("path", ["/monitor/", "/monitor/state", "/monitor/events", "/monitor/static/monitor.js", "/monitor/recordings/c1-1.wav"])
async def test_without_the_token_every_monitor_request_is_refused(guarded: TestClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await guarded.get(path, headers=headers)
        assert response.status == 401, (path, headers)
        assert TOKEN not in await response.text()


async def test_the_token_opens_it_once_and_the_page_never_holds_it(guarded: TestClient) -> None:
    assert (await guarded.get("/monitor/state", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    page = await guarded.get("/monitor/", params={"token": TOKEN})
    assert page.status == 200 and TOKEN not in await page.text()
    cookie = page.cookies["speech_ivr_monitor"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    # The browser's own requests from then on carry the cookie, not the token.
    assert (await guarded.get("/monitor/state")).status == 200
    assert (await guarded.get("/monitor/recordings/c1-1.wav")).status == 200


async def test_only_recordings_by_plain_file_name_are_served(guarded: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("..%2Fsecret.wav", "c1-1.txt", "missing.wav"):
        assert (await guarded.get(f"/monitor/recordings/{name}", headers=headers)).status == 404


async def test_the_event_stream_starts_with_a_snapshot_then_each_change() -> None:
    monitor = LiveMonitor(CallBoard(), clock=lambda: 1_800_000_000.0)
    client = await client_for(monitor, None, None)
    try:
        response = await client.get("/monitor/events")
        assert response.headers["Content-Type"] == "text/event-stream"

        async def next_event() -> tuple[str, dict]:
            lines: dict[str, str] = {}
            while True:
                line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
                if not line:
                    return lines["event"], json.loads(lines["data"])
                key, _, value = line.partition(": ")
                lines[key] = value

        kind, snapshot = await next_event()
        assert kind == "snapshot" and snapshot["active"] == []
        monitor.call_started("c1", caller="1001", flow="switchboard")
        monitor.partial("c1", "영업")
        assert (await next_event())[1]["call"]["partial"] == ""
        assert (await next_event())[1]["call"]["partial"] == "영업"
        monitor.call_ended("c1", {"call_id": "c1", "flow": "switchboard", "result": "matched", "turns": []})
        kind, ended = await next_event()
        assert kind == "ended" and ended["record"]["call_id"] == "c1"
        kind, tallies = await next_event()  # soon after, at most once a second
        assert kind == "tallies" and "todo" in tallies["tallies"]
        monitor.close()  # the server shutting down ends the stream
        assert await asyncio.wait_for(response.content.read(), 5) == b""
    finally:
        await client.close()
