"""What every tap does with bad input on its socket: drop it, count it, say so once.

A tap's socket can carry garbage (a port scanner, a misconfigured peer, a bug), data out of
step, or far more than a call's real-time audio. None of that may crash the app, grow a
call's memory without end, or flood the log. So each tap has a ``TapGuard``:

- ``drop(cause, example)`` counts a dropped packet, frame or connection (``notice`` one
  that is odd but used all the same). The first of each cause is logged at once, one line
  naming the call, the transport and the cause with the first offender as an example; later
  ones are only counted, and ``report()`` logs the totals in one line when the tap closes.
  (What breaks the stream for good is no drop: the transport raises ``TapError``, and the
  session logs it once, with the call's name.)
- ``admit(pcm)`` passes audio on unless it cannot be audio (an odd number of bytes would
  shift every later sample by a byte) or it comes faster than real time can explain:
  beyond a burst of ``BURST_SECONDS`` (what piles up while the event loop was busy), at most
  ``MAX_SPEED`` times real time is heard. A flood costs a call its own audio, never the
  other calls their share of the event loop.

``Backlog`` holds what a socket delivered until the tap's reader takes it, up to
``BACKLOG_BYTES``: beyond that, new data is dropped (and counted by the caller).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable

from ivr.audio import SAMPLE_RATE, SAMPLE_WIDTH

log = logging.getLogger(__name__)

BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
BURST_SECONDS = 10.0
"""Audio accepted at once beyond the real-time rate: a stalled loop catching up."""
MAX_SPEED = 2.0
"""How much faster than real time a tap's audio may come in the long run."""
BACKLOG_BYTES = 10 * BYTES_PER_SECOND
"""10 s of audio: what may wait between a socket and the tap's reader (the hearing core keeps
what it sends the recognizer is bounded by an utterance's ``max_speech``)."""
EXAMPLE_CHARS = 120
"""How much of an offender a log line quotes."""


class TapGuard:
    """One tap's counts of what it dropped, and its audio budget (see the module docstring)."""

    def __init__(
        self, transport: str, call: str | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.transport = transport
        self.call = call
        """Who the tap is for, in log lines: the caller's channel id."""
        self.tap: str | None = None
        """The tap channel's id, named in log lines when the call is not known."""
        self.dropped: Counter[str] = Counter()
        self.noticed: Counter[str] = Counter()
        self._clock = clock
        self._budget = BURST_SECONDS * BYTES_PER_SECOND
        self._refilled = clock()
        self._reported = False

    @property
    def label(self) -> str:
        if self.call:
            return f"call {self.call}"
        return f"tap {self.tap}" if self.tap else "a tap"

    def drop(self, cause: str, example: object = None) -> None:
        """Count one dropped item; the first of its cause is logged at once."""
        self.dropped[cause] += 1
        if self.dropped[cause] == 1:
            shown = "" if example is None else f" ({_clip(example)})"
            log.warning(
                "%s: %s tap: dropped %s%s; more are counted until the tap closes",
                self.label, self.transport, cause, shown,
            )

    def notice(self, cause: str, example: object = None) -> None:
        """Count one odd item that is used all the same; the first of its cause is logged."""
        self.noticed[cause] += 1
        if self.noticed[cause] == 1:
            shown = "" if example is None else f" ({_clip(example)})"
            log.warning(
                "%s: %s tap: %s%s, used all the same; more are counted until the tap closes",
                self.label, self.transport, cause, shown,
            )

    def admit(self, pcm: bytes) -> bool:
        """Is this audio to be heard? Drops (and counts) what cannot be audio or comes too fast."""
        if len(pcm) % SAMPLE_WIDTH:
            self.drop("audio of an odd length", f"{len(pcm)} bytes")
            return False
        now = self._clock()
        ceiling = BURST_SECONDS * BYTES_PER_SECOND
        self._budget = min(ceiling, self._budget + (now - self._refilled) * MAX_SPEED * BYTES_PER_SECOND)
        self._refilled = now
        if len(pcm) > self._budget:
            self.drop("audio arriving faster than real time", f"{len(pcm)} bytes")
            return False
        self._budget -= len(pcm)
        return True

    def report(self) -> None:
        """Log the totals of what was dropped, once, when the tap closes."""
        if self._reported or not (self.dropped or self.noticed):
            return
        self._reported = True
        parts = []
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{n} {cause}" for cause, n in self.dropped.most_common()))
        if self.noticed:
            parts.append("used " + ", ".join(f"{n} {cause}" for cause, n in self.noticed.most_common()))
        log.warning("%s: %s tap closed; it %s", self.label, self.transport, "; ".join(parts))


class Backlog:
    """Data waiting for a tap's reader, bounded in bytes; ``get()`` returns None once closed
    and empty."""

    def __init__(self, limit: int = BACKLOG_BYTES) -> None:
        self.limit = limit
        self._items: deque[bytes] = deque()
        self._size = 0
        self._closed = False
        self._ready = asyncio.Event()

    @property
    def size(self) -> int:
        return self._size

    def put(self, data: bytes) -> bool:
        """Queue ``data``; False (nothing queued) when it does not fit or the backlog is closed."""
        if self._closed or self._size + len(data) > self.limit:
            return False
        self._items.append(data)
        self._size += len(data)
        self._ready.set()
        return True

    def close(self) -> None:
        """No more data: ``get()`` returns what is queued, then None."""
        self._closed = True
        self._ready.set()

    async def get(self) -> bytes | None:
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        data = self._items.popleft()
        self._size -= len(data)
        return data


def _clip(example: object) -> str:
    """An offender as one short line: control characters escaped, so nothing a peer sends
    can forge log lines."""
    if isinstance(example, (bytes, bytearray)):
        text = ascii(bytes(example[:EXAMPLE_CHARS]))
    else:
        text = str(example)[:EXAMPLE_CHARS]
        text = repr(text)[1:-1] if not text.isprintable() else text
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 3] + "..."
