"""Free ports on 127.0.0.1, for the sandbox's HTTP and SIP ports and for SIPp's."""

from __future__ import annotations

import errno
import socket


def port_is_free(port: int, *, udp: bool = False) -> bool:
    """Can ``port`` (TCP, or UDP) be bound on 127.0.0.1 now? Errors other than "in use" raise."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        if not udp:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port(*, udp: bool = False) -> int:
    """A port (TCP, or UDP) the system had free on 127.0.0.1 a moment ago."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
