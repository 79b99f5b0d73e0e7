"""A local real Asterisk 22 for the demo and the tests.

`Sandbox(name).up()` builds (once) a Debian sid rootfs with Asterisk, starts a named instance in it
under chroot and returns how to reach its ARI; `CallLab` places test calls and watches what
happens to them, on the sandbox or on any `CallTarget` (`AriTarget`: another Asterisk on this
machine); `synthesize` renders a spoken prompt or caller utterance into the shared sounds
directory. `ivr.sandbox.dialing` (`speech-ivr call`) is not imported here: only that command
needs it.
"""

from .calls import (
    AriTarget,
    Arrival,
    CallLab,
    CallTarget,
    ObservedEvent,
    PlacedCall,
    parse_timestamp,
)
from .errors import SandboxError
from .instance import Sandbox, SandboxInfo
from .rootfs import default_cache_dir, ensure_rootfs
from .speech import synthesize

__all__ = [
    "AriTarget",
    "Arrival",
    "CallLab",
    "CallTarget",
    "ObservedEvent",
    "PlacedCall",
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "default_cache_dir",
    "ensure_rootfs",
    "parse_timestamp",
    "synthesize",
]
