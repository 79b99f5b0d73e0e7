"""Helpers for the hostile-input tests of the taps: log lines and reading with a deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

GUARD_LOGGER = "ivr.media.guard"


def warnings(caplog: pytest.LogCaptureFixture, logger: str = GUARD_LOGGER) -> list[str]:
    """The warning lines (and worse) one logger wrote, oldest first."""
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= logging.WARNING]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]


async def read_for(stream: AsyncIterator[bytes], seconds: float) -> list[bytes]:
    """Whatever the stream yields within ``seconds`` (it may stay open)."""
    got: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            got.append(await asyncio.wait_for(anext(stream), left))
        except (TimeoutError, StopAsyncIteration):
            break
    return got


async def read_until(stream: AsyncIterator[bytes], wanted: bytes, seconds: float = 5.0) -> list[bytes]:
    """Read until a chunk equal to ``wanted`` arrives (returns everything read, it included)."""
    got: list[bytes] = []
    async with asyncio.timeout(seconds):
        while not got or got[-1] != wanted:
            got.append(await anext(stream))
    return got
