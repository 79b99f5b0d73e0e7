"""How many calls this app hears at once: a recognizer each, and the machine has so many cores.

Beyond the ceiling a call is not left waiting for a recognizer: its menu goes on with keys
only (or, when an overload destination is set, the call goes there at once). Pure: the app
asks ``admit`` as a call arrives and calls ``release`` when it ends.

A worker behind StasisBroadcast asks ``reserve`` before it claims a call it was offered: it
claims only while it has a free place (counting the claims still on their way) and is not
shutting down, so a full worker never takes a call it would keep waiting; the broadcast
times out and the dialplan's fallback takes the call when every worker is full.
"""

from __future__ import annotations

CLAIM_DELAY_PER_CALL = 0.005
CLAIM_DELAY_CAP = 0.1
"""A worker waits this long per call it hears (at most the cap) before claiming an offered
call: of several workers with room, the least loaded usually claims first. Both are far
below the broadcast's timeout (2 s in the shipped dialplan)."""


class Admission:
    def __init__(self, limit: int | None) -> None:
        """``limit``: calls heard at once; None: no ceiling."""
        self.limit = limit
        self.heard = 0
        """Calls being heard now."""
        self.reserved = 0
        """Places kept for claims of offered calls whose StasisStart has not come yet."""
        self.refused = 0
        """Calls that arrived at the ceiling, since the start."""
        self.closing = False
        """Set when the app shuts down: it claims no more calls, and new ones are sent on at once."""

    def has_room(self) -> bool:
        """Should this app claim an offered call now? Only while one more can be heard and
        it is not shutting down."""
        return not self.closing and (self.limit is None or self.heard + self.reserved < self.limit)

    def reserve(self) -> bool:
        """Keep a place for a call about to be claimed, if there is room (``has_room``), until
        ``unreserve``: when its StasisStart comes (then ``admit``) or the claim is lost."""
        if not self.has_room():
            return False
        self.reserved += 1
        return True

    def unreserve(self) -> None:
        """Give a reserved place back."""
        self.reserved = max(0, self.reserved - 1)

    def claim_delay(self) -> float:
        """Seconds to wait before claiming, growing with the load (``CLAIM_DELAY_PER_CALL``)."""
        return min(CLAIM_DELAY_CAP, (self.heard + self.reserved) * CLAIM_DELAY_PER_CALL)

    def admit(self) -> bool:
        """May one more call be heard? If so it counts until ``release``. (A claimed call's
        place is given back with ``unreserve`` just before, so it is there to take.)"""
        if self.limit is not None and self.heard + self.reserved >= self.limit:
            self.refused += 1
            return False
        self.heard += 1
        return True

    def release(self) -> None:
        """A call that was admitted has ended."""
        self.heard = max(0, self.heard - 1)
