"""Sending the calls of a worker that died to their fallback at once, and deleting its taps.

A worker that dies mid-call leaves its callers in Stasis under its app name, in silence,
until they hang up: Asterisk keeps the channels in the app (and lists them under it,
``GET /applications/APP``) while no one is connected for it. Any ARI client may continue
a channel in Stasis: without a destination it goes on at the dialplan's next priority,
after the ``StasisBroadcast()`` that handed it over, which is the fallback. A prompt still
playing is stopped first (the channel's ``IVR_PROMPT`` names it): inside Asterisk the
continue would wait until the prompt's end. ``speech-ivr
run --workers`` does this the moment a worker's process ends (measured: the callers reach
the fallback within milliseconds); the worker's own reconcile, once it is back, would
otherwise take them again, seconds later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from ivr.settings import Settings
from ivr.telephony.ari import auth_headers
from ivr.telephony.call import PROMPT_VARIABLE
from ivr.telephony.router import is_own_id, owned_by

REQUEST_TIMEOUT = 10.0
GONE = frozenset({404, 409})
"""404: the channel or bridge is gone; 409: the channel is no longer in Stasis."""


@dataclass(frozen=True)
class Rescue:
    """What is done about a dead worker's calls: callers continued, own channels hung up,
    own bridges destroyed (ids)."""

    callers: tuple[str, ...]
    channels: tuple[str, ...]
    bridges: tuple[str, ...]

    def __str__(self) -> str:
        return f"{len(self.callers)} calls sent to their fallback, {len(self.channels)} taps and {len(self.bridges)} bridges deleted"


def rescue_plan(app: str, in_app: Iterable[str], channels: Iterable[str], bridges: Iterable[str]) -> Rescue:
    """``in_app``: the channels Asterisk lists under the dead worker's app; ``channels`` and
    ``bridges``: every one Asterisk has. Its callers are what is in the app and was made by
    no speech-ivr app; its taps and bridges are recognized by their ids (``owned_by``)."""
    return Rescue(
        callers=tuple(c for c in in_app if not is_own_id(c)),
        channels=tuple(c for c in channels if owned_by(c, app)),
        bridges=tuple(b for b in bridges if owned_by(b, app)),
    )


async def rescue(settings: Settings, app: str) -> Rescue:
    """Send the callers the ARI app ``app`` left in Stasis to their fallback (callers first,
    together: they are waiting), then delete its taps and bridges."""
    base = f"{settings.ari_url.rstrip('/')}/ari/"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(base, headers=auth_headers(settings), timeout=timeout) as http:

        async def listed(path: str) -> list[dict[str, object]]:
            async with http.get(path) as response:
                if response.status == 404:
                    return []
                response.raise_for_status()
                found = await response.json()
                return found if isinstance(found, list) else [found]

        async def request(method: str, path: str) -> None:
            async with http.request(method, path) as response:
                if response.status not in GONE:
                    response.raise_for_status()

        (application,) = await listed(f"applications/{app}") or [{}]
        channels, bridges = await asyncio.gather(listed("channels"), listed("bridges"))
        plan = rescue_plan(
            app,
            [str(c) for c in application.get("channel_ids", [])],  # type: ignore[attr-defined]
            [str(c["id"]) for c in channels],
            [str(b["id"]) for b in bridges],
        )
        async def send_on(caller: str) -> None:
            async with http.get(f"channels/{caller}/variable", params={"variable": PROMPT_VARIABLE}) as response:
                prompt = (await response.json()).get("value") if response.status == 200 else None
            if prompt:  # the continue would wait behind it
                await request("DELETE", f"playbacks/{prompt}")
            await request("POST", f"channels/{caller}/continue")

        await asyncio.gather(*(send_on(c) for c in plan.callers))
        await asyncio.gather(
            *(request("DELETE", f"channels/{c}") for c in plan.channels),
            *(request("DELETE", f"bridges/{b}") for b in plan.bridges),
        )
    return plan
