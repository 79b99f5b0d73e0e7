"""A lone frame of digital silence between frames of sound: dropped, it carries nothing.

Not the caller (a line carries noise; a muted or G.711-silent line carries more than 20 ms
of silence), not the line's noise either, and on a snoop tap, the tap's own fault: a snoop
sends a frame every 20 ms on its own timer, and when the caller's frame comes a moment after
the tick (the two clocks are not the same) it sends a frame of silence instead and the
caller's audio follows it, one frame late, intact. Measured on test calls: 8 % of calls one
at a time and 18 % four at a time had one such frame between sounds, and nothing lost.
Dropping every lone frame of silence, whatever the tap (and in the simulator), gives back
what the caller's channel read, and hears a recording the way a call heard it.
"""

from __future__ import annotations

from collections.abc import Iterator


class LoneSilenceFilter:
    """Feed it whole frames in order; it yields them, less each lone frame of digital silence
    between frames of sound. A frame of silence is held until the next frame says which it is."""

    def __init__(self) -> None:
        self._held: bytes | None = None  # a frame of silence right after sound
        self._after_sound = False
        self.dropped = 0
        """Lone frames of silence dropped."""

    def push(self, frame: bytes) -> Iterator[bytes]:
        silent = not any(frame)
        if self._held is not None:
            held, self._held = self._held, None
            if not silent:
                self.dropped += 1  # sound, one frame of silence, sound
                self._after_sound = True
                yield frame
                return
            yield held
        if silent and self._after_sound:
            self._held = frame
            self._after_sound = False
            return
        self._after_sound = not silent
        yield frame

    def flush(self) -> Iterator[bytes]:
        """What is still held, once the stream ends."""
        if self._held is not None:
            held, self._held = self._held, None
            yield held
