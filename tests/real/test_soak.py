"""A short soak in CI: 100 calls, 20 at a time, through `speech-ivr run`; nothing grows
(marked `real`). `python bench/soak.py` is the long one (1000 calls)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ivr.sandbox import SandboxInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from soak import soak  # noqa: E402

pytestmark = pytest.mark.real


async def test_a_hundred_calls_leave_nothing_behind(sandbox: SandboxInfo) -> None:
    result = await soak(sandbox, calls=100, concurrency=20)
    print(result.table())
    assert result.routed_right == result.calls
    assert (result.end.channels, result.end.bridges) == (result.start.channels, result.start.bridges) == (0, 0)
    assert result.end.tasks <= result.start.tasks + 2
    assert result.end.fds <= result.start.fds + 5
    assert result.end.rss_mb < result.start.rss_mb + 60  # a few MB of arenas and caches, not per call
