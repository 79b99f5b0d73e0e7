"""How many calls this app hears at once: a recognizer each, and the machine has so many cores.

Beyond the ceiling a call is not left waiting for a recognizer: its menu goes on with keys
only (or, when an overload destination is set, the call goes there at once). Pure: the app
asks ``admit`` as a call arrives and calls ``release`` when it ends.
"""

from __future__ import annotations


class Admission:
    def __init__(self, limit: int | None) -> None:
        """``limit``: calls heard at once; None: no ceiling."""
        self.limit = limit
        self.heard = 0
        """Calls being heard now."""
        self.refused = 0
        """Calls that arrived at the ceiling, since the start."""

    def admit(self) -> bool:
        """May one more call be heard? If so it counts until ``release``."""
        if self.limit is not None and self.heard >= self.limit:
            self.refused += 1
            return False
        self.heard += 1
        return True

    def release(self) -> None:
        """A call that was admitted has ended."""
        self.heard = max(0, self.heard - 1)
