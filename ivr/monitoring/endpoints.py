"""The monitoring HTTP server: ``/metrics``, ``/healthz`` and ``/readyz``, on loopback by default,
and the live monitor's page under ``/monitor/`` (``ivr.monitoring.live``).

Nothing here carries a secret: metrics are counts and times, readiness says which of its
conditions fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ivr.monitoring.live import LiveMonitor, monitor_routes
from ivr.monitoring.metrics import Metrics


class MonitoringUnavailable(OSError):
    """The monitoring server cannot listen where the settings say (``monitor_listen``)."""


@dataclass(frozen=True)
class Readiness:
    ari_connected: bool
    models_loaded: bool
    flows_valid: bool

    @property
    def ready(self) -> bool:
        return self.ari_connected and self.models_loaded and self.flows_valid


class MonitoringServer:
    """Serves the endpoints until closed; ``url`` once started (port 0 picks a free one)."""

    def __init__(
        self,
        metrics: Metrics,
        readiness: Callable[[], Readiness],
        host: str,
        port: int,
        *,
        live: LiveMonitor | None = None,
        token: str | None = None,
        record_dir: Path | None = None,
    ) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._host, self._port = host, port
        self._live, self._token, self._record_dir = live, token, record_dir
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        app.router.add_get("/readyz", self._serve_readiness)
        if self._live is not None:
            monitor_routes(app, self._live, token=self._token, record_dir=self._record_dir)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = site._server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
        self.url = f"http://{host}:{port}/"

    async def close(self) -> None:
        if self._live is not None:
            self._live.close()  # the pages' event streams end, or cleanup would wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve_metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve_health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _serve_readiness(self, _: web.Request) -> web.Response:
        state = self._readiness()
        body = json.dumps({"ready": state.ready, "ari_connected": state.ari_connected, "models_loaded": state.models_loaded, "flows_valid": state.flows_valid})
        return web.Response(text=body + "\n", status=200 if state.ready else 503, content_type="application/json")
