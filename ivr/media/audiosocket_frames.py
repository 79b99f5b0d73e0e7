"""AudioSocket framing (Asterisk's chan_audiosocket), decoded and encoded without I/O.

Every message is type-length-value: ``kind: u8 | length: u16 big-endian | payload``.
Verified on Asterisk 22.10.1: the first message is the call's UUID (0x01, 16 bytes, the
``data`` given to externalMedia); ``format=slin16`` audio comes as 0x12 with 640-byte
little-endian payloads (older texts say 0x11, which is 12 kHz now), ``format=slin`` as 0x10;
DTMF as 0x03 with one ASCII digit. When its channel is deleted Asterisk just closes the TCP
connection: the hangup message 0x00 was never seen from that side.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

_HEADER = struct.Struct("!BH")
MAX_LENGTH = 0xFFFF
"""The largest payload the 16-bit length field can describe."""

DEFAULT_MAX_PAYLOAD = 4096
"""What the decoder accepts by default: far above any message Asterisk sends (640 bytes of
slin16 per 20 ms), low enough that a stream out of step fails at once instead of buffering up
to 64 KiB of garbage first."""


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    SLIN = 0x10
    """8 kHz audio in the channel's format: slin only when externalMedia asked for slin."""
    SLIN16 = 0x12
    ERROR = 0xFF


@dataclass(frozen=True)
class Message:
    """One AudioSocket message. `kind` is a `Kind`, or the plain number of a kind this module
    does not know (decoded all the same, for the caller to skip)."""

    kind: Kind | int
    payload: bytes = b""

    @property
    def uuid(self) -> uuid.UUID:
        """The call's identifier carried by a UUID message."""
        if self.kind != Kind.UUID or len(self.payload) != 16:
            raise ValueError(f"not a 16-byte UUID message: {self!r}")
        return uuid.UUID(bytes=self.payload)

    @property
    def digit(self) -> str:
        """The key of a DTMF message: ``0``-``9``, ``*``, ``#`` or ``A``-``D``."""
        if self.kind != Kind.DTMF or len(self.payload) != 1:
            raise ValueError(f"not a one-byte DTMF message: {self!r}")
        return self.payload.decode("ascii")


def encode(kind: Kind | int, payload: bytes = b"") -> bytes:
    """One message on the wire."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"an AudioSocket kind is one byte, got {kind}")
    if len(payload) > MAX_LENGTH:
        raise ValueError(
            f"an AudioSocket payload holds at most {MAX_LENGTH} bytes, got {len(payload)}"
        )
    return _HEADER.pack(kind, len(payload)) + payload


class AudioSocketDecoder:
    """Splits a TCP byte stream into messages, whatever the reads cut it into."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._broken: ValueError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held back; non-zero at EOF means a truncated stream."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by `data` (none, one or several), in order.

        Raises `ValueError` for a length above `max_payload`: the stream is out of step or not
        AudioSocket, and nothing after that point can be trusted. The messages complete before
        that point are returned first: the error is raised by the next call, and every later one.
        """
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        messages: list[Message] = []
        offset = 0
        while len(self._buffer) - offset >= _HEADER.size:
            kind, length = _HEADER.unpack_from(self._buffer, offset)
            if length > self.max_payload:
                self._broken = ValueError(
                    f"AudioSocket message of kind 0x{kind:02x} claims {length} bytes, more than "
                    f"the {self.max_payload} accepted: the stream is out of step"
                )
                self._buffer.clear()
                if not messages:
                    raise self._broken
                return messages
            end = offset + _HEADER.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[offset + _HEADER.size : end])
            messages.append(Message(_kind(kind), payload))
            offset = end
        del self._buffer[:offset]
        return messages


def _kind(value: int) -> Kind | int:
    try:
        return Kind(value)
    except ValueError:
        return value
