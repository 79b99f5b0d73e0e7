"""A local real Asterisk 22 for the demo and the tests.

`Sandbox(name).up()` builds (once) a Debian sid rootfs with Asterisk, starts a named instance in it
under chroot and returns how to reach its ARI; `CallLab` places test calls and watches what
happens to them, on the sandbox or on any `CallTarget` (`AriTarget`: another Asterisk on this
machine); `sip_call` (`ivr.sandbox.sip_caller`) places real SIP calls into the sandbox with
SIPp, and `sip_channel` finds one among a `CallLab`'s calls; `synthesize` renders a spoken prompt
or caller utterance into the shared sounds directory. `ivr.sandbox.dialing` (`speech-ivr call`)
is not imported here: only that command needs it.
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
from .sip_caller import (
    DtmfKeys,
    Pcm,
    SipCaller,
    SipCallError,
    SipCallResult,
    caller_number,
    caller_pcap,
    sip_call,
    sip_channel,
)
from .speech import synthesize

__all__ = [
    "AriTarget",
    "Arrival",
    "CallLab",
    "CallTarget",
    "DtmfKeys",
    "ObservedEvent",
    "Pcm",
    "PlacedCall",
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "SipCallError",
    "SipCallResult",
    "SipCaller",
    "caller_number",
    "caller_pcap",
    "default_cache_dir",
    "ensure_rootfs",
    "parse_timestamp",
    "sip_call",
    "sip_channel",
    "synthesize",
]
